import type { Plan, Prisma as PrismaNs, Service, Subscription } from "../../generated/prisma/client.js";
import type { SubscriptionView } from "./subscriptions.schema.js";

export type { SubscriptionView };

export type SubscriptionWithRefs = Subscription & { plan: Plan & { service: Service }; instances: Array<{ id: string }> };

/** Include this in Prisma queries whose rows go through toSubscriptionView. */
export const subscriptionViewInclude = {
  plan: { include: { service: true } },
  instances: { select: { id: true }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: 1 },
} satisfies PrismaNs.SubscriptionInclude;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toSubscriptionView(s: SubscriptionWithRefs): SubscriptionView {
  return {
    id: s.id,
    status: s.status,
    planId: s.planId,
    plan: {
      id: s.plan.id,
      slug: s.plan.slug,
      name: s.plan.name,
      cpuMilli: s.plan.cpuMilli,
      memoryMb: s.plan.memoryMb,
      storageGb: s.plan.storageGb,
      monthlyPriceCredits: s.plan.monthlyPriceCredits,
    },
    service: { id: s.plan.service.id, slug: s.plan.service.slug, name: s.plan.service.name },
    instanceId: s.instances[0]?.id ?? null,
    currentPeriodStart: s.currentPeriodStart.toISOString(),
    currentPeriodEnd: s.currentPeriodEnd.toISOString(),
    pastDueSince: iso(s.pastDueSince),
    cancelledAt: iso(s.cancelledAt),
    cancelReason: s.cancelReason,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

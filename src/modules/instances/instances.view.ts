/**
 * Maps an instance row to its public shape, `InstanceView` (the response schema's type in
 * instances.schema.ts: the mapper cannot return what the document does not describe).
 */
import type { Instance, Plan, Service } from "../../generated/prisma/client.js";
import type { InstanceView } from "./instances.schema.js";

export type { InstanceView };

export type InstanceWithRefs = Instance & { service: Service; plan: Plan };

/** Include this in Prisma queries whose rows go through toInstanceView. */
export const instanceViewInclude = { service: true, plan: true } as const;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toInstanceView(i: InstanceWithRefs): InstanceView {
  return {
    id: i.id,
    name: i.name,
    resourceName: i.k8sName,
    status: i.status,
    statusMessage: i.statusMessage,
    desiredState: i.desiredState,
    url: i.url,
    subdomain: i.subdomain,
    namespace: i.namespace,
    service: { id: i.service.id, slug: i.service.slug, name: i.service.name },
    plan: {
      id: i.plan.id,
      slug: i.plan.slug,
      name: i.plan.name,
      cpuMilli: i.plan.cpuMilli,
      memoryMb: i.plan.memoryMb,
      storageGb: i.plan.storageGb,
      monthlyPriceCredits: i.plan.monthlyPriceCredits,
    },
    resources: { cpuMilli: i.plan.cpuMilli, memoryMb: i.plan.memoryMb, storageGb: i.plan.storageGb },
    health: { status: i.healthStatus, reason: i.healthReason, checkedAt: iso(i.healthCheckedAt) },
    subscriptionId: i.subscriptionId,
    provisionedAt: iso(i.provisionedAt),
    terminatedAt: iso(i.terminatedAt),
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  };
}

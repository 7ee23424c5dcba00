/**
 * Maps an instance row to its public shape, `InstanceView` (the response schema's type in
 * instances.schema.ts: the mapper cannot return what the document does not describe).
 */
import type { Instance, Plan, Service } from "../../generated/prisma/client.js";
import type { InstanceView } from "./instances.schema.js";

export type { InstanceView };

export type InstanceWithRefs = Instance & { service: Service; plan: Plan };

/** What the view reads of an instance row and its service and plan (a Prisma row, or instances.read.ts's lean row). */
export type InstanceViewSource = Pick<
  Instance,
  | "id"
  | "name"
  | "k8sName"
  | "status"
  | "statusMessage"
  | "desiredState"
  | "url"
  | "subdomain"
  | "namespace"
  | "healthStatus"
  | "healthReason"
  | "healthCheckedAt"
  | "subscriptionId"
  | "provisionedAt"
  | "terminatedAt"
  | "createdAt"
  | "updatedAt"
> & { service: Pick<Service, "id" | "slug" | "name">; plan: PlanSummarySource };

type PlanSummarySource = Pick<Plan, "id" | "slug" | "name" | "cpuMilli" | "memoryMb" | "storageGb" | "monthlyPriceCredits">;

/** Include this in Prisma queries whose rows go through toInstanceView. */
export const instanceViewInclude = { service: true, plan: true } as const;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The service an instance (or a retained backup) belongs to, as the API shows it. */
export function serviceSummary(s: Pick<Service, "id" | "slug" | "name">): InstanceView["service"] {
  return { id: s.id, slug: s.slug, name: s.name };
}

/** The plan an instance (or a retained backup) was bought on, as the API shows it. */
export function planSummary(p: PlanSummarySource): InstanceView["plan"] {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    cpuMilli: p.cpuMilli,
    memoryMb: p.memoryMb,
    storageGb: p.storageGb,
    monthlyPriceCredits: p.monthlyPriceCredits,
  };
}

export function toInstanceView(i: InstanceViewSource): InstanceView {
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
    service: serviceSummary(i.service),
    plan: planSummary(i.plan),
    resources: { cpuMilli: i.plan.cpuMilli, memoryMb: i.plan.memoryMb, storageGb: i.plan.storageGb },
    health: { status: i.healthStatus, reason: i.healthReason, checkedAt: iso(i.healthCheckedAt) },
    subscriptionId: i.subscriptionId,
    provisionedAt: iso(i.provisionedAt),
    terminatedAt: iso(i.terminatedAt),
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  };
}

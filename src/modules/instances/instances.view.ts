/**
 * The public shape of an instance. Never carries credentials (those have their own owner-only
 * endpoint) nor the reconciler's bookkeeping (leases, attempts, generations).
 */
import type { DesiredState, HealthStatus, Instance, InstanceStatus, Plan, Service } from "../../generated/prisma/client.js";

export interface InstanceView {
  id: string;
  /** The display name the user chose. */
  name: string;
  /** The Kubernetes name derived from it (DNS-1035 label, unique among the namespace's live instances). */
  resourceName: string;
  status: InstanceStatus;
  statusMessage: string | null;
  desiredState: DesiredState;
  url: string | null;
  subdomain: string;
  namespace: string;
  service: { id: string; slug: string; name: string };
  plan: { id: string; slug: string; name: string; cpuMilli: number; memoryMb: number; storageGb: number; monthlyPriceCredits: number };
  /** What the workload is given: requests = limits from the plan, and the volume size. */
  resources: { cpuMilli: number; memoryMb: number; storageGb: number };
  health: { status: HealthStatus; reason: string | null; checkedAt: string | null };
  subscriptionId: string;
  provisionedAt: string | null;
  terminatedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

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

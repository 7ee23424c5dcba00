/**
 * The resource quota controller: a ResourceQuota's `status.used` sums the namespace's pods
 * (requests and limits), services and PVCs, for the keys its `spec.hard` names (the same usage
 * quota admission checks, admission.ts).
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { quotaUsed } from "../admission.js";
import { type ControllerContext, RESOURCEQUOTAS, rec } from "./shared.js";

export function reconcileQuota(ctx: ControllerContext, ns: string, name: string): void {
  const quota = ctx.cluster.tryGet(RESOURCEQUOTAS, ns, name);
  if (!quota) return;
  const hard = rec(rec(quota.spec).hard);
  ctx.writeStatus(RESOURCEQUOTAS, quota, { hard, used: quotaUsed(ctx.cluster.store, ns, hard) });
}

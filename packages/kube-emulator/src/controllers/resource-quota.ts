/**
 * The resource quota controller: a ResourceQuota's `status.used` sums the namespace's pods
 * (requests and limits) and PVCs, for the keys its `spec.hard` names.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { parseQuantity } from "../quantity.js";
import { PODS, PVCS, resourceKey } from "../resources.js";
import { arr, type ControllerContext, RESOURCEQUOTAS, rec } from "./shared.js";

export function reconcileQuota(ctx: ControllerContext, ns: string, name: string): void {
  const quota = ctx.cluster.tryGet(RESOURCEQUOTAS, ns, name);
  if (!quota) return;
  const hard = rec(rec(quota.spec).hard);
  const sums: Record<string, number> = {};
  const add = (k: string, v: unknown) => {
    const q = parseQuantity(v);
    if (q !== undefined) sums[k] = (sums[k] ?? 0) + q;
  };
  let pods = 0;
  for (const pod of ctx.cluster.store.iterate(resourceKey(PODS), ns)) {
    const phase = rec(pod.status).phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    pods++;
    for (const c of arr(rec(pod.spec).containers)) {
      const res = rec(c.resources);
      add("requests.cpu", rec(res.requests).cpu);
      add("requests.memory", rec(res.requests).memory);
      add("limits.cpu", rec(res.limits).cpu);
      add("limits.memory", rec(res.limits).memory);
    }
  }
  let pvcs = 0;
  for (const pvc of ctx.cluster.store.iterate(resourceKey(PVCS), ns)) {
    pvcs++;
    add("requests.storage", rec(rec(rec(pvc.spec).resources).requests).storage);
  }
  const used: Record<string, string> = {};
  for (const key of Object.keys(hard)) {
    if (key === "pods" || key === "count/pods") used[key] = String(pods);
    else if (key === "persistentvolumeclaims") used[key] = String(pvcs);
    else if (key.endsWith("cpu")) used[key] = formatCpu(sums[key.includes(".") ? key : `requests.${key}`] ?? 0);
    else if (key.endsWith("memory") || key.endsWith("storage"))
      used[key] = formatBytes(sums[key.includes(".") ? key : `requests.${key}`] ?? 0);
    else used[key] = "0";
  }
  ctx.writeStatus(RESOURCEQUOTAS, quota, { hard, used });
}

function formatCpu(cores: number): string {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

function formatBytes(bytes: number): string {
  if (bytes === 0) return "0";
  for (const [suffix, f] of [
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ] as const)
    if (bytes % f === 0) return `${bytes / f}${suffix}`;
  return String(bytes);
}

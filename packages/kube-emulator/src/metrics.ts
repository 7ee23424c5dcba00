/**
 * metrics.k8s.io PodMetrics, computed from the pods in the store: usage is a deterministic
 * fraction of each container's requests (else limits, else a small default), stable per pod, so
 * health checks and their tests see repeatable numbers. Tests may pin usage per pod.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { createHash } from "node:crypto";
import { parseQuantity } from "./quantity.js";
import { PODS, resourceKey } from "./resources.js";
import type { Store } from "./store.js";
import { isRecord, type KubeObject, k8sTime } from "./types.js";

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);

export interface UsageOverride {
  cpuMilli: number;
  memoryMb: number;
}

function fraction(key: string, lo: number, hi: number): number {
  const d = createHash("sha1").update(key).digest();
  return lo + (d.readUInt16BE(0) / 65535) * (hi - lo);
}

function resource(c: Obj, name: "cpu" | "memory", fallback: number): number {
  const res = rec(c.resources);
  return parseQuantity(rec(res.requests)[name]) ?? parseQuantity(rec(res.limits)[name]) ?? fallback;
}

export function podMetrics(pod: KubeObject, now: number, override?: UsageOverride): KubeObject | undefined {
  if (rec(pod.status).phase !== "Running") return undefined;
  const running = new Set(
    arr(rec(pod.status).containerStatuses)
      .filter((c) => isRecord(rec(c.state).running))
      .map((c) => c.name),
  );
  const containers = arr(rec(pod.spec).containers).filter((c) => running.has(c.name));
  if (containers.length === 0) return undefined;
  return {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "PodMetrics",
    metadata: {
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      uid: "",
      resourceVersion: "",
      creationTimestamp: k8sTime(now),
      labels: pod.metadata.labels,
    },
    timestamp: k8sTime(now - 15_000),
    window: "30s",
    containers: containers.map((c, i) => {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}/${String(c.name)}`;
      const share = i === 0 ? 1 : 0; // an override applies to the first container
      const cpuCores = override && share ? override.cpuMilli / 1000 : resource(c, "cpu", 0.1) * fraction(`${key}/cpu`, 0.05, 0.6);
      const memBytes =
        override && share ? override.memoryMb * 2 ** 20 : resource(c, "memory", 64 * 2 ** 20) * fraction(`${key}/mem`, 0.3, 0.8);
      return {
        name: c.name,
        usage: {
          cpu: `${Math.round(cpuCores * 1e9)}n`,
          memory: `${Math.round(memBytes / 1024)}Ki`,
        },
      };
    }),
  };
}

export function listPodMetrics(
  store: Store,
  namespace: string | undefined,
  now: number,
  overrides: Map<string, UsageOverride>,
): KubeObject[] {
  const out: KubeObject[] = [];
  for (const pod of store.iterate(resourceKey(PODS), namespace)) {
    const m = podMetrics(pod, now, overrides.get(`${pod.metadata.namespace}/${pod.metadata.name}`));
    if (m) out.push(m);
  }
  return out;
}

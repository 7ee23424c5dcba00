/**
 * What every simulated controller shares: the context the controller manager gives it, and small
 * helpers for reading untyped objects, owner references and status fields.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import type { Cluster } from "../cluster.js";
import { ApiError } from "../errors.js";
import { mustFindByKind, PODS as PODS_INFO, type ResourceInfo, resourceKey } from "../resources.js";
import type { Scheduler } from "../scheduler.js";
import { isRecord, type KubeObject, type OwnerReference } from "../types.js";

export const CRASH_ANNOTATION = "emulator.minispod.io/crash";
export const RESOURCEQUOTAS = mustFindByKind("v1", "ResourceQuota");
export const SERVICES = mustFindByKind("v1", "Service");
export const INGRESSES = mustFindByKind("networking.k8s.io/v1", "Ingress");
export const CERTIFICATES = mustFindByKind("cert-manager.io/v1", "Certificate");

export interface ControllerOptions {
  podReadyDelayMs: number;
  /** Time a container takes to stop after SIGTERM (bounded by the pod's grace period). */
  podStopDelayMs: number;
  /** Interval between simulated container restarts in CrashLoopBackOff (and image pull retries). */
  crashLoopIntervalMs: number;
  badImages: Set<string>;
  /** Namespace of the ingress controller that carries ACME HTTP-01 traffic to solver pods. Default ingress-nginx. */
  ingressControllerNamespace?: string;
  /** Time from a VolumeSnapshot's content creation to readyToUse (volume-snapshot.ts). Default 0. */
  snapshotReadyDelayMs?: number;
  logger: { warn(obj: unknown, msg?: string): void };
}

/** What a controller may use: the cluster, the shared timers, and the manager's queue and status writes. */
export interface ControllerContext {
  readonly cluster: Cluster;
  readonly opts: ControllerOptions;
  readonly scheduler: Scheduler;
  /** Workloads (`<namespace>/<name>`) whose containers crash, set from tests. */
  readonly crashingWorkloads: Set<string>;
  enqueue(kind: string, namespace: string, name: string): void;
  /** The Deployment or StatefulSet that (transitively) controls a pod. */
  workloadOf(pod: KubeObject): { kind: string; name: string } | undefined;
  /** Writes `status` unless it is unchanged; returns the stored object. */
  writeStatus(info: ResourceInfo, obj: KubeObject, status: Obj): KubeObject;
  /**
   * Remembers that a workload could not create an object (admission refused it): it is reconciled
   * again when something that could change the answer happens in its namespace (a pod or claim
   * goes, a quota, limit range or the namespace's labels change), as the real controllers retry.
   */
  noteFailedCreate(kind: string, namespace: string, name: string): void;
}

/**
 * Creates an object through the API server, admission included, as a controller does; a refusal
 * (quota, PodSecurity, LimitRange, terminating namespace) is returned, not thrown.
 */
export function createThroughApi(
  ctx: ControllerContext,
  info: ResourceInfo,
  obj: KubeObject,
  manager = "kube-controller-manager",
): { object: KubeObject; error?: undefined } | { object?: undefined; error: ApiError } {
  try {
    return { object: ctx.cluster.create(info, obj.metadata.namespace, obj, { fieldManager: manager }) };
  } catch (err) {
    if (err instanceof ApiError) return { error: err };
    throw err;
  }
}

export type Obj = Record<string, unknown>;
export const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
export const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);

export function isPodReady(pod: KubeObject): boolean {
  return arr(rec(pod.status).conditions).some((c) => c.type === "Ready" && c.status === "True");
}

export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller);
}

export function ownerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** "25%" of n (rounded down, as maxUnavailable is), or an absolute number. */
export function intOrPercent(v: unknown, n: number, roundUp: boolean): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.endsWith("%")) {
    const x = (Number(v.slice(0, -1)) / 100) * n;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return 0;
}

/** Drops zero/empty status fields, as the real JSON encoding (omitempty) does. */
export function omitZero(status: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(status)) if (v !== 0 && v !== undefined && v !== "") out[k] = v;
  return out;
}

/** A controller deletes a pod as through the API: gracefully (the kubelet removes it when stopped). */
export function deletePodGracefully(ctx: ControllerContext, pod: KubeObject): void {
  const live = ctx.cluster.tryGet(PODS_INFO, pod.metadata.namespace, pod.metadata.name);
  if (!live || live.metadata.uid !== pod.metadata.uid) return;
  ctx.cluster.delete(PODS_INFO, pod.metadata.namespace, pod.metadata.name, {});
}

/** Pods controlled by one of `uids` that are still terminating (Recreate waits for them). */
export function terminatingPodsOf(ctx: ControllerContext, ns: string, uids: Set<string>): KubeObject[] {
  return [...ctx.cluster.store.iterate(resourceKey(PODS_INFO), ns)].filter((p) => {
    const ref = p.metadata.ownerReferences?.find((r) => r.controller);
    return !!p.metadata.deletionTimestamp && !!ref && uids.has(ref.uid);
  });
}

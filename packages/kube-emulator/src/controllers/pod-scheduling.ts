/**
 * The scheduler's volume-binding check (kube-scheduler's VolumeBinding PreFilter) before a pod is
 * assigned to the node: a pod that mounts a PersistentVolumeClaim that is missing, being deleted, or
 * not yet Bound (an Immediate-binding claim, e.g. one still being provisioned from a snapshot) is not
 * scheduled. It stays Pending with no node, a `PodScheduled=False` condition (reason `Unschedulable`)
 * and a `FailedScheduling` Warning event worded as Kubernetes 1.33 words it, and is tried again
 * when a claim of its namespace changes (the scheduler's PVC informer) — then it starts as usual.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { PODS, PVCS, resourceKey } from "../resources.js";
import { type KubeObject, k8sTime } from "../types.js";
import { recordEvent } from "./events.js";
import { qosClass, startPod } from "./pods.js";
import { arr, type ControllerContext, type Obj, rec } from "./shared.js";

/** The claims a pod mounts. */
export function claimsOf(pod: KubeObject): string[] {
  return arr(rec(pod.spec).volumes)
    .map((v) => rec(v.persistentVolumeClaim).claimName)
    .filter((c): c is string => typeof c === "string" && c !== "");
}

/** Why the volume binder refuses the pod (the PreFilter's message), or undefined when its claims are usable. */
function volumeBindingProblem(ctx: ControllerContext, pod: KubeObject): string | undefined {
  const ns = pod.metadata.namespace ?? "";
  let unbound = false;
  for (const claim of claimsOf(pod)) {
    const pvc = ctx.cluster.tryGet(PVCS, ns, claim);
    if (!pvc) return `persistentvolumeclaim "${claim}" not found`;
    if (pvc.metadata.deletionTimestamp) return `persistentvolumeclaim "${claim}" is being deleted`;
    if (rec(pvc.status).phase !== "Bound") unbound = true;
  }
  return unbound ? "pod has unbound immediate PersistentVolumeClaims" : undefined;
}

/** Whether the pod still waits for the scheduler (no node yet, not being deleted). */
export function unscheduled(pod: KubeObject): boolean {
  return !pod.metadata.deletionTimestamp && !rec(pod.spec).nodeName;
}

/** Schedules the pod (startPod: the node, then the kubelet), or leaves it Pending and Unschedulable. */
export function schedulePod(ctx: ControllerContext, pod: KubeObject): void {
  const problem = volumeBindingProblem(ctx, pod);
  if (!problem) {
    startPod(ctx, pod);
    return;
  }
  const message = `0/1 nodes are available: ${problem}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`;
  const status = rec(pod.status);
  const previous = arr(status.conditions).find((c) => c.type === "PodScheduled");
  if (!(previous?.status === "False" && previous.message === message)) {
    const condition: Obj = {
      type: "PodScheduled",
      status: "False",
      lastProbeTime: null,
      lastTransitionTime: previous?.status === "False" ? previous.lastTransitionTime : k8sTime(ctx.cluster.now()),
      reason: "Unschedulable",
      message,
    };
    ctx.writeStatus(PODS, pod, {
      phase: "Pending",
      conditions: [condition],
      qosClass: status.qosClass ?? qosClass(arr(rec(pod.spec).containers)),
    });
  }
  recordEvent(ctx.cluster, pod, "Warning", "FailedScheduling", message, "default-scheduler");
}

/** The unscheduled pods of `ns` that mount `claim` (to try again when it changes). */
export function podsWaitingForClaim(ctx: ControllerContext, ns: string, claim: string): string[] {
  const out: string[] = [];
  for (const pod of ctx.cluster.store.iterate(resourceKey(PODS), ns)) {
    if (unscheduled(pod) && claimsOf(pod).includes(claim)) out.push(pod.metadata.name);
  }
  return out;
}

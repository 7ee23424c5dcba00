/**
 * The kubelet's side of graceful pod deletion: when a pod gets its `deletionTimestamp`, the kubelet
 * stops its containers ("Killing" events), which the simulated processes do after
 * `podStopDelayMs` (a process that exits on SIGTERM) — at the latest when the grace period ends,
 * when they would be killed — and then removes the pod. Emulator time (the cluster clock and
 * scheduler), so `fastForward()` skips it. TEST/DEMO FIXTURE — see ../index.ts.
 */
import { PODS } from "../resources.js";
import type { KubeObject } from "../types.js";
import { killingEvents } from "./kubelet-events.js";
import { podTaskKey } from "./pods.js";
import type { ControllerContext } from "./shared.js";

export function terminatePod(ctx: ControllerContext, pod: KubeObject, first: boolean): void {
  const ns = pod.metadata.namespace ?? "";
  const { name, uid } = pod.metadata;
  ctx.scheduler.cancel(podTaskKey(pod));
  if (first) killingEvents(ctx, pod);
  const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  const at = ctx.cluster.now() + Math.min(graceMs, ctx.opts.podStopDelayMs);
  ctx.scheduler.schedule(`kill|${uid}`, at, () => {
    const live = ctx.cluster.tryGet(PODS, ns, name);
    if (live && live.metadata.uid === uid && !live.metadata.finalizers?.length) ctx.cluster.remove(PODS, ns, name);
  });
}

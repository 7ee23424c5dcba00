/**
 * The kubelet (and the scheduler's node assignment) for simulated pods: Pending/ContainerCreating
 * at once, then Running and Ready after `podReadyDelayMs`; bad images stay Pending in
 * ImagePullBackOff; crashing workloads loop in CrashLoopBackOff with a growing restartCount.
 * Also builds pods from a workload's template (for the Deployment and StatefulSet controllers).
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { randomUUID } from "node:crypto";
import { containerIdOf, imageIdOf, qualifiedImage } from "../images.js";
import { parseQuantity } from "../quantity.js";
import { PODS, resourceKey } from "../resources.js";
import { isRecord, type KubeObject, k8sTime, safeHash } from "../types.js";
import { crashEvents, pullFailedEvents, scheduledEvent, startedEvents } from "./kubelet-events.js";
import { arr, CRASH_ANNOTATION, type ControllerContext, controllerOf, type Obj, ownerRef, rec } from "./shared.js";

/** A container that has not started: not ready, no restarts, waiting for `waiting.reason`. */
function waitingContainer(c: Obj, waiting: Obj): Obj {
  return { name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false, state: { waiting } };
}

function imageIsBad(ctx: ControllerContext, image: string): boolean {
  return ctx.opts.badImages.has(image) || image.includes(":bad");
}

function podCrashes(ctx: ControllerContext, pod: KubeObject): boolean {
  const ns = pod.metadata.namespace ?? "";
  const owner = ctx.workloadOf(pod);
  if (owner && ctx.crashingWorkloads.has(`${ns}/${owner.name}`)) return true;
  if (ctx.crashingWorkloads.has(`${ns}/${pod.metadata.name}`)) return true;
  if (pod.metadata.annotations?.[CRASH_ANNOTATION] === "true") return true;
  return arr(rec(pod.spec).containers).some((c) => typeof c.image === "string" && c.image.includes(":crash"));
}

/** The scheduler key of a pod's next kubelet step (cancelled when the pod is deleted). */
export function podTaskKey(pod: { metadata: { namespace?: string; name: string; uid: string } }): string {
  return `pod|${pod.metadata.namespace}|${pod.metadata.name}|${pod.metadata.uid}`;
}

/** Scheduler + kubelet: Pending/ContainerCreating now, the real state after the delay. */
export function startPod(ctx: ControllerContext, pod: KubeObject): void {
  const now = ctx.cluster.now();
  const containers = arr(rec(pod.spec).containers);
  const status: Obj = {
    phase: "Pending",
    conditions: [
      {
        type: "PodReadyToStartContainers",
        status: "False",
        lastProbeTime: null,
        lastTransitionTime: k8sTime(now),
      },
      {
        type: "Initialized",
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: k8sTime(now),
      },
      {
        type: "Ready",
        status: "False",
        lastProbeTime: null,
        lastTransitionTime: k8sTime(now),
        reason: "ContainersNotReady",
        message: `containers with unready status: [${containers.map((c) => c.name).join(" ")}]`,
      },
      {
        type: "ContainersReady",
        status: "False",
        lastProbeTime: null,
        lastTransitionTime: k8sTime(now),
        reason: "ContainersNotReady",
        message: `containers with unready status: [${containers.map((c) => c.name).join(" ")}]`,
      },
      {
        type: "PodScheduled",
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: k8sTime(now),
      },
    ],
    hostIP: "10.0.0.10",
    hostIPs: [{ ip: "10.0.0.10" }],
    startTime: k8sTime(now),
    qosClass: qosClass(containers),
    containerStatuses: containers.map((c) => waitingContainer(c, { reason: "ContainerCreating" })),
  };
  const spec = {
    ...rec(pod.spec),
    nodeName: rec(pod.spec).nodeName ?? "emulator-node",
  };
  const written = ctx.cluster.put(PODS, {
    ...pod,
    metadata: { ...pod.metadata },
    spec,
    status,
  });
  scheduledEvent(ctx, written, String(spec.nodeName));
  const advance = () => advancePod(ctx, pod.metadata.namespace ?? "", pod.metadata.name, written.metadata.uid);
  if (ctx.opts.podReadyDelayMs <= 0) advance();
  else ctx.scheduler.schedule(podTaskKey(written), now + ctx.opts.podReadyDelayMs, advance);
}

/** The kubelet's next step for a pod: running and ready, image pull back-off, or a crash. */
export function advancePod(ctx: ControllerContext, ns: string, name: string, uid: string): void {
  const pod = ctx.cluster.tryGet(PODS, ns, name);
  if (!pod || pod.metadata.uid !== uid || pod.metadata.deletionTimestamp) return;
  const now = ctx.cluster.now();
  const ts = k8sTime(now);
  const status = rec(pod.status);
  const containers = arr(rec(pod.spec).containers);
  const previous = new Map(arr(status.containerStatuses).map((c) => [c.name, c]));
  const badImage = containers.find((c) => imageIsBad(ctx, String(c.image)));
  const crash = !badImage && podCrashes(ctx, pod);
  const retry = () => advancePod(ctx, ns, name, uid);
  const setCond = (conds: Obj[], type: string, ok: boolean, reason?: string, message?: string): Obj[] =>
    conds.map((c) => {
      if (c.type !== type) return c;
      const changed = c.status !== (ok ? "True" : "False");
      const out: Obj = {
        type,
        status: ok ? "True" : "False",
        lastProbeTime: null,
        lastTransitionTime: changed ? ts : c.lastTransitionTime,
      };
      if (!ok && reason) {
        out.reason = reason;
        out.message = message;
      }
      return out;
    });
  let conditions = setCond(arr(status.conditions), "PodReadyToStartContainers", !badImage);
  const unready = `containers with unready status: [${containers.map((c) => c.name).join(" ")}]`;
  const notReady = (conds: Obj[]) =>
    setCond(setCond(conds, "Ready", false, "ContainersNotReady", unready), "ContainersReady", false, "ContainersNotReady", unready);
  let next: Obj;
  if (badImage) {
    next = {
      ...status,
      phase: "Pending",
      conditions: notReady(conditions),
      containerStatuses: containers.map((c) =>
        waitingContainer(
          c,
          imageIsBad(ctx, String(c.image))
            ? { reason: "ImagePullBackOff", message: `Back-off pulling image "${String(c.image)}"` }
            : { reason: "PodInitializing" },
        ),
      ),
    };
    pullFailedEvents(ctx, pod, String(badImage.image));
    // The kubelet keeps retrying the pull; if the image is fixed (markImageGood) the pod starts.
    ctx.scheduler.schedule(podTaskKey(pod), now + ctx.opts.crashLoopIntervalMs, retry);
  } else if (crash) {
    if (!previous.get(String(containers[0]?.name))?.restartCount) startedEvents(ctx, pod, containers);
    crashEvents(ctx, pod, containers);
    next = {
      ...status,
      phase: "Running",
      podIP: status.podIP ?? podIp(pod),
      conditions: notReady(conditions),
      containerStatuses: containers.map((c) => {
        const prev = previous.get(c.name);
        const restarts = (typeof prev?.restartCount === "number" ? prev.restartCount : 0) + 1;
        return {
          name: c.name,
          image: qualifiedImage(String(c.image)),
          imageID: imageIdOf(String(c.image)),
          containerID: containerIdOf(`${uid}/${c.name}/${restarts}`),
          ready: false,
          restartCount: restarts,
          started: false,
          state: {
            waiting: {
              reason: "CrashLoopBackOff",
              message: `back-off ${Math.min(10 * 2 ** (restarts - 1), 300)}s restarting failed container=${String(c.name)} pod=${name}_${ns}(${uid})`,
            },
          },
          lastState: {
            terminated: {
              exitCode: 1,
              reason: "Error",
              startedAt: ts,
              finishedAt: ts,
              containerID: containerIdOf(`${uid}/${c.name}/${restarts - 1}`),
            },
          },
        };
      }),
    };
    ctx.scheduler.schedule(podTaskKey(pod), now + ctx.opts.crashLoopIntervalMs, retry);
  } else {
    if (!arr(status.containerStatuses).some((c) => isRecord(rec(c.state).running))) startedEvents(ctx, pod, containers);
    conditions = setCond(setCond(conditions, "Ready", true), "ContainersReady", true);
    next = {
      ...status,
      phase: "Running",
      podIP: status.podIP ?? podIp(pod),
      conditions,
      containerStatuses: containers.map((c) => {
        const prev = previous.get(c.name);
        const out: Obj = {
          name: c.name,
          image: qualifiedImage(String(c.image)),
          imageID: imageIdOf(String(c.image)),
          containerID: containerIdOf(`${uid}/${c.name}`),
          ready: true,
          restartCount: typeof prev?.restartCount === "number" ? prev.restartCount : 0,
          started: true,
          state: { running: { startedAt: ts } },
        };
        if (prev?.lastState) out.lastState = prev.lastState;
        return out;
      }),
    };
  }
  if (isRecord(next) && next.podIP) next.podIPs = [{ ip: next.podIP }];
  ctx.writeStatus(PODS, pod, next);
}

function podIp(pod: KubeObject): string {
  const h = Number.parseInt(
    safeHash(pod.metadata.uid, 4)
      .split("")
      .map((c) => c.charCodeAt(0) % 10)
      .join(""),
    10,
  );
  return `10.244.${(h >> 8) % 256}.${(h % 254) + 1}`;
}

/** Re-evaluates crash mode for a workload's pods right away (setCrash from tests). */
export function kickPods(ctx: ControllerContext, ns: string, workloadName: string): void {
  for (const pod of [...ctx.cluster.store.iterate(resourceKey(PODS), ns)]) {
    const owner = ctx.workloadOf(pod);
    if (owner?.name !== workloadName && pod.metadata.name !== workloadName) continue;
    if (rec(pod.status).phase) advancePod(ctx, ns, pod.metadata.name, pod.metadata.uid);
  }
}

/** Re-checks pods stuck on image pulls (after markImageGood). */
export function retryImagePulls(ctx: ControllerContext): void {
  for (const pod of [...ctx.cluster.store.iterate(resourceKey(PODS))]) {
    const waiting = arr(rec(pod.status).containerStatuses).some((c) => rec(rec(c.state).waiting).reason === "ImagePullBackOff");
    if (waiting) advancePod(ctx, pod.metadata.namespace ?? "", pod.metadata.name, pod.metadata.uid);
  }
}

export function newPod(
  ctx: ControllerContext,
  owner: KubeObject,
  name: string,
  template: Obj,
  extraLabels: Record<string, string>,
  ownerObj: KubeObject,
): KubeObject {
  const tmeta = rec(template.metadata);
  const labels = {
    ...(rec(tmeta.labels) as Record<string, string>),
    ...extraLabels,
  };
  const metadata: KubeObject["metadata"] = {
    name,
    namespace: owner.metadata.namespace,
    uid: randomUUID(),
    resourceVersion: "",
    creationTimestamp: k8sTime(ctx.cluster.now()),
    generation: 1,
    labels,
    ownerReferences: [ownerRef(ownerObj)],
  };
  if (isRecord(tmeta.annotations))
    metadata.annotations = {
      ...(tmeta.annotations as Record<string, string>),
    };
  const spec = { ...rec(template.spec) };
  spec.serviceAccountName ??= "default";
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.enableServiceLinks ??= true;
  spec.preemptionPolicy ??= "PreemptLowerPriority";
  spec.priority ??= 0;
  return { apiVersion: "v1", kind: "Pod", metadata, spec };
}

/** The live (not deleting) pods in `ns` whose controller is one of `uids`. */
export function podsOwnedBy(ctx: ControllerContext, ns: string, uids: Set<string>): KubeObject[] {
  const out: KubeObject[] = [];
  for (const pod of ctx.cluster.store.iterate(resourceKey(PODS), ns)) {
    const ref = controllerOf(pod);
    if (ref && uids.has(ref.uid) && !pod.metadata.deletionTimestamp) out.push(pod);
  }
  return out;
}

export function qosClass(containers: Obj[]): string {
  let guaranteed = containers.length > 0;
  let any = false;
  for (const c of containers) {
    const res = rec(c.resources);
    const req = rec(res.requests);
    const lim = rec(res.limits);
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const k of ["cpu", "memory"]) {
      if (lim[k] === undefined || (req[k] !== undefined && parseQuantity(req[k]) !== parseQuantity(lim[k]))) guaranteed = false;
    }
  }
  return guaranteed ? "Guaranteed" : any ? "Burstable" : "BestEffort";
}

/**
 * The Deployment controller (and the ReplicaSet controller under it): Deployment -> ReplicaSet
 * (named by pod-template-hash) -> Pods. RollingUpdate keeps old pods until new ones are ready,
 * Recreate replaces at once; ReplicaSet and Deployment status and conditions as kubectl reads them,
 * including the progress deadline.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { randomUUID } from "node:crypto";
import { DEPLOYMENTS, PODS, REPLICASETS, resourceKey } from "../resources.js";
import { derivedOnce, k8sTime, safeHash, stableStringify } from "../types.js";
import { cleanupOldReplicaSets, copiedAnnotations, REVISION, revisionOf, syncRevision } from "./deployment-revisions.js";
import { recordEvent } from "./events.js";
import { newPod, podsOwnedBy } from "./pods.js";
import {
  arr,
  type ControllerContext,
  controllerOf,
  createThroughApi,
  deletePodGracefully,
  intOrPercent,
  isPodReady,
  type Obj,
  omitZero,
  ownerRef,
  rec,
  terminatingPodsOf,
} from "./shared.js";

/** A pod template as the controller compares it: no pod-template-hash label, no nulls (Go zero values). */
function templateKey(template: Obj): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== "object") return v;
    return Object.fromEntries(
      Object.entries(v as Obj)
        .filter(([, x]) => x !== null && x !== undefined)
        .map(([k, x]) => [k, strip(x)]),
    );
  };
  const meta = rec(template.metadata);
  const { "pod-template-hash": _, ...labels } = rec(meta.labels);
  return strip({ ...template, metadata: { ...meta, labels: Object.keys(labels).length ? labels : undefined } });
}

/**
 * `templateKey` as a string, once per template: templates are read from stored objects, which the
 * store never mutates (store.ts), and every pod's status change reconciles its Deployment again.
 */
const templateKeys = new WeakMap<Obj, string>();
function templateKeyOf(template: Obj): string {
  return derivedOnce(templateKeys, template, (t) => stableStringify(templateKey(t)));
}

export function reconcileDeployment(ctx: ControllerContext, ns: string, name: string): void {
  const found = ctx.cluster.tryGet(DEPLOYMENTS, ns, name);
  if (!found || found.metadata.deletionTimestamp) return;
  let d = found;
  const spec = rec(d.spec);
  const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
  const template = rec(spec.template);
  const wanted = templateKeyOf(template);
  const hash = safeHash(wanted, 10);
  const rsName = `${name}-${hash}`;
  const strategy = rec(spec.strategy);
  const now = ctx.cluster.now();

  // ReplicaSets of this deployment; the current one is created on demand.
  const rsets = [...ctx.cluster.store.iterate(resourceKey(REPLICASETS), ns)].filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
  // The real controller finds the new ReplicaSet by template equality, ignoring pod-template-hash
  // (so a rollback re-activates the old ReplicaSet instead of creating another).
  let current = rsets.find((rs) => rs.metadata.name === rsName) ?? rsets.find((rs) => templateKeyOf(rec(rec(rs.spec).template)) === wanted);
  const revision = 1 + Math.max(0, ...rsets.map(revisionOf));
  let createdRs = false;
  if (!current) {
    const selector = rec(spec.selector);
    current = ctx.cluster.put(REPLICASETS, {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: rsName,
        namespace: ns,
        uid: randomUUID(),
        resourceVersion: "",
        creationTimestamp: k8sTime(now),
        generation: 1,
        labels: {
          ...(rec(rec(template.metadata).labels) as Record<string, string>),
          "pod-template-hash": hash,
        },
        annotations: {
          ...copiedAnnotations(d),
          "deployment.kubernetes.io/desired-replicas": String(replicas),
          "deployment.kubernetes.io/max-replicas": String(replicas + intOrPercent(rec(strategy.rollingUpdate).maxSurge, replicas, true)),
          [REVISION]: String(revision),
        },
        ownerReferences: [ownerRef(d)],
      },
      spec: {
        replicas,
        selector: {
          ...selector,
          matchLabels: {
            ...(rec(selector.matchLabels) as Record<string, string>),
            "pod-template-hash": hash,
          },
        },
        template: {
          ...template,
          metadata: {
            ...rec(template.metadata),
            labels: {
              ...(rec(rec(template.metadata).labels) as Record<string, string>),
              "pod-template-hash": hash,
            },
          },
        },
      },
      status: { replicas: 0 },
    });
    createdRs = true;
    if (replicas > 0)
      recordEvent(
        ctx.cluster,
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled up replica set ${rsName} from 0 to ${replicas}`,
        "deployment-controller",
      );
  }
  ({ rs: current, deployment: d } = syncRevision(ctx, d, rsets, current));
  const rsUids = new Set(rsets.map((rs) => rs.metadata.uid));
  rsUids.add(current.metadata.uid);
  const pods = podsOwnedBy(ctx, ns, rsUids);
  const newPods = pods.filter((p) => controllerOf(p)?.uid === current.metadata.uid);
  const oldPods = pods.filter((p) => controllerOf(p)?.uid !== current.metadata.uid);

  // Recreate: old pods go first, and new ones are created only once the old ones are gone.
  let recreating = false;
  if (strategy.type === "Recreate") {
    for (const p of oldPods) deletePodGracefully(ctx, p);
    oldPods.length = 0;
    const oldUids = new Set([...rsUids].filter((u) => u !== current.metadata.uid));
    recreating = terminatingPodsOf(ctx, ns, oldUids).length > 0;
  }
  // Scale the new ReplicaSet to the desired count (newest pods go first on scale-down). Pods are
  // created through the API: one admission refuses (quota, PodSecurity...) is a FailedCreate, the
  // ReplicaSet gets a ReplicaFailure condition and tries again later, as the real controller does.
  let failure: string | undefined;
  if (newPods.length < replicas && !recreating) {
    for (let i = newPods.length; i < replicas; i++) {
      const pod = newPod(
        ctx,
        d,
        `${rsName}-${ctx.cluster.rng.suffix(5)}`,
        rec(rec(current.spec).template),
        { "pod-template-hash": hash },
        current,
      );
      const created = createThroughApi(ctx, PODS, pod);
      if (created.error) {
        failure = created.error.message;
        recordEvent(ctx.cluster, current, "Warning", "FailedCreate", `Error creating: ${failure}`, "replicaset-controller");
        ctx.noteFailedCreate("Deployment", ns, name);
        break;
      }
      recordEvent(
        ctx.cluster,
        current,
        "Normal",
        "SuccessfulCreate",
        `Created pod: ${created.object.metadata.name}`,
        "replicaset-controller",
      );
      newPods.push(created.object);
    }
  } else if (newPods.length > replicas) {
    newPods.sort((a, b) =>
      isPodReady(a) === isPodReady(b) ? b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp) : isPodReady(a) ? 1 : -1,
    );
    for (const p of newPods.splice(0, newPods.length - replicas)) {
      deletePodGracefully(ctx, p);
      recordEvent(ctx.cluster, current, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`, "replicaset-controller");
    }
  }
  const replicaFailure = (prev: Obj[]): Obj[] => {
    if (!failure) return [];
    // An ongoing failure keeps its condition (each retry would otherwise name another random pod
    // and rewrite status, which re-triggers this controller without the real one's back-off).
    const before = prev.find((c) => c.type === "ReplicaFailure");
    if (before?.status === "True" && before.reason === "FailedCreate") return [before];
    return [{ type: "ReplicaFailure", status: "True", lastTransitionTime: k8sTime(now), reason: "FailedCreate", message: failure }];
  };
  // RollingUpdate: old pods go as new ones become ready, keeping availability.
  const readyNew = newPods.filter(isPodReady).length;
  const keepOld = Math.max(0, Math.min(oldPods.length, replicas - readyNew));
  oldPods.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
  for (const p of oldPods.splice(0, oldPods.length - keepOld)) deletePodGracefully(ctx, p);

  // ReplicaSet statuses.
  for (const rs of [...rsets, ...(createdRs ? [current] : [])]) {
    const live = ctx.cluster.tryGet(REPLICASETS, ns, rs.metadata.name);
    if (!live) continue;
    const mine = (live.metadata.uid === current.metadata.uid ? newPods : oldPods).filter((p) => controllerOf(p)?.uid === live.metadata.uid);
    const want = live.metadata.uid === current.metadata.uid ? replicas : mine.length;
    let rsObj = live;
    const had = Number(rec(live.spec).replicas ?? 0);
    if (had !== want) {
      const how = want > had ? "up" : "down";
      recordEvent(
        ctx.cluster,
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled ${how} replica set ${live.metadata.name} from ${had} to ${want}`,
        "deployment-controller",
      );
      rsObj = ctx.cluster.put(REPLICASETS, {
        ...live,
        metadata: {
          ...live.metadata,
          generation: (live.metadata.generation ?? 1) + 1,
        },
        spec: { ...rec(live.spec), replicas: want },
      });
    }
    const ready = mine.filter(isPodReady).length;
    const conditions = live.metadata.uid === current.metadata.uid ? replicaFailure(arr(rec(live.status).conditions)) : [];
    ctx.writeStatus(REPLICASETS, rsObj, {
      replicas: mine.length,
      ...omitZero({
        fullyLabeledReplicas: mine.length,
        readyReplicas: ready,
        availableReplicas: ready,
      }),
      observedGeneration: rsObj.metadata.generation,
      ...(conditions.length ? { conditions } : {}),
    });
  }

  cleanupOldReplicaSets(ctx, d, rsets, current.metadata.uid);

  // Deployment status, as the deployment controller computes it.
  const all = [...newPods, ...oldPods];
  const available = all.filter(isPodReady).length;
  const updated = newPods.length;
  const maxUnavailable = strategy.type === "Recreate" ? 0 : intOrPercent(rec(strategy.rollingUpdate).maxUnavailable, replicas, false);
  const complete = updated === replicas && all.length === replicas && available === replicas;
  const prevStatus = rec(d.status);
  const prevConds = arr(prevStatus.conditions);
  const ts = k8sTime(now);
  const cond = (type: string, status: string, reason: string, message: string): Obj => {
    const prev = prevConds.find((c) => c.type === type);
    const same = prev && prev.status === status && prev.reason === reason;
    const transitioned = !prev || prev.status !== status;
    return {
      type,
      status,
      lastUpdateTime: same ? prev.lastUpdateTime : ts,
      lastTransitionTime: transitioned ? ts : prev.lastTransitionTime,
      reason,
      message,
    };
  };
  const availableCond =
    available >= replicas - maxUnavailable
      ? cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
      : cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.");
  let progressing: Obj;
  const prevProgress = prevConds.find((c) => c.type === "Progressing");
  const deadlineMs = (typeof spec.progressDeadlineSeconds === "number" ? spec.progressDeadlineSeconds : 600) * 1000;
  if (complete) {
    progressing = cond("Progressing", "True", "NewReplicaSetAvailable", `ReplicaSet "${rsName}" has successfully progressed.`);
  } else if (prevProgress?.reason === "ProgressDeadlineExceeded" && !createdRs) {
    progressing = prevProgress;
  } else if (
    prevProgress &&
    !createdRs &&
    prevProgress.reason !== "NewReplicaSetAvailable" &&
    now - Date.parse(String(prevProgress.lastUpdateTime)) >= deadlineMs
  ) {
    progressing = cond("Progressing", "False", "ProgressDeadlineExceeded", `ReplicaSet "${rsName}" has timed out progressing.`);
  } else if (createdRs) {
    progressing = {
      ...cond("Progressing", "True", "NewReplicaSetCreated", `Created new replica set "${rsName}"`),
      lastUpdateTime: ts,
    };
  } else {
    progressing = cond("Progressing", "True", "ReplicaSetUpdated", `ReplicaSet "${rsName}" is progressing.`);
    if (prevProgress?.reason !== "ReplicaSetUpdated" && prevProgress?.reason !== "NewReplicaSetCreated") progressing.lastUpdateTime = ts;
    else progressing.lastUpdateTime = prevProgress.lastUpdateTime;
  }
  if (!complete && progressing.reason !== "ProgressDeadlineExceeded") {
    const since = Date.parse(String(progressing.lastUpdateTime));
    ctx.scheduler.schedule(`deadline|${ns}|${name}`, since + deadlineMs, () => ctx.enqueue("Deployment", ns, name));
  } else ctx.scheduler.cancel(`deadline|${ns}|${name}`);
  const status: Obj = {
    observedGeneration: d.metadata.generation,
    ...omitZero({
      replicas: all.length,
      updatedReplicas: updated,
      readyReplicas: available,
      availableReplicas: available,
      // The real controller: sum of the ReplicaSets' desired replicas minus available ones.
      unavailableReplicas: Math.max(0, replicas + oldPods.length - available),
    }),
    conditions: [availableCond, progressing, ...replicaFailure(prevConds)],
  };
  ctx.writeStatus(DEPLOYMENTS, d, status);
}

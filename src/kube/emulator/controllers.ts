/**
 * Simulated controllers: what kube-controller-manager, the scheduler, the kubelet, the volume
 * binder, cert-manager and an ingress controller would do to the objects the product writes.
 *
 * - Deployment -> ReplicaSet (named by pod-template-hash) -> Pods; RollingUpdate keeps old pods
 *   until new ones are ready, Recreate replaces at once; status and conditions as kubectl reads them.
 * - StatefulSet -> Pods `<name>-<ordinal>` (OrderedReady) and PVCs from volumeClaimTemplates.
 * - Pods become Ready after `podReadyDelayMs`; bad images stay Pending in ImagePullBackOff;
 *   crashing workloads loop in CrashLoopBackOff with a growing restartCount.
 * - PVCs bind (and grow), certificates become Ready, LoadBalancer services and ingresses get an IP,
 *   namespaces get their `default` ServiceAccount, deleted owners have their dependents collected.
 *
 * Reactions are queued from store events and run on the next macrotask, like real (asynchronous)
 * controllers; `settle()` drains the queue for deterministic tests.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { randomUUID } from "node:crypto";
import type { Cluster } from "./cluster.js";
import { parseQuantity } from "./quantity.js";
import {
  DEPLOYMENTS,
  mustFindByKind,
  NAMESPACES,
  PODS,
  PVCS,
  REPLICASETS,
  type ResourceInfo,
  resourceKey,
  SERVICEACCOUNTS,
  STATEFULSETS,
} from "./resources.js";
import { Scheduler } from "./scheduler.js";
import type { StoreEvent } from "./store.js";
import { deepEqual, isRecord, type KubeObject, k8sTime, type OwnerReference, safeHash, stableStringify } from "./types.js";

export const CRASH_ANNOTATION = "emulator.minispod.io/crash";
const RESOURCEQUOTAS = mustFindByKind("v1", "ResourceQuota");
const SERVICES = mustFindByKind("v1", "Service");
const INGRESSES = mustFindByKind("networking.k8s.io/v1", "Ingress");
const CERTIFICATES = mustFindByKind("cert-manager.io/v1", "Certificate");

export interface ControllerOptions {
  podReadyDelayMs: number;
  /** Interval between simulated container restarts in CrashLoopBackOff (and image pull retries). */
  crashLoopIntervalMs: number;
  badImages: Set<string>;
  logger: { warn(obj: unknown, msg?: string): void };
}

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);

function isPodReady(pod: KubeObject): boolean {
  return arr(rec(pod.status).conditions).some((c) => c.type === "Ready" && c.status === "True");
}

function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller);
}

function ownerRef(owner: KubeObject): OwnerReference {
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
function intOrPercent(v: unknown, n: number, roundUp: boolean): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.endsWith("%")) {
    const x = (Number(v.slice(0, -1)) / 100) * n;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return 0;
}

/** Drops zero/empty status fields, as the real JSON encoding (omitempty) does. */
function omitZero(status: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(status)) if (v !== 0 && v !== undefined && v !== "") out[k] = v;
  return out;
}

/** A container that has not started: not ready, no restarts, waiting for `waiting.reason`. */
function waitingContainer(c: Obj, waiting: Obj): Obj {
  return { name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false, state: { waiting } };
}

/** The image digest a kubelet would report, stable per image. */
function imageIdOf(image: unknown): string {
  return `docker.io/library/${String(image)}@sha256:${safeHash(String(image), 16)}`;
}

export class Controllers {
  private readonly queue = new Set<string>();
  private scheduled = false;
  private stopped = false;
  readonly scheduler: Scheduler;
  /** Workloads (`<namespace>/<name>`) whose containers crash, set from tests. */
  readonly crashingWorkloads = new Set<string>();
  private readonly unsubscribe: () => void;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly opts: ControllerOptions,
  ) {
    this.scheduler = new Scheduler(() => cluster.now());
    this.unsubscribe = cluster.store.subscribe((e) => this.onEvent(e));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.scheduler.stop();
    this.queue.clear();
  }

  private enqueue(kind: string, namespace: string, name: string): void {
    if (this.stopped) return;
    this.queue.add(`${kind}|${namespace}|${name}`);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Processes queued reconciles until the system is quiet. */
  drain(): void {
    this.scheduled = false;
    for (let i = 0; i < 100_000 && this.queue.size > 0 && !this.stopped; i++) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      const [kind, ns, name] = key.split("|");
      try {
        this.reconcile(kind, ns, name);
      } catch (err) {
        // A reconcile bug must be visible, but must not take down the API server.
        this.opts.logger.warn({ err, key }, "emulator controller failed");
      }
    }
    if (this.queue.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  get idle(): boolean {
    return this.queue.size === 0;
  }

  private onEvent(e: StoreEvent): void {
    const obj = e.object;
    const ns = e.namespace;
    switch (e.resource) {
      case resourceKey(DEPLOYMENTS):
      case resourceKey(STATEFULSETS):
        if (e.type !== "DELETED") this.enqueue(obj.kind, ns, obj.metadata.name);
        break;
      case resourceKey(PODS): {
        if (e.type === "ADDED" && !rec(obj.status).phase) this.enqueue("Pod", ns, obj.metadata.name);
        if (e.type === "DELETED") this.scheduler.cancel(`pod|${ns}|${obj.metadata.name}|${obj.metadata.uid}`);
        const owner = this.workloadOf(obj);
        if (owner) this.enqueue(owner.kind, ns, owner.name);
        this.enqueueQuota(ns);
        break;
      }
      case resourceKey(PVCS):
        if (e.type !== "DELETED") this.enqueue("PersistentVolumeClaim", ns, obj.metadata.name);
        this.enqueueQuota(ns);
        break;
      case resourceKey(NAMESPACES):
        if (e.type === "ADDED") this.enqueue("Namespace", "", obj.metadata.name);
        break;
      case resourceKey(SERVICES):
      case resourceKey(INGRESSES):
      case resourceKey(CERTIFICATES):
      case resourceKey(RESOURCEQUOTAS):
        if (e.type !== "DELETED") this.enqueue(obj.kind, ns, obj.metadata.name);
        break;
    }
    if (e.type === "DELETED" && e.resource !== resourceKey(NAMESPACES)) this.enqueue("GC", ns, obj.metadata.uid);
  }

  private enqueueQuota(ns: string): void {
    if (this.cluster.store.count(resourceKey(RESOURCEQUOTAS), ns) === 0) return;
    for (const q of this.cluster.store.iterate(resourceKey(RESOURCEQUOTAS), ns)) this.enqueue("ResourceQuota", ns, q.metadata.name);
  }

  /** The Deployment or StatefulSet that (transitively) controls a pod. */
  workloadOf(pod: KubeObject): { kind: string; name: string } | undefined {
    const ref = controllerOf(pod);
    if (!ref) return undefined;
    if (ref.kind === "StatefulSet") return { kind: "StatefulSet", name: ref.name };
    if (ref.kind === "ReplicaSet") {
      const rs = this.cluster.tryGet(REPLICASETS, pod.metadata.namespace, ref.name);
      const dref = rs && controllerOf(rs);
      if (dref?.kind === "Deployment") return { kind: "Deployment", name: dref.name };
    }
    return undefined;
  }

  private reconcile(kind: string, ns: string, name: string): void {
    switch (kind) {
      case "Deployment":
        this.reconcileDeployment(ns, name);
        return;
      case "StatefulSet":
        this.reconcileStatefulSet(ns, name);
        return;
      case "Pod": {
        const pod = this.cluster.tryGet(PODS, ns, name);
        if (pod && !rec(pod.status).phase) this.startPod(pod);
        return;
      }
      case "PersistentVolumeClaim":
        this.reconcilePvc(ns, name);
        return;
      case "Namespace":
        this.reconcileNamespace(name);
        return;
      case "Service":
      case "Ingress":
        this.reconcileLoadBalancer(kind === "Service" ? SERVICES : INGRESSES, ns, name);
        return;
      case "Certificate":
        this.reconcileCertificate(ns, name);
        return;
      case "ResourceQuota":
        this.reconcileQuota(ns, name);
        return;
      case "GC":
        this.collectGarbage(ns, name);
        return;
    }
  }

  // ---- status writes -------------------------------------------------------------------------

  private writeStatus(info: ResourceInfo, obj: KubeObject, status: Obj): KubeObject {
    if (deepEqual(obj.status, status)) return obj;
    return this.cluster.put(info, {
      ...obj,
      metadata: { ...obj.metadata },
      status,
    });
  }

  // ---- pods ----------------------------------------------------------------------------------

  private imageIsBad(image: string): boolean {
    return this.opts.badImages.has(image) || image.includes(":bad");
  }

  private podCrashes(pod: KubeObject): boolean {
    const ns = pod.metadata.namespace ?? "";
    const owner = this.workloadOf(pod);
    if (owner && this.crashingWorkloads.has(`${ns}/${owner.name}`)) return true;
    if (this.crashingWorkloads.has(`${ns}/${pod.metadata.name}`)) return true;
    if (pod.metadata.annotations?.[CRASH_ANNOTATION] === "true") return true;
    return arr(rec(pod.spec).containers).some((c) => typeof c.image === "string" && c.image.includes(":crash"));
  }

  private podTaskKey(pod: KubeObject): string {
    return `pod|${pod.metadata.namespace}|${pod.metadata.name}|${pod.metadata.uid}`;
  }

  /** Scheduler + kubelet: Pending/ContainerCreating now, the real state after the delay. */
  private startPod(pod: KubeObject): void {
    const now = this.cluster.now();
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
    const written = this.cluster.put(PODS, {
      ...pod,
      metadata: { ...pod.metadata },
      spec,
      status,
    });
    const advance = () => this.advancePod(pod.metadata.namespace ?? "", pod.metadata.name, written.metadata.uid);
    if (this.opts.podReadyDelayMs <= 0) advance();
    else this.scheduler.schedule(this.podTaskKey(written), now + this.opts.podReadyDelayMs, advance);
  }

  /** The kubelet's next step for a pod: running and ready, image pull back-off, or a crash. */
  private advancePod(ns: string, name: string, uid: string): void {
    const pod = this.cluster.tryGet(PODS, ns, name);
    if (!pod || pod.metadata.uid !== uid || pod.metadata.deletionTimestamp) return;
    const now = this.cluster.now();
    const ts = k8sTime(now);
    const status = rec(pod.status);
    const containers = arr(rec(pod.spec).containers);
    const previous = new Map(arr(status.containerStatuses).map((c) => [c.name, c]));
    const badImage = containers.find((c) => this.imageIsBad(String(c.image)));
    const crash = !badImage && this.podCrashes(pod);
    const retry = () => this.advancePod(ns, name, uid);
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
            this.imageIsBad(String(c.image))
              ? { reason: "ImagePullBackOff", message: `Back-off pulling image "${String(c.image)}"` }
              : { reason: "PodInitializing" },
          ),
        ),
      };
      // The kubelet keeps retrying the pull; if the image is fixed (markImageGood) the pod starts.
      this.scheduler.schedule(this.podTaskKey(pod), now + this.opts.crashLoopIntervalMs, retry);
    } else if (crash) {
      next = {
        ...status,
        phase: "Running",
        podIP: status.podIP ?? this.podIp(pod),
        conditions: notReady(conditions),
        containerStatuses: containers.map((c) => {
          const prev = previous.get(c.name);
          const restarts = (typeof prev?.restartCount === "number" ? prev.restartCount : 0) + 1;
          return {
            name: c.name,
            image: c.image,
            imageID: imageIdOf(c.image),
            containerID: `containerd://${safeHash(`${uid}/${c.name}/${restarts}`, 32)}`,
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
                containerID: `containerd://${safeHash(`${uid}/${c.name}/${restarts - 1}`, 32)}`,
              },
            },
          };
        }),
      };
      this.scheduler.schedule(this.podTaskKey(pod), now + this.opts.crashLoopIntervalMs, retry);
    } else {
      conditions = setCond(setCond(conditions, "Ready", true), "ContainersReady", true);
      next = {
        ...status,
        phase: "Running",
        podIP: status.podIP ?? this.podIp(pod),
        conditions,
        containerStatuses: containers.map((c) => {
          const prev = previous.get(c.name);
          const out: Obj = {
            name: c.name,
            image: c.image,
            imageID: imageIdOf(c.image),
            containerID: `containerd://${safeHash(`${uid}/${c.name}`, 32)}`,
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
    this.writeStatus(PODS, pod, next);
  }

  private podIp(pod: KubeObject): string {
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
  kickPods(ns: string, workloadName: string): void {
    for (const pod of [...this.cluster.store.iterate(resourceKey(PODS), ns)]) {
      const owner = this.workloadOf(pod);
      if (owner?.name !== workloadName && pod.metadata.name !== workloadName) continue;
      if (rec(pod.status).phase) this.advancePod(ns, pod.metadata.name, pod.metadata.uid);
    }
  }

  /** Re-checks pods stuck on image pulls (after markImageGood). */
  retryImagePulls(): void {
    for (const pod of [...this.cluster.store.iterate(resourceKey(PODS))]) {
      const waiting = arr(rec(pod.status).containerStatuses).some((c) => rec(rec(c.state).waiting).reason === "ImagePullBackOff");
      if (waiting) this.advancePod(pod.metadata.namespace ?? "", pod.metadata.name, pod.metadata.uid);
    }
  }

  private newPod(owner: KubeObject, name: string, template: Obj, extraLabels: Record<string, string>, ownerObj: KubeObject): KubeObject {
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
      creationTimestamp: k8sTime(this.cluster.now()),
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

  // ---- deployments ---------------------------------------------------------------------------

  private podsOwnedBy(ns: string, uids: Set<string>): KubeObject[] {
    const out: KubeObject[] = [];
    for (const pod of this.cluster.store.iterate(resourceKey(PODS), ns)) {
      const ref = controllerOf(pod);
      if (ref && uids.has(ref.uid) && !pod.metadata.deletionTimestamp) out.push(pod);
    }
    return out;
  }

  reconcileDeployment(ns: string, name: string): void {
    const d = this.cluster.tryGet(DEPLOYMENTS, ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const spec = rec(d.spec);
    const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
    const template = rec(spec.template);
    const hash = safeHash(stableStringify(template), 10);
    const rsName = `${name}-${hash}`;
    const strategy = rec(spec.strategy);
    const now = this.cluster.now();

    // ReplicaSets of this deployment; the current one is created on demand.
    const rsets = [...this.cluster.store.iterate(resourceKey(REPLICASETS), ns)].filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
    let current = rsets.find((rs) => rs.metadata.name === rsName);
    const revision = 1 + Math.max(0, ...rsets.map((rs) => Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0)));
    let createdRs = false;
    if (!current) {
      const selector = rec(spec.selector);
      current = this.cluster.put(REPLICASETS, {
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
            "deployment.kubernetes.io/desired-replicas": String(replicas),
            "deployment.kubernetes.io/max-replicas": String(replicas + intOrPercent(rec(strategy.rollingUpdate).maxSurge, replicas, true)),
            "deployment.kubernetes.io/revision": String(revision),
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
    }
    const rsUids = new Set(rsets.map((rs) => rs.metadata.uid));
    rsUids.add(current.metadata.uid);
    const pods = this.podsOwnedBy(ns, rsUids);
    const newPods = pods.filter((p) => controllerOf(p)?.uid === current.metadata.uid);
    const oldPods = pods.filter((p) => controllerOf(p)?.uid !== current.metadata.uid);

    if (strategy.type === "Recreate" && oldPods.length > 0) {
      for (const p of oldPods) this.cluster.remove(PODS, ns, p.metadata.name);
      oldPods.length = 0;
    }
    // Scale the new ReplicaSet to the desired count (newest pods go first on scale-down).
    if (newPods.length < replicas) {
      for (let i = newPods.length; i < replicas; i++) {
        const pod = this.newPod(
          d,
          `${rsName}-${this.cluster.rng.suffix(5)}`,
          rec(rec(current.spec).template),
          { "pod-template-hash": hash },
          current,
        );
        newPods.push(this.cluster.put(PODS, pod));
      }
    } else if (newPods.length > replicas) {
      newPods.sort((a, b) =>
        isPodReady(a) === isPodReady(b) ? b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp) : isPodReady(a) ? 1 : -1,
      );
      for (const p of newPods.splice(0, newPods.length - replicas)) this.cluster.remove(PODS, ns, p.metadata.name);
    }
    // RollingUpdate: old pods go as new ones become ready, keeping availability.
    const readyNew = newPods.filter(isPodReady).length;
    const keepOld = Math.max(0, Math.min(oldPods.length, replicas - readyNew));
    oldPods.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
    for (const p of oldPods.splice(0, oldPods.length - keepOld)) this.cluster.remove(PODS, ns, p.metadata.name);

    // ReplicaSet statuses.
    for (const rs of [...rsets, ...(createdRs ? [current] : [])]) {
      const live = this.cluster.tryGet(REPLICASETS, ns, rs.metadata.name);
      if (!live) continue;
      const mine = (live.metadata.uid === current.metadata.uid ? newPods : oldPods).filter(
        (p) => controllerOf(p)?.uid === live.metadata.uid,
      );
      const want = live.metadata.uid === current.metadata.uid ? replicas : mine.length;
      let rsObj = live;
      if (rec(live.spec).replicas !== want) {
        rsObj = this.cluster.put(REPLICASETS, {
          ...live,
          metadata: {
            ...live.metadata,
            generation: (live.metadata.generation ?? 1) + 1,
          },
          spec: { ...rec(live.spec), replicas: want },
        });
      }
      const ready = mine.filter(isPodReady).length;
      this.writeStatus(REPLICASETS, rsObj, {
        replicas: mine.length,
        ...omitZero({
          fullyLabeledReplicas: mine.length,
          readyReplicas: ready,
          availableReplicas: ready,
        }),
        observedGeneration: rsObj.metadata.generation,
      });
    }

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
      this.scheduler.schedule(`deadline|${ns}|${name}`, since + deadlineMs, () => this.enqueue("Deployment", ns, name));
    } else this.scheduler.cancel(`deadline|${ns}|${name}`);
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
      conditions: [availableCond, progressing],
    };
    this.writeStatus(DEPLOYMENTS, d, status);
  }

  // ---- statefulsets --------------------------------------------------------------------------

  reconcileStatefulSet(ns: string, name: string): void {
    const sts = this.cluster.tryGet(STATEFULSETS, ns, name);
    if (!sts || sts.metadata.deletionTimestamp) return;
    const spec = rec(sts.spec);
    const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
    const template = rec(spec.template);
    const revision = `${name}-${safeHash(stableStringify(template), 10)}`;
    const ordered = spec.podManagementPolicy !== "Parallel";
    const selectorLabels = rec(rec(spec.selector).matchLabels) as Record<string, string>;

    for (const pvcTemplate of arr(spec.volumeClaimTemplates)) {
      for (let i = 0; i < replicas; i++) {
        const pvcName = `${String(rec(pvcTemplate.metadata).name)}-${name}-${i}`;
        if (this.cluster.tryGet(PVCS, ns, pvcName)) continue;
        const tmeta = rec(pvcTemplate.metadata);
        this.cluster.put(PVCS, {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: {
            name: pvcName,
            namespace: ns,
            uid: randomUUID(),
            resourceVersion: "",
            creationTimestamp: k8sTime(this.cluster.now()),
            labels: {
              ...(rec(tmeta.labels) as Record<string, string>),
              ...selectorLabels,
            },
          },
          spec: {
            volumeMode: "Filesystem",
            storageClassName: "standard",
            ...rec(pvcTemplate.spec),
          },
          status: { phase: "Pending" },
        });
      }
    }

    const pods = this.podsOwnedBy(ns, new Set([sts.metadata.uid]));
    const byOrdinal = new Map<number, KubeObject>();
    for (const p of pods) {
      const ord = Number(p.metadata.name.slice(name.length + 1));
      if (ord >= replicas) this.cluster.remove(PODS, ns, p.metadata.name);
      else byOrdinal.set(ord, p);
    }
    for (let i = 0; i < replicas; i++) {
      const existing = byOrdinal.get(i);
      if (existing && existing.metadata.labels?.["controller-revision-hash"] !== revision) {
        // A template change replaces the pod under the same name (new uid), as the real controller does.
        this.cluster.remove(PODS, ns, existing.metadata.name);
        byOrdinal.delete(i);
      }
      if (!byOrdinal.has(i)) {
        const earlierReady = [...Array(i).keys()].every((j) => {
          const p = byOrdinal.get(j);
          return p !== undefined && isPodReady(p);
        });
        if (ordered && !earlierReady) break;
        const podName = `${name}-${i}`;
        const pod = this.newPod(
          sts,
          podName,
          template,
          {
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": podName,
            "apps.kubernetes.io/pod-index": String(i),
          },
          sts,
        );
        pod.spec = {
          ...rec(pod.spec),
          hostname: podName,
          ...(spec.serviceName ? { subdomain: spec.serviceName } : {}),
        };
        const volumes = arr(rec(pod.spec).volumes);
        for (const t of arr(spec.volumeClaimTemplates)) {
          const vname = String(rec(t.metadata).name);
          if (!volumes.some((v) => v.name === vname))
            volumes.push({
              name: vname,
              persistentVolumeClaim: { claimName: `${vname}-${name}-${i}` },
            });
        }
        if (volumes.length) (pod.spec as Obj).volumes = volumes;
        byOrdinal.set(i, this.cluster.put(PODS, pod));
      }
    }
    const live = [...byOrdinal.values()];
    const ready = live.filter(isPodReady).length;
    const updated = live.filter((p) => p.metadata.labels?.["controller-revision-hash"] === revision).length;
    const status: Obj = {
      observedGeneration: sts.metadata.generation,
      replicas: live.length,
      ...omitZero({
        readyReplicas: ready,
        currentReplicas: updated,
        updatedReplicas: updated,
        availableReplicas: ready,
      }),
      currentRevision: revision,
      updateRevision: revision,
      collisionCount: 0,
    };
    this.writeStatus(STATEFULSETS, sts, status);
  }

  // ---- storage, networking, certificates, namespaces, quotas, GC -----------------------------

  private reconcilePvc(ns: string, name: string): void {
    const pvc = this.cluster.tryGet(PVCS, ns, name);
    if (!pvc) return;
    const spec = rec(pvc.spec);
    const requested = rec(rec(spec.resources).requests).storage;
    const status = rec(pvc.status);
    const current = rec(status.capacity).storage;
    // The volume grows to the request; it never shrinks (validation forbids smaller requests).
    const capacity = current !== undefined && (parseQuantity(current) ?? 0) >= (parseQuantity(requested) ?? 0) ? current : requested;
    let obj = pvc;
    if (!spec.volumeName) {
      obj = this.cluster.put(PVCS, {
        ...pvc,
        metadata: {
          ...pvc.metadata,
          annotations: {
            ...pvc.metadata.annotations,
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
          },
        },
        spec: { ...spec, volumeName: `pvc-${pvc.metadata.uid}` },
      });
    }
    this.writeStatus(PVCS, obj, {
      phase: "Bound",
      accessModes: spec.accessModes,
      capacity: { storage: capacity },
    });
  }

  private reconcileLoadBalancer(info: ResourceInfo, ns: string, name: string): void {
    const obj = this.cluster.tryGet(info, ns, name);
    if (!obj) return;
    const wantsIp = info === INGRESSES || rec(obj.spec).type === "LoadBalancer";
    this.writeStatus(info, obj, {
      loadBalancer: wantsIp ? { ingress: [{ ip: "127.0.0.1" }] } : {},
    });
  }

  private reconcileCertificate(ns: string, name: string): void {
    const cert = this.cluster.tryGet(CERTIFICATES, ns, name);
    if (!cert) return;
    const prev = arr(rec(cert.status).conditions).find((c) => c.type === "Ready");
    const now = this.cluster.now();
    const notBefore = prev ? rec(cert.status).notBefore : k8sTime(now);
    const nb = Date.parse(String(notBefore));
    this.writeStatus(CERTIFICATES, cert, {
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Ready",
          message: "Certificate is up to date and has not expired",
          lastTransitionTime: prev?.lastTransitionTime ?? k8sTime(now),
          observedGeneration: cert.metadata.generation,
        },
      ],
      notBefore,
      notAfter: k8sTime(nb + 90 * 86_400_000),
      renewalTime: k8sTime(nb + 60 * 86_400_000),
      revision: 1,
    });
  }

  private reconcileNamespace(name: string): void {
    const ns = this.cluster.tryGet(NAMESPACES, undefined, name);
    if (!ns || ns.metadata.deletionTimestamp) return;
    if (this.cluster.tryGet(SERVICEACCOUNTS, name, "default")) return;
    this.cluster.put(SERVICEACCOUNTS, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        name: "default",
        namespace: name,
        uid: randomUUID(),
        resourceVersion: "",
        creationTimestamp: k8sTime(this.cluster.now()),
      },
    });
  }

  private reconcileQuota(ns: string, name: string): void {
    const quota = this.cluster.tryGet(RESOURCEQUOTAS, ns, name);
    if (!quota) return;
    const hard = rec(rec(quota.spec).hard);
    const sums: Record<string, number> = {};
    const add = (k: string, v: unknown) => {
      const q = parseQuantity(v);
      if (q !== undefined) sums[k] = (sums[k] ?? 0) + q;
    };
    let pods = 0;
    for (const pod of this.cluster.store.iterate(resourceKey(PODS), ns)) {
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
    for (const pvc of this.cluster.store.iterate(resourceKey(PVCS), ns)) {
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
    this.writeStatus(RESOURCEQUOTAS, quota, { hard, used });
  }

  /** Background cascading deletion: dependents of a deleted owner go too. */
  private collectGarbage(ns: string, ownerUid: string): void {
    for (const res of this.cluster.store.resources()) {
      for (const obj of [...this.cluster.store.iterate(res, ns)]) {
        if (obj.metadata.ownerReferences?.some((r) => r.uid === ownerUid)) this.cluster.store.remove(res, ns, obj.metadata.name);
      }
    }
  }

  /** Resolves once the reconcile queue is empty. */
  whenIdle(): Promise<void> {
    if (this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

function qosClass(containers: Obj[]): string {
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

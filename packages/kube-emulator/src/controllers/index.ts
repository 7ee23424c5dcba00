/**
 * Simulated controllers: what kube-controller-manager, the scheduler, the kubelet, the volume
 * binder, cert-manager and an ingress controller would do to the objects the product writes.
 * This file is the controller manager (the work queue fed by store events, and the dispatch);
 * each controller lives in its own file:
 *
 * - deployment.ts: Deployment -> ReplicaSet (named by pod-template-hash) -> Pods; RollingUpdate keeps
 *   old pods until new ones are ready, Recreate replaces at once; status and conditions as kubectl reads them.
 * - statefulset.ts: StatefulSet -> Pods `<name>-<ordinal>` (OrderedReady) and PVCs from volumeClaimTemplates.
 * - pods.ts: pods become Ready after `podReadyDelayMs`; bad images stay Pending in ImagePullBackOff;
 *   crashing workloads loop in CrashLoopBackOff with a growing restartCount.
 * - pod-scheduling.ts: a pod whose PersistentVolumeClaim is missing or unbound stays Pending and
 *   Unschedulable (FailedScheduling) until the claim binds.
 * - pvc.ts, certificate.ts, load-balancer.ts, namespace.ts, resource-quota.ts, garbage-collector.ts:
 *   PVCs bind (and grow), certificates become Ready, LoadBalancer services and ingresses get an IP,
 *   namespaces get their `default` ServiceAccount, quotas report usage, deleted owners have their
 *   dependents collected.
 *
 * Reactions are queued from store events and run on the next macrotask, like real (asynchronous)
 * controllers; `settle()` drains the queue for deterministic tests.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import type { Cluster } from "../cluster.js";
import {
  DEPLOYMENTS,
  mustFindByKind,
  NAMESPACES,
  PODS,
  PVCS,
  REPLICASETS,
  type ResourceInfo,
  resourceKey,
  STATEFULSETS,
} from "../resources.js";
import { Scheduler } from "../scheduler.js";
import type { StoreEvent } from "../store.js";
import { deepEqual, type KubeObject } from "../types.js";
import { reconcileCertificate, reconcileIngressShim } from "./certificate.js";
import { reconcileDeployment } from "./deployment.js";
import { reconcileEndpoints, servicesSelecting } from "./endpoints.js";
import { terminatePod } from "./termination.js";
import { collectGarbage } from "./garbage-collector.js";
import { reconcileLoadBalancer } from "./load-balancer.js";
import { reconcileNamespace } from "./namespace.js";
import { schedulePod, podsWaitingForClaim, unscheduled } from "./pod-scheduling.js";
import { kickPods, podTaskKey, retryImagePulls, startPod } from "./pods.js";
import { reconcilePvc } from "./pvc.js";
import { reconcileQuota } from "./resource-quota.js";
import {
  CERTIFICATES,
  type ControllerContext,
  type ControllerOptions,
  controllerOf,
  INGRESSES,
  type Obj,
  RESOURCEQUOTAS,
  rec,
  SERVICES,
} from "./shared.js";
import { reconcileStatefulSet } from "./statefulset.js";
import {
  claimDeleted,
  enqueueClaimsOfSnapshot,
  reconcileVolumeSnapshot,
  VOLUMESNAPSHOTCLASSES,
  VOLUMESNAPSHOTS,
  volumeSnapshotDeleted,
} from "./volume-snapshot.js";

export { CRASH_ANNOTATION, type ControllerOptions } from "./shared.js";

const LIMITRANGES = mustFindByKind("v1", "LimitRange");
const SERVICEACCOUNTS_INFO = mustFindByKind("v1", "ServiceAccount");
const NETWORKPOLICIES = mustFindByKind("networking.k8s.io/v1", "NetworkPolicy");

export class Controllers implements ControllerContext {
  private readonly queue = new Set<string>();
  private scheduled = false;
  private stopped = false;
  readonly scheduler: Scheduler;
  /** Workloads (`<namespace>/<name>`) whose containers crash, set from tests. */
  readonly crashingWorkloads = new Set<string>();
  private readonly unsubscribe: () => void;
  /** Workloads whose last create was refused, by namespace: `kind|name`. */
  private readonly failedCreates = new Map<string, Set<string>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly cluster: Cluster,
    readonly opts: ControllerOptions,
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

  enqueue(kind: string, namespace: string, name: string): void {
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
        if (e.type === "DELETED") this.scheduler.cancel(podTaskKey({ metadata: { ...obj.metadata, namespace: ns } }));
        if (e.type === "MODIFIED" && obj.metadata.deletionTimestamp) {
          const before = e.previous?.metadata;
          if (!before?.deletionTimestamp || before.deletionGracePeriodSeconds !== obj.metadata.deletionGracePeriodSeconds) {
            terminatePod(this, obj, !before?.deletionTimestamp);
          }
        }
        const owner = this.workloadOf(obj);
        if (owner) this.enqueue(owner.kind, ns, owner.name);
        for (const svc of servicesSelecting(this, obj, e.previous)) this.enqueue("Endpoints", ns, svc);
        if (e.type === "DELETED" || rec(obj.status).phase === "Succeeded" || rec(obj.status).phase === "Failed") {
          for (const pvc of this.cluster.store.iterate(resourceKey(PVCS), ns)) {
            if (pvc.metadata.deletionTimestamp) this.enqueue("PersistentVolumeClaim", ns, pvc.metadata.name);
          }
        }
        this.enqueueQuota(ns);
        if (e.type === "DELETED") this.retryFailedCreates(ns);
        break;
      }
      case resourceKey(PVCS):
        if (e.type !== "DELETED") this.enqueue("PersistentVolumeClaim", ns, obj.metadata.name);
        if (e.type === "DELETED") claimDeleted(this.cluster, obj);
        // Pods the scheduler left Pending for this claim (missing, or not bound yet) try again.
        for (const pod of podsWaitingForClaim(this, ns, obj.metadata.name)) this.enqueue("Pod", ns, pod);
        // Snapshots waiting for this claim to exist or bind try again.
        for (const vs of this.cluster.store.iterate(resourceKey(VOLUMESNAPSHOTS), ns)) this.enqueue("VolumeSnapshot", ns, vs.metadata.name);
        this.enqueueQuota(ns);
        if (e.type === "DELETED") this.retryFailedCreates(ns);
        break;
      case resourceKey(NAMESPACES):
        if (e.type === "ADDED") this.enqueue("Namespace", "", obj.metadata.name);
        if (e.type === "MODIFIED") this.retryFailedCreates(obj.metadata.name);
        break;
      case resourceKey(SERVICEACCOUNTS_INFO):
        if (e.type === "ADDED") this.retryFailedCreates(ns);
        break;
      case resourceKey(LIMITRANGES):
        this.retryFailedCreates(ns);
        break;
      case resourceKey(SERVICES):
        if (e.type === "DELETED") this.retryFailedCreates(ns);
        this.enqueueQuota(ns);
        if (e.type !== "DELETED") this.enqueue(obj.kind, ns, obj.metadata.name);
        this.enqueue("Endpoints", ns, obj.metadata.name);
        break;
      case resourceKey(INGRESSES):
        if (e.type !== "DELETED") {
          this.enqueue("Ingress", ns, obj.metadata.name);
          this.enqueue("IngressShim", ns, obj.metadata.name);
        }
        break;
      case resourceKey(CERTIFICATES):
        if (e.type !== "DELETED") this.enqueue(obj.kind, ns, obj.metadata.name);
        break;
      case resourceKey(NETWORKPOLICIES):
        this.retryFailedCreates(ns);
        break;
      case resourceKey(VOLUMESNAPSHOTS):
        if (e.type === "DELETED") volumeSnapshotDeleted(this, obj);
        else this.enqueue("VolumeSnapshot", ns, obj.metadata.name);
        enqueueClaimsOfSnapshot(this, ns, obj.metadata.name);
        break;
      case resourceKey(VOLUMESNAPSHOTCLASSES):
        // A class that appears lets snapshots waiting for it proceed.
        for (const vs of this.cluster.store.list(resourceKey(VOLUMESNAPSHOTS), {}).items) {
          this.enqueue("VolumeSnapshot", vs.metadata.namespace ?? "", vs.metadata.name);
        }
        break;
      case resourceKey(RESOURCEQUOTAS):
        if (e.type !== "DELETED") this.enqueue(obj.kind, ns, obj.metadata.name);
        this.retryFailedCreates(ns);
        break;
    }
    if (e.type === "DELETED" && e.resource !== resourceKey(NAMESPACES)) this.enqueue("GC", ns, obj.metadata.uid);
    // The quota controller's replenishment: a deleted object of any kind may free a count.
    if (e.type === "DELETED" && ns && e.resource !== resourceKey(RESOURCEQUOTAS)) this.enqueueQuota(ns);
  }

  noteFailedCreate(kind: string, namespace: string, name: string): void {
    const set = this.failedCreates.get(namespace) ?? new Set<string>();
    this.failedCreates.set(namespace, set);
    set.add(`${kind}|${name}`);
  }

  /** Something that may let a refused create through changed in `ns`: the workloads try again. */
  private retryFailedCreates(ns: string): void {
    const set = this.failedCreates.get(ns);
    if (!set) return;
    this.failedCreates.delete(ns);
    for (const key of set) {
      const [kind, name] = key.split("|");
      this.enqueue(kind, ns, name);
    }
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
        // Not yet on a node: the scheduler (which waits for the pod's claims to bind), then the kubelet.
        if (pod && unscheduled(pod)) schedulePod(this, pod);
        else if (pod && !rec(pod.status).phase) startPod(this, pod); // created with a node: straight to the kubelet
        return;
      }
      case "PersistentVolumeClaim":
        reconcilePvc(this, ns, name);
        return;
      case "Namespace":
        reconcileNamespace(this, name);
        return;
      case "Service":
      case "Ingress":
        reconcileLoadBalancer(this, kind === "Service" ? SERVICES : INGRESSES, ns, name);
        return;
      case "Endpoints":
        reconcileEndpoints(this, ns, name);
        return;
      case "Certificate":
        reconcileCertificate(this, ns, name);
        return;
      case "IngressShim":
        reconcileIngressShim(this, ns, name);
        return;
      case "ResourceQuota":
        reconcileQuota(this, ns, name);
        return;
      case "GC":
        collectGarbage(this, ns, name);
        return;
      case "VolumeSnapshot":
        reconcileVolumeSnapshot(this, ns, name);
        return;
    }
  }

  reconcileDeployment(ns: string, name: string): void {
    reconcileDeployment(this, ns, name);
  }

  reconcileStatefulSet(ns: string, name: string): void {
    reconcileStatefulSet(this, ns, name);
  }

  writeStatus(info: ResourceInfo, obj: KubeObject, status: Obj): KubeObject {
    if (deepEqual(obj.status, status)) return obj;
    return this.cluster.put(info, {
      ...obj,
      metadata: { ...obj.metadata },
      status,
    });
  }

  /** Re-evaluates crash mode for a workload's pods right away (setCrash from tests). */
  kickPods(ns: string, workloadName: string): void {
    kickPods(this, ns, workloadName);
  }

  /** Re-checks pods stuck on image pulls (after markImageGood). */
  retryImagePulls(): void {
    retryImagePulls(this);
  }

  /** Resolves once the reconcile queue is empty. */
  whenIdle(): Promise<void> {
    if (this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

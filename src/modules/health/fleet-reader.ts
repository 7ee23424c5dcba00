/**
 * The narrow view of the cluster that the health sweep needs: the whole fleet's workloads, pods and
 * usage, keyed by instance id, and every owned object's field ownership (drift). `KubeFleetReader` implements it with the one
 * cluster client (src/kube/client.ts), the way `InstanceCluster` serves the reconciler.
 */
import type { StampVerdict } from "../../kube/ownership.js";
import type { PodStatusSummary } from "../../kube/status.js";
import type { WorkloadKind } from "../../kube/objects.js";

export interface FleetWorkload {
  kind: WorkloadKind;
  name: string;
  desiredReplicas: number;
}

/** One owned object as a LIST or an informer's cache showed it (metadata only). */
export interface FleetObject {
  /** Against what our last apply recorded (`judgeStamp`, src/kube/ownership.ts): holds, changed, or the observation is behind it. */
  verdict(stamp: string): StampVerdict;
  /** Being deleted (a finalizer holds it, e.g. a PVC still mounted by a pod). */
  terminating: boolean;
  /** Other managers that wrote it, newest first (for the drift message). */
  writers(): string[];
}

export interface FleetObservation {
  /** False when any object LIST failed (after the client's retries): nothing below can be trusted. */
  readable: boolean;
  error?: string;
  /** LIST requests made, pages included. */
  calls: number;
  /** Null when unreadable; false when the cluster has no (working) metrics API. */
  metricsAvailable: boolean | null;
  workloads: Map<string, FleetWorkload>;
  pods: Map<string, PodStatusSummary>;
  usage: Map<string, { cpuMilli: number; memoryMb: number }>;
  /**
   * The object `key` ("Kind/name": ConfigMap, Secret, PVC, workload, Services, Ingress, NetworkPolicy)
   * in `namespace` if it carries instance `instanceId`'s label. A lookup, not a map built per sweep: with
   * 10,000 instances, maps of every instance's objects were ~25 MB of garbage per sweep.
   */
  owned(namespace: string, key: string, instanceId: string): FleetObject | undefined;
  /** The tenant baseline object `key` ("Kind/name": ServiceAccount, ResourceQuota, LimitRange, NetworkPolicies) in `namespace`. */
  tenant(namespace: string, key: string): FleetObject | undefined;
  /**
   * An object we applied (its stamp) that the observation does not show: "missing", or "behind" when
   * the observation of its kind is older than our apply (`judgeAbsent`). `key` is "Kind/name".
   */
  absent(key: string, stamp: string): "missing" | "behind";
  /** Where each kind came from this sweep: an informer's synced cache, or a LIST (unsynced, broken, or not cached). */
  sources: { cached: string[]; listed: string[] };
}

export interface FleetReader {
  /** Every instance's objects, read with a fixed number of fleet-wide LISTs whatever the fleet size. */
  read(): Promise<FleetObservation>;
}

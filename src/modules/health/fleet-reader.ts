/**
 * The narrow view of the cluster that the health sweep needs: the whole fleet's workloads,
 * Services, pods and usage, keyed by instance id. `KubeFleetReader` implements it with the one
 * cluster client (src/kube/client.ts), the way `InstanceCluster` serves the reconciler.
 */
import type { PodStatusSummary } from "../../kube/status.js";
import type { WorkloadKind } from "../../kube/objects.js";

export interface FleetWorkload {
  kind: WorkloadKind;
  name: string;
  desiredReplicas: number;
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
  /** Names of each instance's Services. */
  services: Map<string, Set<string>>;
  pods: Map<string, PodStatusSummary>;
  usage: Map<string, { cpuMilli: number; memoryMb: number }>;
}

export interface FleetReader {
  /** Every instance's objects, read with a fixed number of fleet-wide LISTs whatever the fleet size. */
  read(): Promise<FleetObservation>;
}

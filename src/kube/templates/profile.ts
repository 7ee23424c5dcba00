import type { IProbe } from "kubernetes-models/v1";
import type { InstanceSpec } from "./template-spec.js";

/**
 * What differs between the services: everything else (labels, security context, volumes, Service,
 * Ingress) is built once in `instance.ts` from these facts. Each service module exports one profile.
 */
export interface ServiceProfile {
  workloadKind: "Deployment" | "StatefulSet";
  /** HTTP services get an Ingress with TLS and are reachable from the ingress controller. */
  http: boolean;
  /** Whether pods may open connections to the internet (NetworkPolicy). */
  internetEgress: boolean;
  /** Name of the container port (<= 15 chars, IANA service name). */
  portName: string;
  /**
   * Numeric ids the image runs as (Pod Security `restricted` needs numeric non-root ids). A function
   * of the image, because variants of one image can differ (postgres: 999 on Debian, 70 on Alpine).
   */
  ids(image: { image: string; version: string }): { uid: number; gid: number };
  /** Size of a memory-backed /dev/shm, for images that need more than the runtime's 64 MiB default. */
  sharedMemoryMb?(spec: InstanceSpec): number;
  /** Where the data volume (PVC, or emptyDir without storage) is mounted. */
  dataMountPath: string;
  /** Whether the image works with a read-only root filesystem (given `writableDirs` as emptyDirs). */
  readOnlyRootFilesystem: boolean;
  /** Directories outside the data volume that the process writes to; each gets an emptyDir. */
  writableDirs: readonly string[];
  /** Non-secret settings, rendered into the ConfigMap and loaded with envFrom. */
  config(spec: InstanceSpec): Record<string, string>;
  probes(spec: InstanceSpec): { startup: IProbe; readiness: IProbe; liveness: IProbe };
  terminationGracePeriodSeconds: number;
}

/**
 * The narrow view of the cluster that the reconciler needs. `KubeInstanceCluster` implements it with
 * the one cluster client (src/kube/client.ts); tests may substitute a failing double.
 */
import type { Readable } from "node:stream";
import type { PodProblemReason } from "../../kube/status.js";
import type { Manifest, ObjectRef } from "../../kube/objects.js";

export interface PodProblem {
  /** e.g. ImagePullBackOff, ErrImagePull, CrashLoopBackOff. */
  reason: PodProblemReason;
  message?: string;
}

export interface RolloutState {
  done: boolean;
  message?: string;
  /** Set when pods are stuck in a state that waiting is unlikely to fix. */
  podProblem?: PodProblem;
  /**
   * StatefulSet pods of an old revision stuck in a failed state that were deleted so the
   * OrderedReady controller can replace them from the current template (e.g. after a broken
   * update was reverted), with why.
   */
  deletedStuckPods?: Array<{ name: string; reason: string }>;
}

export interface LogOptions {
  tailLines?: number;
  sinceSeconds?: number;
}

/**
 * Per applied object ("Kind/name"), its resourceVersion and the hash of the fields our field manager
 * owns right after the apply (`appliedStamp`, src/kube/ownership.ts): the health sweep checks the
 * live object against it to find drift.
 */
export type AppliedFields = Record<string, string>;

export interface InstanceCluster {
  /** Server-side applies in order; returns each object's applied-fields hash. */
  applyAll(objects: Manifest[]): Promise<AppliedFields>;
  /** Which of these objects exist (by "Kind/name"), read as metadata only. */
  existing(namespace: string, instanceId: string, kind: "PersistentVolumeClaim"): Promise<Set<string>>;
  /** Whether the workload exists and its pod template mounts this PersistentVolumeClaim. */
  mountsClaim(namespace: string, kind: "Deployment" | "StatefulSet", name: string, claimName: string): Promise<boolean>;
  /** Deletes one object; false when it did not exist. */
  delete(ref: ObjectRef): Promise<boolean>;
  /** Whether the namespace exists and is not being deleted (a GET). */
  namespaceActive(namespace: string): Promise<boolean>;
  /** The namespace's state: there and usable, being deleted (nothing new can be created in it), or gone (a GET). */
  namespaceState(namespace: string): Promise<"active" | "terminating" | "absent">;
  /** Deletes a namespace (and so everything in it); false when it did not exist. */
  deleteNamespace(namespace: string): Promise<boolean>;
  /**
   * The decoded data of an existing Secret, or undefined when there is none. Only for adopting the
   * credentials of instances provisioned before they were stored in the database.
   */
  readCredentials(namespace: string, secretName: string): Promise<Record<string, string> | undefined>;
  /** `kubectl rollout status` of the workload, plus what its pods are stuck on, if anything. */
  rolloutState(
    namespace: string,
    name: string,
    kind: "Deployment" | "StatefulSet",
    replicas: 0 | 1,
    instanceId: string,
  ): Promise<RolloutState>;
  /** The newest pod of the instance that is running (logs come from it), or undefined. */
  runningPod(namespace: string, instanceId: string): Promise<{ name: string; container: string } | undefined>;
  /** Log lines of a pod's container. */
  logs(namespace: string, pod: string, container: string, opts: LogOptions): Promise<string[]>;
  /** A live stream of a pod's log (follow); ends when the pod goes away or the caller destroys it. */
  followLogs(namespace: string, pod: string, container: string, opts: LogOptions): Promise<Readable>;
}

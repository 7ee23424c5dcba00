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
}

export interface LogOptions {
  tailLines?: number;
  sinceSeconds?: number;
}

export interface InstanceCluster {
  applyAll(objects: Manifest[]): Promise<void>;
  /** Deletes one object; false when it did not exist. */
  delete(ref: ObjectRef): Promise<boolean>;
  /** Whether the namespace exists and is not being deleted (a GET). */
  namespaceActive(namespace: string): Promise<boolean>;
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

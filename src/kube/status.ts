import type { LiveDeployment, LivePod, LiveStatefulSet } from "./objects.js";
import type { WorkloadKind } from "./objects.js";

/**
 * Pure readers of workload and pod status, shared by the client (one instance) and the health
 * sweep (the whole fleet from one LIST, grouped by instance id).
 */

/**
 * Container waiting reasons that time alone rarely cures: the reconciler fails a transition stuck in
 * one, and the health sweep judges such an instance UNHEALTHY.
 */
const STUCK_REASONS = [
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
] as const;
export type PodProblemReason = (typeof STUCK_REASONS)[number];
export const STUCK_WAITING_REASONS: ReadonlySet<string> = new Set(STUCK_REASONS);

/** Whether a container waiting reason is one time alone rarely cures. */
export function isPodProblemReason(reason: string): reason is PodProblemReason {
  return STUCK_WAITING_REASONS.has(reason);
}

export interface RolloutState {
  done: boolean;
  /** Set when the rollout can no longer succeed by waiting (progress deadline exceeded). */
  failed: boolean;
  message: string;
}

/** `kubectl rollout status` for a Deployment (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go). */
export function deploymentRolloutState(d: LiveDeployment): RolloutState {
  const name = d.metadata?.name ?? "";
  const generation = d.metadata?.generation ?? 0;
  const st = d.status ?? {};
  if (generation > (st.observedGeneration ?? 0)) {
    return { done: false, failed: false, message: `waiting for deployment "${name}" spec update to be observed` };
  }
  const progressing = st.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` };
  }
  const want = d.spec?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  const replicas = st.replicas ?? 0;
  const available = st.availableReplicas ?? 0;
  if (updated < want) {
    return {
      done: false,
      failed: false,
      message: `waiting for deployment "${name}" rollout: ${updated} of ${want} updated replicas are available`,
    };
  }
  if (replicas > updated) {
    return {
      done: false,
      failed: false,
      message: `waiting for deployment "${name}" rollout: ${replicas - updated} old replicas are pending termination`,
    };
  }
  if (available < updated) {
    return {
      done: false,
      failed: false,
      message: `waiting for deployment "${name}" rollout: ${available} of ${updated} updated replicas are available`,
    };
  }
  return { done: true, failed: false, message: `deployment "${name}" successfully rolled out` };
}

/** `kubectl rollout status` for a StatefulSet with the RollingUpdate strategy. */
export function statefulSetRolloutState(s: LiveStatefulSet): RolloutState {
  const name = s.metadata?.name ?? "";
  const st = s.status;
  const generation = s.metadata?.generation ?? 0;
  if (!st?.observedGeneration || generation > st.observedGeneration) {
    return { done: false, failed: false, message: `waiting for statefulset "${name}" spec update to be observed` };
  }
  const want = s.spec?.replicas ?? 1;
  const ready = st.readyReplicas ?? 0;
  if (ready < want) {
    return { done: false, failed: false, message: `waiting for statefulset "${name}": ${ready} of ${want} pods are ready` };
  }
  // Until the controller has rolled every pod, currentRevision still names the old revision.
  if (st.updateRevision !== st.currentRevision) {
    return {
      done: false,
      failed: false,
      message: `waiting for statefulset "${name}" rolling update to complete: ${st.updatedReplicas ?? 0} pods at revision ${st.updateRevision ?? "?"}`,
    };
  }
  return {
    done: true,
    failed: false,
    message: `statefulset "${name}" rolling update complete ${st.currentReplicas ?? ready} pods at revision ${st.currentRevision ?? "?"}`,
  };
}

export function rolloutState(kind: WorkloadKind, obj: LiveDeployment | LiveStatefulSet): RolloutState {
  return kind === "Deployment" ? deploymentRolloutState(obj as LiveDeployment) : statefulSetRolloutState(obj as LiveStatefulSet);
}

export interface PodSummary {
  name: string;
  namespace: string;
  /** Pending | Running | Succeeded | Failed | Unknown */
  phase: string;
  ready: boolean;
  restarts: number;
  /** Why containers are waiting (ImagePullBackOff, CrashLoopBackOff, ContainerCreating, ...). */
  waitingReasons: string[];
  /** Reason of the last termination (OOMKilled, Error, ...), for crash diagnostics. */
  lastTerminationReasons: string[];
  createdAt?: string;
  terminating: boolean;
  labels: Record<string, string>;
}

export interface PodStatusSummary {
  pods: PodSummary[];
  total: number;
  readyCount: number;
  restarts: number;
  waitingReasons: string[];
  /** The most recently created pod that is not terminating (what a user would look at). */
  newest?: PodSummary;
  /** Phase of the newest pod, or undefined when there is no pod. */
  phase?: string;
  /** Every non-terminating pod is Ready (and there is at least one). */
  ready: boolean;
}

/** A timestamp as the API server sends it (RFC 3339), normalised to the ISO form with milliseconds. */
const iso = (d: string | undefined): string | undefined => {
  if (d === undefined) return undefined;
  const ms = Date.parse(d);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : d;
};

export function summarizePod(p: LivePod): PodSummary {
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
  return {
    name: p.metadata?.name ?? "",
    namespace: p.metadata?.namespace ?? "",
    phase: p.status?.phase ?? "Unknown",
    ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    restarts: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    waitingReasons: statuses.flatMap((s) => (s.state?.waiting?.reason ? [s.state.waiting.reason] : [])),
    lastTerminationReasons: statuses.flatMap((s) => (s.lastState?.terminated?.reason ? [s.lastState.terminated.reason] : [])),
    createdAt: iso(p.metadata?.creationTimestamp),
    terminating: p.metadata?.deletionTimestamp !== undefined && p.metadata?.deletionTimestamp !== null,
    labels: { ...(p.metadata?.labels ?? {}) },
  };
}

export function summarizePods(pods: LivePod[]): PodStatusSummary {
  return summarizePodSummaries(pods.map(summarizePod));
}

/** `summarizePods` over pods already summarized (e.g. kept so by an informer). */
export function summarizePodSummaries(all: PodSummary[]): PodStatusSummary {
  const live = all.filter((p) => !p.terminating);
  const newest = [...live].sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || b.name.localeCompare(a.name))[0];
  return {
    pods: all,
    total: all.length,
    readyCount: live.filter((p) => p.ready).length,
    restarts: all.reduce((n, p) => n + p.restarts, 0),
    waitingReasons: [...new Set(all.flatMap((p) => p.waitingReasons))],
    newest,
    phase: newest?.phase,
    ready: live.length > 0 && live.every((p) => p.ready),
  };
}

/**
 * Pods an OrderedReady StatefulSet will wait on forever (kubernetes/kubernetes#67250): not Ready,
 * stuck in a reason time rarely cures (or Failed), and from a revision other than the one the
 * controller now rolls out (`status.updateRevision`, once it has observed the current generation).
 * The controller never replaces such a pod itself, even after the template is fixed; deleting it
 * lets the controller create it again from the current template. Pods of the current revision are
 * never chosen: deleting them would only recreate the same broken pod.
 */
export function stuckOldRevisionPods(sts: LiveStatefulSet, pods: LivePod[]): PodSummary[] {
  const revision = sts.status?.updateRevision;
  if (!revision || (sts.status?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) return [];
  return pods
    .map(summarizePod)
    .filter(
      (p) =>
        !p.terminating &&
        !p.ready &&
        p.labels["controller-revision-hash"] !== undefined &&
        p.labels["controller-revision-hash"] !== revision &&
        (p.phase === "Failed" || p.waitingReasons.some(isPodProblemReason)),
    );
}

/** Group pods by the value of one label (e.g. `minispod.io/instance-id`) and summarize each group. */
export function summarizePodsBy(pods: LivePod[], labelKey: string): Map<string, PodStatusSummary> {
  const groups = new Map<string, LivePod[]>();
  for (const pod of pods) {
    const key = pod.metadata?.labels?.[labelKey];
    if (key === undefined) continue;
    const list = groups.get(key);
    if (list) list.push(pod);
    else groups.set(key, [pod]);
  }
  return new Map([...groups].map(([k, v]) => [k, summarizePods(v)]));
}

/** Milliseconds since the epoch of an RFC 3339 timestamp. */
const timeOf = (t: string | undefined): number => (t === undefined ? Number.NEGATIVE_INFINITY : new Date(t).getTime());

/**
 * The pod to read logs from: the newest pod that is Running and not being deleted (during a
 * rollout the old and the new pod both run for a while). Ordered by creation time, parsed: RFC 3339
 * text with and without fractional seconds or an offset does not sort as text.
 */
export function newestRunningPod(pods: LivePod[]): LivePod | undefined {
  return pods
    .filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp)
    .reduce<LivePod | undefined>(
      (best, p) => (!best || timeOf(p.metadata?.creationTimestamp) > timeOf(best.metadata?.creationTimestamp) ? p : best),
      undefined,
    );
}

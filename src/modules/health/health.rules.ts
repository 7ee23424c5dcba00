/**
 * The health rules, as pure functions (no database, no cluster): what one sweep observes for one
 * instance, and how consecutive observations change the instance's current health (hysteresis).
 * The sweep (health.sweeper.ts) feeds them the fleet's LIST results grouped by instance id.
 */
import { type PodStatusSummary, STUCK_WAITING_REASONS } from "../../kube/status.js";

export const HEALTH_STATUSES = ["HEALTHY", "DEGRADED", "UNHEALTHY", "UNKNOWN"] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** CPU or memory use above this share of the plan's limit makes a ready instance DEGRADED. */
export const USAGE_DEGRADED_RATIO = 0.9;

export interface WorkloadObservation {
  kind: "Deployment" | "StatefulSet";
  name: string;
  /** `spec.replicas` (1 when unset). */
  desiredReplicas: number;
}

export interface ObservationInput {
  /** False when the cluster could not be read: the observation is UNKNOWN, whatever else is known. */
  clusterReadable: boolean;
  /** Why the cluster could not be read (for the reason text). */
  clusterError?: string;
  /** The instance's plan: its limits. */
  plan: { cpuMilli: number; memoryMb: number };
  /** The expected workload (kind and name), to name it when it is missing. */
  expectedWorkload: { kind: "Deployment" | "StatefulSet"; name: string };
  /** The workload as listed, or undefined when it is missing. */
  workload?: WorkloadObservation;
  /** Other expected objects that the LISTs did not find (e.g. "Service/blog-svc"). */
  missingObjects?: string[];
  /** The instance's pods, or undefined when it has none. */
  pods?: PodStatusSummary;
  /** Summed usage of the instance's pods; undefined when metrics are unavailable or absent. */
  usage?: { cpuMilli: number; memoryMb: number };
  /** The pods' total restart count seen by the previous sweep; undefined when there was none. */
  previousRestartCount?: number;
}

/** What one sweep measures of one instance: stored per health record, shown in results. */
export interface HealthMeasurements {
  podPhase: string | null;
  readyReplicas: number;
  desiredReplicas: number;
  restartCount: number;
  cpuMilli: number | null;
  memoryMb: number | null;
}

export interface Observation extends HealthMeasurements {
  status: HealthStatus;
  reason: string;
  /** Objects the instance should have that the cluster does not: the reconciler must re-apply. */
  missing: string[];
}

const pct = (used: number, limit: number) => Math.round((used / limit) * 100);

/**
 * One observation of one instance that should be running:
 *  - UNKNOWN    the cluster could not be read;
 *  - UNHEALTHY  its workload (or another expected object) is missing, a pod waits in
 *               CrashLoopBackOff / ImagePullBackOff (or a similar fatal reason), or fewer pods are
 *               ready than the workload wants;
 *  - DEGRADED   ready, but the restart count rose since the previous sweep, or CPU or memory use is
 *               above 90% of the plan's limit;
 *  - HEALTHY    otherwise.
 */
export function observe(input: ObservationInput): Observation {
  const base = {
    podPhase: input.pods?.phase ?? null,
    readyReplicas: input.pods?.readyCount ?? 0,
    desiredReplicas: input.workload?.desiredReplicas ?? 0,
    restartCount: input.pods?.restarts ?? 0,
    cpuMilli: input.usage ? Math.round(input.usage.cpuMilli) : null,
    memoryMb: input.usage ? Math.round(input.usage.memoryMb) : null,
    missing: [] as string[],
  };
  if (!input.clusterReadable) {
    return {
      ...base,
      podPhase: null,
      readyReplicas: 0,
      desiredReplicas: 0,
      restartCount: 0,
      cpuMilli: null,
      memoryMb: null,
      status: "UNKNOWN",
      reason: `cluster could not be read${input.clusterError ? `: ${input.clusterError}` : ""}`,
    };
  }
  const missing = [
    ...(input.workload ? [] : [`${input.expectedWorkload.kind}/${input.expectedWorkload.name}`]),
    ...(input.missingObjects ?? []),
  ];
  if (missing.length) return { ...base, missing, status: "UNHEALTHY", reason: `objects missing: ${missing.join(", ")}` };

  const fatal = (input.pods?.waitingReasons ?? []).filter((r) => STUCK_WAITING_REASONS.has(r));
  if (fatal.length) return { ...base, status: "UNHEALTHY", reason: `pod waiting in ${fatal.join(", ")}` };

  const desired = base.desiredReplicas;
  if (desired === 0) return { ...base, status: "UNHEALTHY", reason: "workload is scaled to 0 replicas" };
  if (!input.pods || input.pods.total === 0) return { ...base, status: "UNHEALTHY", reason: `not ready: no pods (0/${desired} ready)` };
  if (base.readyReplicas < desired) {
    return {
      ...base,
      status: "UNHEALTHY",
      reason: `not ready: ${base.readyReplicas}/${desired} ready (pod phase ${base.podPhase ?? "unknown"})`,
    };
  }

  const degraded: string[] = [];
  if (input.previousRestartCount !== undefined && base.restartCount > input.previousRestartCount) {
    degraded.push(`restarts rising (${input.previousRestartCount} -> ${base.restartCount})`);
  }
  if (input.usage) {
    if (input.usage.cpuMilli > USAGE_DEGRADED_RATIO * input.plan.cpuMilli) {
      degraded.push(`CPU ${base.cpuMilli}m of ${input.plan.cpuMilli}m limit (${pct(input.usage.cpuMilli, input.plan.cpuMilli)}%)`);
    }
    if (input.usage.memoryMb > USAGE_DEGRADED_RATIO * input.plan.memoryMb) {
      degraded.push(`memory ${base.memoryMb}Mi of ${input.plan.memoryMb}Mi limit (${pct(input.usage.memoryMb, input.plan.memoryMb)}%)`);
    }
  }
  if (degraded.length) return { ...base, status: "DEGRADED", reason: degraded.join("; ") };
  return { ...base, status: "HEALTHY", reason: `${base.readyReplicas}/${desired} ready` };
}

/** An instance's current health and the hysteresis state behind it (columns of `instances`). */
export interface HealthState {
  status: HealthStatus;
  candidate: HealthStatus | null;
  candidateCount: number;
}

/**
 * Hysteresis. The current status changes only after `required` consecutive observations of the
 * same new status:
 *  - an observation equal to the current status keeps it and cancels any pending change;
 *  - an observation equal to the pending candidate counts once more; at `required` it becomes the
 *    status;
 *  - any other observation becomes the new candidate with a count of 1 (and wins at once when
 *    `required` is 1);
 *  - leaving UNKNOWN is immediate: UNKNOWN means "no judgement" (never checked, not running, or the
 *    cluster was unreadable for `required` sweeps), so there is no judgement to protect.
 * UNKNOWN observations follow the same rule as the others: a single unreadable sweep (an API-server
 * blip) changes nothing; only `required` unreadable sweeps in a row make the fleet UNKNOWN.
 */
export function nextHealth(state: HealthState, observed: HealthStatus, required: number): HealthState {
  if (observed === state.status) return { status: state.status, candidate: null, candidateCount: 0 };
  if (state.status === "UNKNOWN") return { status: observed, candidate: null, candidateCount: 0 };
  const count = state.candidate === observed ? state.candidateCount + 1 : 1;
  if (count >= required) return { status: observed, candidate: null, candidateCount: 0 };
  return { status: state.status, candidate: observed, candidateCount: count };
}

/**
 * HEALTH_INTERVAL as a node-cron schedule when it divides the minute, hour or day evenly (e.g. 30s ->
 * every 30 seconds, 5m -> `*\/5 * * * *`, 2h -> `0 *\/2 * * *`); undefined otherwise (the loop then
 * uses a plain timer).
 */
export function intervalToCron(ms: number): string | undefined {
  const divides = (n: number, of: number) => Number.isInteger(n) && n >= 1 && of % n === 0;
  if (ms % 1000 !== 0) return undefined;
  const s = ms / 1000;
  if (s < 60) return divides(s, 60) ? `*/${s} * * * * *` : undefined;
  if (s % 60 !== 0) return undefined;
  const m = s / 60;
  if (m < 60) return divides(m, 60) ? `*/${m} * * * *` : undefined;
  if (m % 60 !== 0) return undefined;
  const h = m / 60;
  if (h < 24) return divides(h, 24) ? `0 */${h} * * *` : undefined;
  if (h === 24) return "0 0 * * *";
  return undefined;
}

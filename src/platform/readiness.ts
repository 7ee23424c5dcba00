/**
 * Readiness means "this replica can serve": its database answers within READY_DB_TIMEOUT_MS (one
 * try, no retries). The cluster is reported, not gated on: an API-server blip must not take logins
 * and billing offline on every replica at once. What `/readyz` says about the cluster comes from the
 * last contact of the loops' own Kubernetes calls (every KubeClient attempt reports to
 * `ClusterContact`), so a probe never adds load on the API server.
 * The body is for an unauthenticated caller: states and times only — no addresses, no error texts
 * (those go to the logs).
 */
import { z } from "zod";
import type { Clock } from "./clock.js";

/** The database check's bound. k8s/deployment.yaml's readinessProbe.timeoutSeconds must exceed it. */
export const READY_DB_TIMEOUT_MS = 1000;

export const ClusterContactSchema = z.object({
  status: z
    .enum(["reachable", "unreachable", "unknown"])
    .describe("From the latest Kubernetes call: it got an answer (reachable), or none / 5xx (unreachable); unknown before any"),
  lastContactAt: z.string().datetime().nullable().describe("When a Kubernetes call last got an answer from the API server"),
});
export type ClusterContactState = z.infer<typeof ClusterContactSchema>;

export const ReadinessChecksSchema = z.object({
  database: z.object({ ok: z.boolean().describe(`Answered SELECT 1 within ${READY_DB_TIMEOUT_MS} ms`) }),
  cluster: ClusterContactSchema,
});
export type ReadinessChecks = z.infer<typeof ReadinessChecksSchema>;

export const ReadinessSchema = z.object({ status: z.literal("ready"), checks: ReadinessChecksSchema });

/** What KubeClient reports for each HTTP attempt (its `onCall` result). */
export interface CallOutcome {
  ok: boolean;
  statusCode?: number;
}

/** The cluster as this process's own Kubernetes calls last found it. */
export class ClusterContact {
  private lastAnsweredAt: Date | undefined;
  private latestAnswered: boolean | undefined;

  constructor(private readonly clock: Clock) {}

  /** One attempt: the API server answered unless it failed without a status (network, timeout) or with a 5xx. */
  record(outcome: CallOutcome): void {
    const answered = outcome.ok || (outcome.statusCode !== undefined && outcome.statusCode < 500);
    this.latestAnswered = answered;
    if (answered) this.lastAnsweredAt = this.clock.now();
  }

  state(): ClusterContactState {
    return {
      status: this.latestAnswered === undefined ? "unknown" : this.latestAnswered ? "reachable" : "unreachable",
      lastContactAt: this.lastAnsweredAt?.toISOString() ?? null,
    };
  }
}

/** One try of `ping`, bounded by `timeoutMs` (a late answer is ignored). Never rejects. */
export function pingWithin(ping: () => Promise<void>, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: unknown }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, error: new Error(`no answer within ${timeoutMs} ms`) }), timeoutMs);
    Promise.resolve()
      .then(ping)
      .then(
        () => {
          clearTimeout(timer);
          resolve({ ok: true });
        },
        (error: unknown) => {
          clearTimeout(timer);
          resolve({ ok: false, error });
        },
      );
  });
}

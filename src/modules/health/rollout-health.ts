/**
 * An instance's first health observation, taken from the rollout the reconciler has just watched
 * complete: its workload has all its replicas ready, which is what the sweep would call HEALTHY. So a
 * new (or resumed) instance does not show UNKNOWN until the next sweep (up to HEALTH_INTERVAL). Only
 * an instance without a judgement (UNKNOWN) gets it; the sweep takes over from the next pass, with
 * usage and restart counts (a restart during start-up may then show as DEGRADED candidate once).
 */
import { type Db, Prisma } from "../../platform/db/index.js";

export const ROLLOUT_HEALTH_REASON = "rollout complete: all replicas ready";

export async function recordRolloutHealth(db: Db, instanceId: string, at: Date): Promise<boolean> {
  const r = await db.instance.updateMany({
    where: { id: instanceId, status: "RUNNING", healthStatus: "UNKNOWN" },
    data: {
      healthStatus: "HEALTHY",
      healthReason: ROLLOUT_HEALTH_REASON,
      healthCheckedAt: at,
      healthCandidate: null,
      healthCandidateCount: 0,
    },
  });
  return r.count === 1;
}

/**
 * The same rule as assignments for the UPDATE that makes the instance RUNNING (the reconciler's
 * converged step), so that the observation costs no statement of its own: only a row whose health
 * is UNKNOWN gets it (every right-hand side reads the row as it was).
 */
export function rolloutHealthAssignments(at: Date): Prisma.Sql {
  const unknown = Prisma.sql`"health_status" = 'UNKNOWN'`;
  return Prisma.sql`"health_status" = CASE WHEN ${unknown} THEN CAST('HEALTHY' AS "HealthStatus") ELSE "health_status" END,
    "health_reason" = CASE WHEN ${unknown} THEN ${ROLLOUT_HEALTH_REASON} ELSE "health_reason" END,
    "health_checked_at" = CASE WHEN ${unknown} THEN ${at}::timestamptz ELSE "health_checked_at" END,
    "health_candidate" = CASE WHEN ${unknown} THEN NULL ELSE "health_candidate" END,
    "health_candidate_count" = CASE WHEN ${unknown} THEN 0 ELSE "health_candidate_count" END`;
}

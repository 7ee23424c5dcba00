/**
 * An instance's first health observation, taken from the rollout the reconciler has just watched
 * complete: its workload has all its replicas ready, which is what the sweep would call HEALTHY. So a
 * new (or resumed) instance does not show UNKNOWN until the next sweep (up to HEALTH_INTERVAL). Only
 * an instance without a judgement (UNKNOWN) gets it; the sweep takes over from the next pass, with
 * usage and restart counts (a restart during start-up may then show as DEGRADED candidate once).
 */
import type { Db } from "../../platform/db/index.js";

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

/**
 * Health history for the benchmarks: `days` x `sweepsPerDay` sweeps, each a health_sweeps row and one
 * INSERT of a check per instance, as the sweeper writes them. Instance g is UNHEALTHY for a few sweeps
 * now and then (incidents), DEGRADED or UNKNOWN at times, else HEALTHY — the same history wherever it
 * is seeded (bench/api-load.ts, bench/read-path-explain.ts), so their numbers compare.
 */
import type pg from "pg";

export async function seedHealthHistory(
  pool: pg.Pool,
  ids: string[],
  opts: { days: number; sweepsPerDay: number; now?: number; onSweep?: (done: number, of: number) => void },
): Promise<{ sweeps: number; checks: number }> {
  const sweeps = Math.floor(opts.days * opts.sweepsPerDay);
  const stepMs = 86_400_000 / opts.sweepsPerDay;
  const start = (opts.now ?? Date.now()) - opts.days * 86_400_000;
  for (let k = 0; k < sweeps; k++) {
    const at = new Date(start + k * stepMs);
    const id = `bench-sweep-${k}`;
    await pool.query(
      `INSERT INTO "health_sweeps" ("id","trigger","started_at","finished_at","duration_ms","instance_count","api_calls","metrics_available")
       VALUES ($1, 'scheduled', $2, $2, 1500, $3, 62, true)`,
      [id, at, ids.length],
    );
    await pool.query(
      `INSERT INTO "health_checks" ("instance_id","sweep_id","status","pod_phase","ready_replicas","desired_replicas","restart_count","cpu_milli","memory_mb","reason","checked_at")
       SELECT v.id, $1,
              (CASE WHEN (g + $3 / 3) % 173 = 0 THEN 'UNHEALTHY' WHEN (g + $3) % 59 = 0 THEN 'DEGRADED' WHEN (g * 7 + $3) % 211 = 0 THEN 'UNKNOWN' ELSE 'HEALTHY' END)::"HealthStatus",
              'Running', 1, 1, 0, 50 + (g * 13 + $3) % 400, 100 + (g * 17 + $3) % 900, NULL, $2
         FROM unnest($4::text[]) WITH ORDINALITY AS v(id, g)`,
      [id, at, k, ids],
    );
    opts.onSweep?.(k + 1, sweeps);
  }
  return { sweeps, checks: sweeps * ids.length };
}

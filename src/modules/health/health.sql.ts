/**
 * The SQL of the admin health summary and statistics, as tagged `Prisma.sql` (parameters, never
 * interpolated text), so the service runs it through Prisma and the benchmarks run the very same
 * statement through `pg`.
 */
import { Prisma } from "../../platform/db/index.js";
import { storedOverdueCountSql } from "../backups/backup-schedule.sql.js";

/**
 * The instances per (status, health) as rows {status, health, n}: the sum of the trigger-kept
 * deltas in "instance_counts" (exactly a GROUP BY over "instances" in the same snapshot, without
 * reading the fleet; see its migration).
 */
export const instanceCountsSql = Prisma.sql`SELECT "status"::text AS "status", "health_status"::text AS "health", sum("n")::int AS "n"
            FROM "instance_counts" GROUP BY 1, 2 HAVING sum("n") <> 0`;

/** The same as one JSON value, for the summary's one statement. */
const instanceCountsJsonSql = Prisma.sql`(SELECT coalesce(json_agg(g), '[]'::json) FROM (${instanceCountsSql}) g)`;

/**
 * The admin health summary's one statement: the instance counts, the instances without a good backup
 * in 48 h (the stored value when recent enough, else counted: storedOverdueCountSql) and the last sweep.
 */
export function healthSummarySql(now: Date): Prisma.Sql {
  return Prisma.sql`
      SELECT ${instanceCountsJsonSql} AS "counts",
             ${storedOverdueCountSql(now)} AS "backupsOverdue",
             l."id", l."trigger", l."started_at" AS "startedAt", l."finished_at" AS "finishedAt", l."duration_ms" AS "durationMs",
             l."instance_count" AS "instanceCount", l."cluster_reachable" AS "clusterReachable", l."api_calls" AS "apiCalls",
             l."metrics_available" AS "metricsAvailable", l."error"
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (SELECT * FROM "health_sweeps" ORDER BY "started_at" DESC LIMIT 1) l ON TRUE`;
}

/**
 * Folds the deltas of "instance_counts" into one row per (status, health) (dropping pairs that sum to
 * 0), touching only pairs that have more than one row. Safe beside writers and another fold: the
 * DELETE removes only rows its snapshot sees (a delta committed meanwhile stays), a row another fold
 * deleted first is skipped, and each fold re-inserts the sum of exactly the rows it deleted.
 */
export const compactInstanceCountsSql = Prisma.sql`
    WITH g AS (
      SELECT "status", "health_status" FROM "instance_counts" GROUP BY 1, 2 HAVING count(*) > 1 OR sum("n") = 0
    ), d AS (
      DELETE FROM "instance_counts" c USING g
       WHERE c."status" = g."status" AND c."health_status" = g."health_status"
      RETURNING c."status", c."health_status", c."n"
    )
    INSERT INTO "instance_counts" ("status", "health_status", "n")
    SELECT "status", "health_status", sum("n")::int FROM d GROUP BY 1, 2 HAVING sum("n") <> 0`;

export interface HealthStatsRow {
  start: Date;
  checks: number;
  healthy: number;
  degraded: number;
  unhealthy: number;
  unknown: number;
  cpu_sum: number | null;
  cpu_n: number;
  cpu_peak: number | null;
  mem_sum: number | null;
  mem_n: number;
  mem_peak: number | null;
  incidents: number;
}

/**
 * One row per bucket [from + k*bucketSeconds, ...) up to `to`, empty buckets included. Reads the
 * per-sweep rollup (`health_check_rollups`, one row per distinct checked_at, kept exact by triggers on
 * `health_checks`): every statistic is a sum or a max of per-timestamp values, so the answer equals
 * aggregating the records themselves (test/modules/health/health-rollups.test.ts checks that).
 */
export function healthStatsSql(from: Date, to: Date, bucketSeconds: number): Prisma.Sql {
  // The rollup rows are aggregated per bucket first (a hash aggregate), and only then joined to the
  // buckets: joining first sorted and joined every row (~3x the time for 30 days of 5-minute sweeps).
  return Prisma.sql`WITH c AS (
         SELECT date_bin(make_interval(secs => ${bucketSeconds}::int), r."checked_at", ${from}::timestamptz) AS "bucket",
                sum(r."checks") AS "checks", sum(r."healthy") AS "healthy", sum(r."degraded") AS "degraded",
                sum(r."unhealthy") AS "unhealthy", sum(r."unknown") AS "unknown",
                sum(r."cpu_sum") AS "cpu_sum", sum(r."cpu_n") AS "cpu_n", max(r."cpu_peak") AS "cpu_peak",
                sum(r."mem_sum") AS "mem_sum", sum(r."mem_n") AS "mem_n", max(r."mem_peak") AS "mem_peak",
                sum(r."incidents") AS "incidents"
           FROM "health_check_rollups" r
          WHERE r."checked_at" >= ${from}::timestamptz AND r."checked_at" < ${to}::timestamptz
          GROUP BY 1
       )
       SELECT b."start",
              coalesce(c."checks", 0)::int AS "checks",
              coalesce(c."healthy", 0)::int AS "healthy",
              coalesce(c."degraded", 0)::int AS "degraded",
              coalesce(c."unhealthy", 0)::int AS "unhealthy",
              coalesce(c."unknown", 0)::int AS "unknown",
              c."cpu_sum"::float8 AS "cpu_sum", coalesce(c."cpu_n", 0)::int AS "cpu_n", c."cpu_peak",
              c."mem_sum"::float8 AS "mem_sum", coalesce(c."mem_n", 0)::int AS "mem_n", c."mem_peak",
              coalesce(c."incidents", 0)::int AS "incidents"
         FROM generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 millisecond', make_interval(secs => ${bucketSeconds}::int)) AS b("start")
         LEFT JOIN c ON c."bucket" = b."start"
        ORDER BY b."start"`;
}

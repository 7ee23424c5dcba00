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
  return Prisma.sql`WITH b AS (
         SELECT gs AS "start"
           FROM generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 millisecond', make_interval(secs => ${bucketSeconds}::int)) AS gs
       ), c AS (
         SELECT date_bin(make_interval(secs => ${bucketSeconds}::int), r."checked_at", ${from}::timestamptz) AS "bucket", r.*
           FROM "health_check_rollups" r
          WHERE r."checked_at" >= ${from}::timestamptz AND r."checked_at" < ${to}::timestamptz
       )
       SELECT b."start",
              coalesce(sum(c."checks"), 0)::int AS "checks",
              coalesce(sum(c."healthy"), 0)::int AS "healthy",
              coalesce(sum(c."degraded"), 0)::int AS "degraded",
              coalesce(sum(c."unhealthy"), 0)::int AS "unhealthy",
              coalesce(sum(c."unknown"), 0)::int AS "unknown",
              sum(c."cpu_sum")::float8 AS "cpu_sum", coalesce(sum(c."cpu_n"), 0)::int AS "cpu_n", max(c."cpu_peak") AS "cpu_peak",
              sum(c."mem_sum")::float8 AS "mem_sum", coalesce(sum(c."mem_n"), 0)::int AS "mem_n", max(c."mem_peak") AS "mem_peak",
              coalesce(sum(c."incidents"), 0)::int AS "incidents"
         FROM b LEFT JOIN c ON c."bucket" = b."start"
        GROUP BY b."start" ORDER BY b."start"`;
}

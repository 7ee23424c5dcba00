/**
 * The SQL of the admin health statistics, as tagged `Prisma.sql` (parameters, never interpolated text),
 * so the service runs it through Prisma and the benchmark runs the very same statement through `pg`.
 */
import { Prisma } from "../../platform/db/index.js";

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

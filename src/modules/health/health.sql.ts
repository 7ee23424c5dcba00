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

/** One row per bucket [from + k*bucketSeconds, ...) up to `to`, empty buckets included. */
export function healthStatsSql(from: Date, to: Date, bucketSeconds: number): Prisma.Sql {
  return Prisma.sql`WITH b AS (
         SELECT gs AS "start"
           FROM generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 millisecond', make_interval(secs => ${bucketSeconds}::int)) AS gs
       ), c AS (
         SELECT date_bin(make_interval(secs => ${bucketSeconds}::int), h."checked_at", ${from}::timestamptz) AS "bucket",
                h."status", h."cpu_milli", h."memory_mb",
                (h."status" = 'UNHEALTHY' AND (
                   SELECT p."status" FROM "health_checks" p
                    WHERE p."instance_id" = h."instance_id" AND p."checked_at" < h."checked_at" AND p."status" <> 'UNKNOWN'
                    ORDER BY p."checked_at" DESC LIMIT 1) IS DISTINCT FROM 'UNHEALTHY') AS "incident"
           FROM "health_checks" h
          WHERE h."checked_at" >= ${from}::timestamptz AND h."checked_at" < ${to}::timestamptz
       )
       SELECT b."start",
              count(c."status")::int AS "checks",
              count(*) FILTER (WHERE c."status" = 'HEALTHY')::int AS "healthy",
              count(*) FILTER (WHERE c."status" = 'DEGRADED')::int AS "degraded",
              count(*) FILTER (WHERE c."status" = 'UNHEALTHY')::int AS "unhealthy",
              count(*) FILTER (WHERE c."status" = 'UNKNOWN')::int AS "unknown",
              sum(c."cpu_milli")::float8 AS "cpu_sum", count(c."cpu_milli")::int AS "cpu_n", max(c."cpu_milli") AS "cpu_peak",
              sum(c."memory_mb")::float8 AS "mem_sum", count(c."memory_mb")::int AS "mem_n", max(c."memory_mb") AS "mem_peak",
              count(*) FILTER (WHERE c."incident")::int AS "incidents"
         FROM b LEFT JOIN c ON c."bucket" = b."start"
        GROUP BY b."start" ORDER BY b."start"`;
}

-- Health statistics from a rollup instead of the raw records (issue 14).
--
-- One row per distinct "checked_at" of "health_checks" (a sweep writes all its records with one
-- timestamp, so: one row per sweep) holding everything GET /api/admin/health/stats aggregates:
-- counts per status, CPU and memory sums, sample counts and peaks, and incidents (UNHEALTHY records
-- whose previous known record of the same instance was not UNHEALTHY). Every statistic is a sum or
-- a max over these rows, so any bucket [from, to) at millisecond precision is answered exactly, from
-- ~8,640 rows for 30 days of 5-minute sweeps instead of 86 million records for 10,000 instances.
--
-- Kept exact by statement-level triggers: an INSERT, UPDATE or DELETE of records recomputes the
-- rows of the timestamps it touched, and of the next known record of each touched instance (whose
-- incident flag depends on its predecessor) — so out-of-order inserts and retention pruning, which
-- deletes in batches that may split a sweep, leave the rollup equal to a recount.

CREATE TABLE "health_check_rollups" (
    "checked_at" TIMESTAMPTZ(3) NOT NULL,
    "checks" INTEGER NOT NULL,
    "healthy" INTEGER NOT NULL,
    "degraded" INTEGER NOT NULL,
    "unhealthy" INTEGER NOT NULL,
    "unknown" INTEGER NOT NULL,
    "cpu_sum" BIGINT,
    "cpu_n" INTEGER NOT NULL,
    "cpu_peak" INTEGER,
    "mem_sum" BIGINT,
    "mem_n" INTEGER NOT NULL,
    "mem_peak" INTEGER,
    "incidents" INTEGER NOT NULL,

    CONSTRAINT "health_check_rollups_pkey" PRIMARY KEY ("checked_at")
);

-- Recomputes the rollup rows of the given timestamps from "health_checks".
CREATE FUNCTION "health_check_rollups_refresh"("ts" TIMESTAMPTZ(3)[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "health_check_rollups" WHERE "checked_at" = ANY ("ts");
  INSERT INTO "health_check_rollups"
    ("checked_at", "checks", "healthy", "degraded", "unhealthy", "unknown",
     "cpu_sum", "cpu_n", "cpu_peak", "mem_sum", "mem_n", "mem_peak", "incidents")
  SELECT h."checked_at",
         count(*)::int,
         count(*) FILTER (WHERE h."status" = 'HEALTHY')::int,
         count(*) FILTER (WHERE h."status" = 'DEGRADED')::int,
         count(*) FILTER (WHERE h."status" = 'UNHEALTHY')::int,
         count(*) FILTER (WHERE h."status" = 'UNKNOWN')::int,
         sum(h."cpu_milli"), count(h."cpu_milli")::int, max(h."cpu_milli"),
         sum(h."memory_mb"), count(h."memory_mb")::int, max(h."memory_mb"),
         count(*) FILTER (WHERE h."status" = 'UNHEALTHY' AND (
           SELECT p."status" FROM "health_checks" p
            WHERE p."instance_id" = h."instance_id" AND p."checked_at" < h."checked_at" AND p."status" <> 'UNKNOWN'
            ORDER BY p."checked_at" DESC LIMIT 1) IS DISTINCT FROM 'UNHEALTHY')::int
    FROM "health_checks" h
   WHERE h."checked_at" = ANY ("ts")
   GROUP BY h."checked_at"
  ON CONFLICT ("checked_at") DO UPDATE SET
    "checks" = EXCLUDED."checks", "healthy" = EXCLUDED."healthy", "degraded" = EXCLUDED."degraded",
    "unhealthy" = EXCLUDED."unhealthy", "unknown" = EXCLUDED."unknown", "cpu_sum" = EXCLUDED."cpu_sum",
    "cpu_n" = EXCLUDED."cpu_n", "cpu_peak" = EXCLUDED."cpu_peak", "mem_sum" = EXCLUDED."mem_sum",
    "mem_n" = EXCLUDED."mem_n", "mem_peak" = EXCLUDED."mem_peak", "incidents" = EXCLUDED."incidents";
END $$;

-- Refreshes what a set of changed records (instance, checked_at, status) affects: their timestamps,
-- and for each known (not UNKNOWN) record, the next known record of the same instance, whose
-- "previous known record" (so its incident flag) may have changed.
CREATE FUNCTION "health_check_rollups_touch"("ids" TEXT[], "ats" TIMESTAMPTZ(3)[], "sts" TEXT[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "health_check_rollups_refresh"(ARRAY(
    SELECT DISTINCT x."t" FROM (
      SELECT c."at" AS "t" FROM unnest("ids", "ats", "sts") AS c("id", "at", "st")
      UNION ALL
      SELECT (SELECT n."checked_at" FROM "health_checks" n
               WHERE n."instance_id" = c."id" AND n."checked_at" > c."at" AND n."status" <> 'UNKNOWN'
               ORDER BY n."checked_at" LIMIT 1)
        FROM unnest("ids", "ats", "sts") AS c("id", "at", "st")
       WHERE c."st" <> 'UNKNOWN'
    ) x WHERE x."t" IS NOT NULL));
END $$;

CREATE FUNCTION "health_check_rollups_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "health_check_rollups_touch"(array_agg(r."instance_id"), array_agg(r."checked_at"), array_agg(r."status"::text)) FROM "new_rows" r;
  RETURN NULL;
END $$;

CREATE FUNCTION "health_check_rollups_after_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "health_check_rollups_touch"(array_agg(r."instance_id"), array_agg(r."checked_at"), array_agg(r."status"::text)) FROM "old_rows" r;
  RETURN NULL;
END $$;

CREATE FUNCTION "health_check_rollups_after_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "health_check_rollups_touch"(array_agg(r."instance_id"), array_agg(r."checked_at"), array_agg(r."status"::text))
     FROM (SELECT "instance_id", "checked_at", "status" FROM "old_rows" UNION ALL SELECT "instance_id", "checked_at", "status" FROM "new_rows") r;
  RETURN NULL;
END $$;

CREATE FUNCTION "health_check_rollups_after_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "health_check_rollups";
  RETURN NULL;
END $$;

CREATE TRIGGER "health_check_rollups_insert" AFTER INSERT ON "health_checks"
  REFERENCING NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_check_rollups_after_insert"();
CREATE TRIGGER "health_check_rollups_delete" AFTER DELETE ON "health_checks"
  REFERENCING OLD TABLE AS "old_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_check_rollups_after_delete"();
CREATE TRIGGER "health_check_rollups_update" AFTER UPDATE ON "health_checks"
  REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_check_rollups_after_update"();
CREATE TRIGGER "health_check_rollups_truncate" AFTER TRUNCATE ON "health_checks"
  FOR EACH STATEMENT EXECUTE FUNCTION "health_check_rollups_after_truncate"();

-- The records already there.
SELECT "health_check_rollups_refresh"(ARRAY(SELECT DISTINCT "checked_at" FROM "health_checks"));

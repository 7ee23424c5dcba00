-- The admin health summary without reading the whole fleet (issue 14).
--
-- "instance_counts": the number of instances per (status, health_status), as deltas kept by triggers
-- on "instances" in the same transaction as each change: +1 for a new row or a row's new pair, -1 for
-- a deleted row or a row's old pair. sum("n") per pair is therefore exactly what
-- SELECT status, health_status, count(*) FROM instances GROUP BY 1, 2 gives, in any snapshot. An
-- UPDATE that changes neither column costs nothing (the trigger's WHEN), so the health sweep's
-- rewrite of every instance's health only adds rows for instances whose health changed. Append-only
-- (no shared counter row for concurrent transactions to queue on); the health sweep and the backup
-- loop fold the deltas into one row per pair (src/modules/health/health.sql.ts, compactInstanceCountsSql).
CREATE TABLE "instance_counts" (
    "id" BIGSERIAL NOT NULL,
    "status" "InstanceStatus" NOT NULL,
    "health_status" "HealthStatus" NOT NULL,
    "n" INTEGER NOT NULL,

    CONSTRAINT "instance_counts_pkey" PRIMARY KEY ("id")
);

CREATE FUNCTION "instance_counts_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "instance_counts" ("status", "health_status", "n")
  SELECT r."status", r."health_status", count(*)::int FROM "new_rows" r GROUP BY 1, 2;
  RETURN NULL;
END $$;

CREATE FUNCTION "instance_counts_after_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "instance_counts" ("status", "health_status", "n")
  SELECT r."status", r."health_status", -count(*)::int FROM "old_rows" r GROUP BY 1, 2;
  RETURN NULL;
END $$;

CREATE FUNCTION "instance_counts_after_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "instance_counts" ("status", "health_status", "n")
  VALUES (OLD."status", OLD."health_status", -1), (NEW."status", NEW."health_status", 1);
  RETURN NULL;
END $$;

CREATE FUNCTION "instance_counts_after_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "instance_counts";
  RETURN NULL;
END $$;

CREATE TRIGGER "instance_counts_insert" AFTER INSERT ON "instances"
  REFERENCING NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "instance_counts_after_insert"();
CREATE TRIGGER "instance_counts_delete" AFTER DELETE ON "instances"
  REFERENCING OLD TABLE AS "old_rows" FOR EACH STATEMENT EXECUTE FUNCTION "instance_counts_after_delete"();
CREATE TRIGGER "instance_counts_update" AFTER UPDATE OF "status", "health_status" ON "instances"
  FOR EACH ROW WHEN (OLD."status" IS DISTINCT FROM NEW."status" OR OLD."health_status" IS DISTINCT FROM NEW."health_status")
  EXECUTE FUNCTION "instance_counts_after_update"();
CREATE TRIGGER "instance_counts_truncate" AFTER TRUNCATE ON "instances"
  FOR EACH STATEMENT EXECUTE FUNCTION "instance_counts_after_truncate"();

-- The instances already there (after the triggers: CREATE TRIGGER locks out concurrent writers until commit).
INSERT INTO "instance_counts" ("status", "health_status", "n")
SELECT "status", "health_status", count(*)::int FROM "instances" GROUP BY 1, 2;

-- Fleet-wide values that are too costly to compute per request and change only with time or with the
-- loops' work, computed by the loops and read by the health summary and /metrics: one row per value,
-- with the (clock) time it was computed at. Today: "backups_overdue" (the overdue rule of
-- src/modules/backups/backup-schedule.sql.ts), written by the backup loop and at the end of each health
-- sweep; a reader falls back to computing it when the row is older than it accepts.
CREATE TABLE "fleet_gauges" (
    "name" TEXT NOT NULL,
    "value" INTEGER NOT NULL,
    "computed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "fleet_gauges_pkey" PRIMARY KEY ("name")
);

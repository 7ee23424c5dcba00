-- Scheduled backups (issue 18): a daily backup and a retention count per plan, as catalog data.
-- backup_retention: scheduled backups kept per instance (0 = no scheduled backups; manual backups are not
-- counted). backup_hour_utc: the start of the plan's daily window; each instance's slot inside the window
-- is spread by its id (BACKUP_SCHEDULE_SPREAD), so a large fleet does not snapshot all at once.
ALTER TABLE "plans" ADD COLUMN "backup_retention" INTEGER NOT NULL DEFAULT 0,
                    ADD COLUMN "backup_hour_utc" INTEGER NOT NULL DEFAULT 2;
ALTER TABLE "plans" ADD CONSTRAINT "plans_backup_retention_check" CHECK ("backup_retention" BETWEEN 0 AND 365),
                    ADD CONSTRAINT "plans_backup_hour_utc_check" CHECK ("backup_hour_utc" BETWEEN 0 AND 23);

-- Backfill: existing plans with a volume get daily backups, with the values the seeded catalog gives a new
-- database (src/modules/catalog/catalog.seed.ts): the seeded larger plans keep 14, every other plan 7; the
-- window starts at 01:00 UTC for PostgreSQL, 02:00 for n8n, 03:00 for Ghost (and 02:00 for other services).
UPDATE "plans" p
   SET "backup_retention" = CASE WHEN (s."slug", p."slug") IN (('n8n', 'pro'), ('ghost', 'pro'), ('postgresql', 'medium')) THEN 14 ELSE 7 END,
       "backup_hour_utc" = CASE s."template" WHEN 'postgresql' THEN 1 WHEN 'ghost' THEN 3 ELSE 2 END
  FROM "services" s
 WHERE s."id" = p."service_id" AND p."storage_gb" > 0;

-- Never two pending backups of one instance (a manual request racing the schedule): the database says no.
CREATE UNIQUE INDEX "backups_instance_pending_key" ON "backups" ("instance_id") WHERE "status" = 'PENDING' AND "delete_requested_at" IS NULL;

-- Good backups by instance and time: the overdue rule (health summary, gauge, events) is an anti-join on it.
CREATE INDEX "backups_instance_id_status_ready_at_idx" ON "backups"("instance_id", "status", "ready_at");

-- The schedule's memory per instance: the last daily slot handled, and the announced overdue episode.
CREATE TABLE "backup_schedules" (
    "instance_id" TEXT NOT NULL,
    "last_slot_at" TIMESTAMPTZ(3),
    "overdue_noted_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "backup_schedules_pkey" PRIMARY KEY ("instance_id")
);

ALTER TABLE "backup_schedules" ADD CONSTRAINT "backup_schedules_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

/**
 * The backup schedule's SQL, as tagged `Prisma.sql` (parameters, never interpolated text): which
 * instances are due a scheduled backup, and which have no good backup in 48 h (the admin health
 * summary, the `minispod_backups_overdue` gauge and the loop's overdue events all use the same rule).
 *
 * The schedule: a plan with `backup_retention > 0` (and a volume) backs up each RUNNING or STOPPED
 * instance once a day. The instance's daily slot is `backup_hour_utc` plus an offset in
 * [0, spread) taken from the md5 of its id, so 10,000 instances of one plan are spread over the window
 * (BACKUP_SCHEDULE_SPREAD, default 4 h) instead of all snapshotting at the same second; the slot is
 * stable (the same every day) and needs no stored per-instance state. `slotOffsetSeconds` below is the
 * same computation in TypeScript.
 */
import { createHash } from "node:crypto";
import { Prisma } from "../../platform/db/index.js";

/** An instance without a READY backup this long (and older than this itself) is overdue. */
export const BACKUP_OVERDUE_HOURS = 48;

/** The instance's offset inside its plan's daily window: the first 28 bits of md5(id), modulo the spread. */
export function slotOffsetSeconds(instanceId: string, spreadMs: number): number {
  const h = Number.parseInt(createHash("md5").update(instanceId).digest("hex").slice(0, 7), 16);
  return h % Math.max(1, Math.floor(spreadMs / 1000));
}

/** The instance's latest daily slot at or before `now`. */
export function lastSlotAt(instanceId: string, backupHourUtc: number, spreadMs: number, now: Date): Date {
  const day = 86_400_000;
  const origin = backupHourUtc * 3_600_000 + slotOffsetSeconds(instanceId, spreadMs) * 1000;
  return new Date(now.getTime() - ((((now.getTime() - origin) % day) + day) % day));
}

/** The SQL twin of `lastSlotAt` for row `i` of "instances" joined to plan `p`. */
function slotSql(now: Date, spreadMs: number): Prisma.Sql {
  const spreadSeconds = Math.max(1, Math.floor(spreadMs / 1000));
  return Prisma.sql`date_bin(interval '1 day', ${now}::timestamptz,
           '1970-01-01T00:00:00Z'::timestamptz
             + make_interval(hours => p."backup_hour_utc",
                             secs => (('x' || substr(md5(i."id"), 1, 7))::bit(28)::int % ${spreadSeconds}::int)))`;
}

export interface DueInstanceRow {
  id: string;
  slot: Date;
  /** Due, but a backup of it is pending (never two at once): its slot waits for a later pass. At most one such row. */
  deferred: boolean;
}

/**
 * ONE statement for the whole fleet: the instances whose latest slot has passed and has not been
 * handled (no backup_schedules row at or after it), that were created before that slot (a new instance
 * waits for its first slot), and that have no pending backup (never two at once) — oldest slot first,
 * at most `limit` — plus at most one row flagged `deferred`: a due instance that waits for its pending
 * backup (so the loop knows to look again soon).
 */
export function dueInstancesSql(now: Date, spreadMs: number, limit: number): Prisma.Sql {
  // MATERIALIZED: each instance's slot (an md5 and a date_bin) is computed once, not once per use.
  return Prisma.sql`
    WITH c AS MATERIALIZED (
      SELECT i."id", i."created_at", ${slotSql(now, spreadMs)} AS "slot"
        FROM "instances" i
        JOIN "plans" p ON p."id" = i."plan_id"
       WHERE i."status" IN ('RUNNING', 'STOPPED') AND i."desired_state" <> 'TERMINATED'
         AND p."backup_retention" > 0 AND p."storage_gb" > 0
    ), d AS MATERIALIZED (
      SELECT c."id", c."slot",
             EXISTS (SELECT 1 FROM "backups" b
                      WHERE b."instance_id" = c."id" AND b."status" = 'PENDING' AND b."delete_requested_at" IS NULL) AS "deferred"
        FROM c LEFT JOIN "backup_schedules" s ON s."instance_id" = c."id"
       WHERE c."slot" > c."created_at"
         AND (s."last_slot_at" IS NULL OR s."last_slot_at" < c."slot")
    )
    (SELECT d."id", d."slot", FALSE AS "deferred" FROM d WHERE NOT d."deferred" ORDER BY d."slot", d."id" LIMIT ${limit})
    UNION ALL
    (SELECT d."id", d."slot", TRUE FROM d WHERE d."deferred" LIMIT 1)`;
}

/** A good backup of instance `i`: READY, not being deleted (manual or scheduled). */
const GOOD = Prisma.sql`b."instance_id" = i."id" AND b."status" = 'READY' AND b."delete_requested_at" IS NULL`;

/**
 * The overdue rule, as a FROM … WHERE over instances `i` (with plan `p`): RUNNING or STOPPED, its plan
 * schedules backups, older than 48 h, and no good backup that became ready in the last 48 h. An
 * anti-join on the index `backups_instance_id_status_ready_at_idx`, so it stays cheap for a large fleet.
 */
function overdueFromSql(now: Date): Prisma.Sql {
  const since = new Date(now.getTime() - BACKUP_OVERDUE_HOURS * 3_600_000);
  return Prisma.sql`
      FROM "instances" i
      JOIN "plans" p ON p."id" = i."plan_id"
     WHERE i."status" IN ('RUNNING', 'STOPPED') AND p."backup_retention" > 0 AND p."storage_gb" > 0
       AND i."created_at" < ${since}::timestamptz
       AND NOT EXISTS (SELECT 1 FROM "backups" b WHERE ${GOOD} AND b."ready_at" >= ${since}::timestamptz)`;
}

/** How many instances are overdue, counted now: a scalar subquery (a fleet-wide anti-join: ~10 ms at 10,000 instances). */
export function overdueCountSql(now: Date): Prisma.Sql {
  return Prisma.sql`(SELECT count(*)::int ${overdueFromSql(now)})`;
}

/** The "fleet_gauges" row of the overdue count (written by the backup loop and at the end of each health sweep). */
export const BACKUPS_OVERDUE_GAUGE = "backups_overdue";

/**
 * How old (by the clock) a stored overdue count may be and still be served. The backup loop refreshes
 * it at most a minute apart (OVERDUE_REFRESH_MS in backup-schedule.ts) while it runs, and at once after
 * a pass in which a backup became READY or was deleted; each health sweep refreshes it too.
 */
export const BACKUPS_OVERDUE_MAX_AGE_MS = 2 * 60_000;

/**
 * How many instances are overdue, as a scalar expression for one statement: the stored count when it
 * was computed within BACKUPS_OVERDUE_MAX_AGE_MS before `now`, else counted now (COALESCE evaluates
 * the count only when no such row exists: no backup loop running, or a clock that moved back).
 */
export function storedOverdueCountSql(now: Date): Prisma.Sql {
  const since = new Date(now.getTime() - BACKUPS_OVERDUE_MAX_AGE_MS);
  return Prisma.sql`coalesce(
      (SELECT g."value" FROM "fleet_gauges" g
        WHERE g."name" = ${BACKUPS_OVERDUE_GAUGE} AND g."computed_at" > ${since}::timestamptz AND g."computed_at" <= ${now}::timestamptz),
      ${overdueCountSql(now)})`;
}

/** Stores the count of the overdue instances in CTE `from` (one row per instance) as of `now`; a newer stored count wins. */
function storeOverdueCountSql(now: Date, from: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "fleet_gauges" ("name", "value", "computed_at")
    SELECT ${BACKUPS_OVERDUE_GAUGE}, count(*)::int, ${now}::timestamptz FROM ${from}
    ON CONFLICT ("name") DO UPDATE SET "value" = EXCLUDED."value", "computed_at" = EXCLUDED."computed_at"
     WHERE "fleet_gauges"."computed_at" <= EXCLUDED."computed_at"`;
}

/** Counts the overdue instances now and stores the count (the end of a health sweep). */
export function refreshOverdueCountSql(now: Date): Prisma.Sql {
  return Prisma.sql`WITH o AS (SELECT i."id" ${overdueFromSql(now)}) ${storeOverdueCountSql(now, Prisma.sql`o`)}`;
}

/** A condition on instances `i`: it is overdue (the instance list's `backupOverdue=true` filter). */
export function overdueInstanceIdsSql(now: Date): Prisma.Sql {
  return Prisma.sql`i."id" IN (SELECT i."id" ${overdueFromSql(now)})`;
}

export interface OverdueInstanceRow {
  id: string;
  last_good_at: Date | null;
}

/**
 * ONE fleet-wide pass of the overdue rule for the backup loop: stores how many instances are overdue
 * (the health summary's and the gauge's value, as of `now`) and returns the overdue instances whose
 * overdue episode has not been announced yet: never noted, or a good backup became ready after the
 * note (that episode ended; this is a new one). At most `limit`.
 */
export function overdueUnnotedSql(now: Date, limit: number): Prisma.Sql {
  return Prisma.sql`
    WITH o AS MATERIALIZED (SELECT i."id" ${overdueFromSql(now)}),
         stored AS (${storeOverdueCountSql(now, Prisma.sql`o`)})
    SELECT i."id", (SELECT max(b."ready_at") FROM "backups" b WHERE ${GOOD}) AS "last_good_at"
      FROM o i
     WHERE NOT EXISTS (SELECT 1 FROM "backup_schedules" s
                        WHERE s."instance_id" = i."id" AND s."overdue_noted_at" IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM "backups" b WHERE ${GOOD} AND b."ready_at" > s."overdue_noted_at"))
     ORDER BY i."id"
     LIMIT ${limit}`;
}

export interface RetentionVictimRow {
  id: string;
  instance_id: string;
  snapshot_name: string;
  status: "READY" | "FAILED";
  keep: number;
}

/**
 * What retention removes for these instances: the READY scheduled backups beyond the plan's count
 * (oldest first; the newest `backup_retention` stay), and the FAILED scheduled ones older than the
 * newest READY scheduled backup (a later success supersedes them; their failure stays in the events).
 * Manual backups are neither counted nor removed; a backup the instance is being restored from stays.
 */
export function retentionVictimsSql(instanceIds: string[]): Prisma.Sql {
  return Prisma.sql`
    WITH r AS (
      SELECT b."id", b."instance_id", b."snapshot_name", b."status"::text AS "status", b."created_at",
             row_number() OVER (PARTITION BY b."instance_id" ORDER BY b."created_at" DESC, b."id" DESC) AS "n",
             max(b."created_at") OVER (PARTITION BY b."instance_id") AS "newest"
        FROM "backups" b
       WHERE b."instance_id" = ANY(${instanceIds}::text[]) AND b."trigger" = 'scheduled'
         AND b."status" = 'READY' AND b."delete_requested_at" IS NULL
    )
    SELECT r."id", r."instance_id", r."snapshot_name", r."status", p."backup_retention" AS "keep"
      FROM r JOIN "instances" i ON i."id" = r."instance_id" JOIN "plans" p ON p."id" = i."plan_id"
     WHERE r."n" > p."backup_retention" AND r."snapshot_name" IS DISTINCT FROM i."restore_snapshot"
    UNION ALL
    SELECT f."id", f."instance_id", f."snapshot_name", 'FAILED', p."backup_retention"
      FROM "backups" f JOIN "instances" i ON i."id" = f."instance_id" JOIN "plans" p ON p."id" = i."plan_id"
     WHERE f."instance_id" = ANY(${instanceIds}::text[]) AND f."trigger" = 'scheduled' AND f."status" = 'FAILED'
       AND f."delete_requested_at" IS NULL
       AND f."created_at" < (SELECT max(r."newest") FROM r WHERE r."instance_id" = f."instance_id")
     ORDER BY 2, 1`;
}

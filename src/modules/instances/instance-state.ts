/**
 * Instance state transitions and their events, in one place. Every change of an instance's status,
 * desired state or generation is written here, with the event that records it on the instance's
 * timeline: by the API (plan change, restart, delete), by billing (suspend, resume, terminate a
 * subscription's instances), by the health sweep (repair of missing objects) and by the reconciler
 * (the lifecycle's steps). Each function runs on the database handle it is given, so callers put
 * it inside their own transaction.
 *
 * A request for new work bumps `generation` (the reconciler re-applies every object whenever
 * generation > applied_generation); the reconciler's final update is guarded by the generation it
 * read, so a request that arrives while it works is never lost.
 */
import { orderedId } from "../../platform/ordered-id.js";
import type { DesiredState, InstanceStatus, Prisma as PrismaNs } from "../../generated/prisma/client.js";
import { Prisma, type SqlTarget, sqlRows } from "../../platform/db/index.js";
import type { PodProblemReason } from "../../kube/status.js";
import type { Db, Tx } from "../../platform/db/index.js";

/** Every type of event an instance's timeline can show. */
export type InstanceEventType =
  // requested (API, billing, health)
  | "CREATED"
  | "UPDATE_REQUESTED"
  | "RESTART_REQUESTED"
  | "STOP_REQUESTED"
  | "START_REQUESTED"
  | "RESTORE_REQUESTED"
  | "TERMINATION_REQUESTED"
  | "SUSPENDED"
  | "RESUMED"
  | "HEALTH_CHANGED"
  | "HEALTH_OBJECTS_MISSING"
  // backups (src/modules/backups/backup-state.ts)
  | "BACKUP_REQUESTED"
  | "BACKUP_READY"
  | "BACKUP_FAILED"
  | "BACKUP_DELETE_REQUESTED"
  | "BACKUP_DELETED"
  | "BACKUP_OVERDUE"
  | "BACKUP_RETAINED"
  | "BACKUP_MOVED"
  | "HEALTH_DRIFT"
  | "HEALTH_VOLUME_LOST"
  // the reconciler's steps
  | "PROVISIONING_STARTED"
  | "RESUMING"
  | "STARTING"
  | "STOPPED"
  | "RESTORE_FAILED"
  // version upgrades (PUT /version; the steps below)
  | "UPGRADE_REQUESTED"
  | "UPGRADE_SNAPSHOT_READY"
  | "UPGRADE_STARTED"
  | "UPGRADE_ROLLED_OUT"
  | "UPGRADE_FAILED"
  | "UPGRADE_ROLLED_BACK"
  | "TENANT_READY"
  | "OBJECTS_APPLIED"
  | "ROLLOUT_WAITING"
  | "STUCK_POD_DELETED"
  | `POD_${Uppercase<PodProblemReason>}`
  | "RUNNING"
  | `${InstanceStatus}_COMPLETE`
  | "RETRYING"
  | "TERMINATING"
  | "TERMINATED"
  | "FAILED"
  | "REFUNDED"
  // credentials (kept in the database; the Secret is rendered from them)
  | "CREDENTIALS_ADOPTED"
  | "CREDENTIALS_LOST";

export type InstanceEventLevel = "INFO" | "WARN" | "ERROR";

export interface InstanceEventInput {
  type: InstanceEventType;
  message: string;
  level?: InstanceEventLevel;
  data?: PrismaNs.InputJsonValue;
}

/** Columns of an event row, in the order `eventValues` gives them (and every raw event INSERT lists them). */
export const EVENT_COLUMNS = Prisma.raw(`"id", "instance_id", "type", "level", "message", "data", "created_at"`);

/**
 * A new event id. Timelines order events by (created_at, id), so ids sort in the order they were made
 * (`orderedId`): events written in the same millisecond keep the order they were written in.
 */
export const newEventId = (): string => orderedId();

/** One event row's values (a new id; `data` as JSON, or NULL). */
function eventValues(instanceId: string | PrismaNs.Sql, e: InstanceEventInput, at: Date): PrismaNs.Sql {
  const data = e.data === undefined ? null : JSON.stringify(e.data);
  return Prisma.sql`${newEventId()}, ${instanceId}, ${e.type}, ${e.level ?? "INFO"}, ${e.message}, ${data}::jsonb, ${at}`;
}

/** The INSERT of one event of the instance, to run alone (`recordEvent`) or inside another statement. */
export function insertEventSql(instanceId: string, e: InstanceEventInput, at: Date): PrismaNs.Sql {
  return Prisma.sql`INSERT INTO "instance_events" (${EVENT_COLUMNS}) VALUES (${eventValues(instanceId, e, at)})`;
}

/** Records one event of the instance (in `db`: pass the change's transaction). One raw statement. */
export async function recordEvent(db: SqlTarget, instanceId: string, e: InstanceEventInput, at = new Date()): Promise<void> {
  await sqlRows(db, insertEventSql(instanceId, e, at));
}

/** The event of a pod stuck in `reason` (e.g. POD_IMAGEPULLBACKOFF). */
export function podProblemEvent(reason: PodProblemReason): InstanceEventType {
  return `POD_${reason.toUpperCase() as Uppercase<PodProblemReason>}`;
}

/** A fresh transition: due now, no attempts, its clock not started (the reconciler starts it). */
function freshTransition(now: Date) {
  return {
    statusMessage: null,
    generation: { increment: 1 },
    nextAttemptAt: now,
    attempts: 0,
    transitionStartedAt: null,
    transitionDeadline: null,
  } as const;
}

// ---- requested by the API, billing and the health sweep ------------------------------------------

/** PUT /update: the instance moves to `planId` and is UPDATING. Returns the updated row with `include`. */
export async function requestPlanChange<I extends PrismaNs.InstanceInclude>(
  tx: Tx,
  inst: { id: string; planId: string },
  change: { planId: string; now: Date; include: I; message: string; data: PrismaNs.InputJsonValue },
) {
  const updated = await tx.instance.update({
    where: { id: inst.id },
    data: { planId: change.planId, status: "UPDATING", ...freshTransition(change.now) },
    include: change.include,
  });
  await recordEvent(tx, inst.id, { type: "UPDATE_REQUESTED", message: change.message, data: change.data });
  return updated;
}

/** POST /restart: RESTARTING, unless the instance changed meanwhile (then false and nothing written). */
export async function requestRestart(
  db: Db,
  inst: { id: string; status: InstanceStatus; generation: number },
  now: Date,
): Promise<boolean> {
  const res = await db.instance.updateMany({
    where: { id: inst.id, status: inst.status, generation: inst.generation },
    data: { status: "RESTARTING", restartRequestedAt: now, ...freshTransition(now) },
  });
  if (res.count !== 1) return false;
  await recordEvent(db, inst.id, { type: "RESTART_REQUESTED", message: "Restart requested" });
  return true;
}

/**
 * POST /stop: desired STOPPED (the reconciler scales to 0, keeping every object and the volume; the
 * status stays RUNNING until no pod is left, then STOPPED). Only a RUNNING instance that is meant
 * to run can be stopped; false (nothing written) when it changed meanwhile.
 */
export async function requestStop(
  db: Db,
  inst: { id: string; generation: number },
  now: Date,
  message = "Stop requested: scaling to 0, data kept",
): Promise<boolean> {
  const res = await db.instance.updateMany({
    where: { id: inst.id, status: "RUNNING", desiredState: "RUNNING", generation: inst.generation },
    data: { desiredState: "STOPPED", ...freshTransition(now) },
  });
  if (res.count !== 1) return false;
  await recordEvent(db, inst.id, { type: "STOP_REQUESTED", message });
  return true;
}

/**
 * POST /start: desired RUNNING again for a STOPPED instance (the reconciler scales it back up: UPDATING,
 * then RUNNING). False (nothing written) when it changed meanwhile.
 */
export async function requestStart(db: Db, inst: { id: string; generation: number }, now: Date): Promise<boolean> {
  const res = await db.instance.updateMany({
    where: { id: inst.id, status: "STOPPED", desiredState: "STOPPED", generation: inst.generation },
    data: { desiredState: "RUNNING", ...freshTransition(now) },
  });
  if (res.count !== 1) return false;
  await recordEvent(db, inst.id, { type: "START_REQUESTED", message: "Start requested" });
  return true;
}

/**
 * The backup loop stopped a PostgreSQL instance for its snapshot (requestStop) and the cut is taken
 * (or the backup gave up): desired RUNNING again, whether or not it had finished scaling down.
 */
export async function resumeAfterBackup(db: Db, instanceId: string, now: Date, message: string): Promise<boolean> {
  const res = await db.instance.updateMany({
    where: { id: instanceId, desiredState: "STOPPED", status: { in: ["RUNNING", "STOPPED"] } },
    data: { desiredState: "RUNNING", ...freshTransition(now) },
  });
  if (res.count !== 1) return false;
  await recordEvent(db, instanceId, { type: "START_REQUESTED", message });
  return true;
}

/**
 * POST /restore: RESTORING onto a new PVC `claim` made from the VolumeSnapshot `snapshot`; the old
 * claim is kept until the workload runs on the new one. False (nothing written) when the instance
 * changed meanwhile.
 */
export async function requestRestore(
  db: Db,
  inst: { id: string; generation: number },
  r: { claim: string; snapshot: string; backupId: string; now: Date },
): Promise<boolean> {
  const res = await db.instance.updateMany({
    where: { id: inst.id, status: "RUNNING", desiredState: "RUNNING", generation: inst.generation, restoreClaim: null },
    data: { status: "RESTORING", restoreClaim: r.claim, restoreSnapshot: r.snapshot, ...freshTransition(r.now) },
  });
  if (res.count !== 1) return false;
  await recordEvent(db, inst.id, {
    type: "RESTORE_REQUESTED",
    message: `Restore requested from backup ${r.snapshot}: new volume ${r.claim}`,
    data: { backupId: r.backupId, snapshot: r.snapshot, claim: r.claim },
  });
  return true;
}

/** The restored workload runs: its new claim becomes the instance's volume (with the convergence). */
export async function restoreSwitched(
  db: Db,
  inst: { id: string; restoreClaim: string | null; restoreSnapshot: string | null },
): Promise<void> {
  if (!inst.restoreClaim) return;
  await db.instance.update({
    where: { id: inst.id },
    data: { volumeClaim: inst.restoreClaim, volumeSnapshot: inst.restoreSnapshot, restoreClaim: null, restoreSnapshot: null },
  });
}

/**
 * The restored workload never became ready: back to the old claim (a new generation, UPDATING, its
 * own deadline), loudly. The caller deletes the new claim.
 */
export async function restoreRolledBack(db: Db, inst: { id: string; restoreClaim: string | null }, reason: string, now: Date) {
  await db.instance.update({
    where: { id: inst.id },
    data: { status: "UPDATING", restoreClaim: null, restoreSnapshot: null, ...freshTransition(now) },
  });
  await recordEvent(db, inst.id, {
    type: "RESTORE_FAILED",
    level: "ERROR",
    message: `Restore failed (${reason}); switching back to the previous volume`,
    data: { claim: inst.restoreClaim },
  });
}

// ---- version upgrades (PUT /version) ----------------------------------------------------------------
//
//   requestUpgrade           RUNNING; upgradeToVersion + upgradeBackupId set, the pre-upgrade backup PENDING
//   beginUpgradeRollout      the backup is READY: UPGRADING on the new version/image (a new generation)
//   upgradeAbandoned         the backup FAILED (or the instance changed meanwhile): nothing rolled out
//   upgradeRolledOut         the new version runs: RUNNING, the upgrade columns cleared
//   upgradeRollingBack       it never ran: back to the previous version/image, RESTORING from the backup's snapshot
//   upgradeRolledBack        the previous version runs again (on the snapshot's data): the upgrade columns cleared

/** The upgrade's columns all cleared. */
const NO_UPGRADE = { upgradeToVersion: null, upgradeBackupId: null, upgradeFromVersion: null, upgradeFromImage: null } as const;

/**
 * PUT /version: records the upgrade (target version), then has `takeBackup` request the pre-upgrade
 * backup (null: no volume) and records which. The instance keeps running its version until the backup
 * is READY. Null (nothing written) when the instance changed meanwhile; else the backup's id.
 */
export async function requestUpgrade(
  db: Db,
  inst: { id: string; generation: number; version: string },
  u: { toVersion: string; takeBackup: () => Promise<{ id: string; snapshotName: string } | null> },
): Promise<{ backupId: string | null } | null> {
  const res = await db.instance.updateMany({
    where: {
      id: inst.id,
      status: "RUNNING",
      desiredState: "RUNNING",
      generation: inst.generation,
      upgradeToVersion: null,
      restoreClaim: null,
    },
    data: { ...NO_UPGRADE, upgradeToVersion: u.toVersion },
  });
  if (res.count !== 1) return null;
  await recordEvent(db, inst.id, {
    type: "UPGRADE_REQUESTED",
    message: `Upgrade ${inst.version} -> ${u.toVersion} requested`,
    data: { fromVersion: inst.version, toVersion: u.toVersion },
  });
  const backup = await u.takeBackup();
  if (backup) await db.instance.update({ where: { id: inst.id }, data: { upgradeBackupId: backup.id } });
  return { backupId: backup?.id ?? null };
}

/**
 * The pre-upgrade backup is READY (or there is no volume to back up): UPGRADING on the new version and
 * image — a new generation the reconciler rolls out, with its own rollout deadline. A PostgreSQL
 * instance stopped for the snapshot (`quiesced`) is started on the new version directly. False (nothing
 * written) when the instance is no longer where the upgrade left it.
 */
export async function beginUpgradeRollout(
  db: Db,
  inst: { id: string; upgradeToVersion: string | null; upgradeBackupId: string | null; version: string | null; image: string | null },
  u: { image: string; fromVersion: string; fromImage: string; quiesced: boolean; snapshotName: string | null; now: Date },
): Promise<boolean> {
  if (!inst.upgradeToVersion) return false;
  const res = await db.instance.updateMany({
    where: {
      id: inst.id,
      upgradeToVersion: inst.upgradeToVersion,
      upgradeBackupId: inst.upgradeBackupId,
      upgradeFromVersion: null,
      OR: [
        { status: "RUNNING", desiredState: "RUNNING" },
        ...(u.quiesced ? [{ status: "STOPPED" as const, desiredState: "STOPPED" as const }] : []),
      ],
    },
    data: {
      status: "UPGRADING",
      desiredState: "RUNNING",
      version: inst.upgradeToVersion,
      image: u.image,
      upgradeFromVersion: u.fromVersion,
      upgradeFromImage: u.fromImage,
      ...freshTransition(u.now),
    },
  });
  if (res.count !== 1) return false;
  if (u.snapshotName) {
    await recordEvent(db, inst.id, {
      type: "UPGRADE_SNAPSHOT_READY",
      message: `Pre-upgrade backup ${u.snapshotName} is ready`,
      data: { backupId: inst.upgradeBackupId },
    });
  }
  await recordEvent(db, inst.id, {
    type: "UPGRADE_STARTED",
    message: `Rolling out ${u.image}:${inst.upgradeToVersion} (was ${u.fromVersion})`,
    data: { fromVersion: u.fromVersion, toVersion: inst.upgradeToVersion, image: u.image },
  });
  return true;
}

/**
 * The upgrade never started (its pre-upgrade backup failed, or the instance changed meanwhile): the
 * instance stays on its version, loudly. Guarded by the backup it waited for.
 */
export async function upgradeAbandoned(db: Db, inst: { id: string; upgradeBackupId: string | null }, reason: string): Promise<boolean> {
  const cur = await db.instance.findUnique({ where: { id: inst.id }, select: { upgradeToVersion: true, version: true } });
  const res = await db.instance.updateMany({
    where: { id: inst.id, upgradeBackupId: inst.upgradeBackupId, upgradeToVersion: { not: null }, upgradeFromVersion: null },
    data: NO_UPGRADE,
  });
  if (res.count !== 1) return false;
  await recordEvent(db, inst.id, {
    type: "UPGRADE_FAILED",
    level: "ERROR",
    message: `Upgrade to ${cur?.upgradeToVersion ?? "?"} not started: ${reason}; the instance stays on ${cur?.version ?? "its version"}`,
    data: { toVersion: cur?.upgradeToVersion ?? null, backupId: inst.upgradeBackupId, reason, rolledOut: false },
  });
  return true;
}

/** The new version runs (the reconciler's convergence from UPGRADING, in its transaction). */
export async function upgradeRolledOut(
  db: Db,
  inst: { id: string; version: string | null; upgradeFromVersion: string | null; upgradeBackupId: string | null },
  tookMs: number,
): Promise<void> {
  await db.instance.update({ where: { id: inst.id }, data: NO_UPGRADE });
  await recordEvent(db, inst.id, {
    type: "UPGRADE_ROLLED_OUT",
    message: `Upgraded ${inst.upgradeFromVersion ?? "?"} -> ${inst.version ?? "?"} in ${tookMs} ms; the pre-upgrade backup is kept`,
    data: { fromVersion: inst.upgradeFromVersion, toVersion: inst.version, backupId: inst.upgradeBackupId, durationMs: tookMs },
  });
}

/**
 * The new version did not become ready (rollout timeout, stuck pods, or a refused object): back to the
 * previous version and image. With a pre-upgrade snapshot, RESTORING onto a new PVC `claim` made from
 * it (the data as it was before the new version touched it; the restore machinery switches and cleans
 * up); without one (no volume), UPDATING on the old image. A new generation, its own deadline.
 */
export async function upgradeRollingBack(
  db: Db,
  inst: { id: string; version: string | null; upgradeFromVersion: string | null; upgradeFromImage: string | null },
  r: { reason: string; now: Date; restore?: { claim: string; snapshot: string } },
): Promise<void> {
  await db.instance.update({
    where: { id: inst.id },
    data: {
      status: r.restore ? "RESTORING" : "UPDATING",
      version: inst.upgradeFromVersion,
      image: inst.upgradeFromImage,
      ...(r.restore ? { restoreClaim: r.restore.claim, restoreSnapshot: r.restore.snapshot } : {}),
      ...freshTransition(r.now),
    },
  });
  await recordEvent(db, inst.id, {
    type: "UPGRADE_FAILED",
    level: "ERROR",
    message: `Upgrade to ${inst.version ?? "?"} failed (${r.reason}); rolling back to ${inst.upgradeFromVersion ?? "?"}${
      r.restore ? ` with the pre-upgrade backup ${r.restore.snapshot} on a new volume ${r.restore.claim}` : ""
    }`,
    data: {
      toVersion: inst.version,
      fromVersion: inst.upgradeFromVersion,
      reason: r.reason,
      rolledOut: true,
      ...(r.restore ? { snapshot: r.restore.snapshot, claim: r.restore.claim } : {}),
    },
  });
}

/**
 * The previous version runs again after a failed upgrade (the reconciler's convergence, in its
 * transaction). `restored`: on the pre-upgrade snapshot's data; else on the volume as it was (no
 * volume, or the snapshot's volume itself never ran — see RESTORE_FAILED).
 */
export async function upgradeRolledBack(
  db: Db,
  inst: { id: string; version: string | null; upgradeToVersion: string | null; upgradeBackupId: string | null },
  restored: boolean,
): Promise<void> {
  await db.instance.update({ where: { id: inst.id }, data: NO_UPGRADE });
  await recordEvent(db, inst.id, {
    type: "UPGRADE_ROLLED_BACK",
    level: "WARN",
    message: `Rolled back to ${inst.version ?? "?"}${restored ? " with the pre-upgrade backup's data" : ""}; the upgrade to ${inst.upgradeToVersion ?? "?"} did not happen`,
    data: { version: inst.version, toVersion: inst.upgradeToVersion, backupId: inst.upgradeBackupId, restored },
  });
}

/** DELETE of an instance whose subscription has already ended: desired TERMINATED. */
export async function requestTermination(tx: Tx, instanceId: string): Promise<void> {
  await tx.instance.update({ where: { id: instanceId }, data: { desiredState: "TERMINATED", generation: { increment: 1 } } });
  await recordEvent(tx, instanceId, { type: "TERMINATION_REQUESTED", message: "Termination requested" });
}

/** Shows an instance asked to terminate as TERMINATING at once, due now. */
export async function showTerminating(db: Db, instanceId: string, now: Date): Promise<void> {
  await db.instance.updateMany({
    where: { id: instanceId, status: { notIn: ["TERMINATED"] } },
    data: { status: "TERMINATING", nextAttemptAt: now },
  });
}

/**
 * Billing's one way of changing a subscription's instances: set their desired state, bump the
 * generation and record an event. Returns the ids to signal after commit.
 */
export async function setDesiredStateOfSubscription(
  tx: Tx,
  subscriptionId: string,
  change: {
    from: DesiredState[];
    to: DesiredState;
    eventType: "SUSPENDED" | "RESUMED" | "TERMINATION_REQUESTED";
    level?: "INFO" | "WARN";
    message: string;
    data?: PrismaNs.InputJsonValue;
  },
): Promise<string[]> {
  const instances = await tx.instance.findMany({
    where: { subscriptionId, status: { not: "TERMINATED" }, desiredState: { in: change.from } },
    select: { id: true },
  });
  for (const { id } of instances) {
    await tx.instance.update({ where: { id }, data: { desiredState: change.to, generation: { increment: 1 } } });
    await recordEvent(tx, id, {
      type: change.eventType,
      level: change.level,
      message: change.message,
      data: change.data ?? { subscriptionId },
    });
  }
  return instances.map((i) => i.id);
}

/**
 * The health sweep found objects missing or drifted (fields we applied changed or removed, in the
 * instance's objects or its tenant baseline): bumps the generation of each instance that is still
 * RUNNING at the generation the sweep read, and records which objects and what (one event each:
 * HEALTH_OBJECTS_MISSING when only objects are missing, HEALTH_DRIFT otherwise). One statement each
 * for the whole sweep. Returns the instances to signal after commit.
 */
export async function requestRepairs(
  tx: SqlTarget,
  at: Date,
  repairs: Array<{ instanceId: string; generation: number; missing: string[]; drifted?: string[] }>,
): Promise<string[]> {
  if (!repairs.length) return [];
  const rows = await sqlRows<{ id: string }>(
    tx,
    Prisma.sql`
    UPDATE "instances" i
       SET "generation" = i."generation" + 1, "next_attempt_at" = ${at}, "attempts" = 0
      FROM unnest(${repairs.map((r) => r.instanceId)}::text[], ${repairs.map((r) => r.generation)}::int[]) AS v(id, gen)
     WHERE i."id" = v.id AND i."generation" = v.gen AND i."status" = 'RUNNING' AND i."desired_state" = 'RUNNING'
     RETURNING i."id"`,
  );
  const done = new Set(rows.map((r) => r.id));
  const events = repairs.filter((r) => done.has(r.instanceId));
  if (events.length) {
    const typeOf = (r: (typeof events)[number]): InstanceEventType => (r.drifted?.length ? "HEALTH_DRIFT" : "HEALTH_OBJECTS_MISSING");
    const messageOf = (r: (typeof events)[number]) =>
      r.drifted?.length
        ? `Health check found drift (${[...r.missing.map((m) => `${m}: missing`), ...r.drifted].join("; ")}); re-applying`
        : `Health check found missing objects (${r.missing.join(", ")}); re-applying them`;
    await sqlRows(
      tx,
      Prisma.sql`
      INSERT INTO "instance_events" (${EVENT_COLUMNS})
      SELECT v.eid, v.id, v.type, 'WARN', v.message, v.data::jsonb, ${at}
        FROM unnest(${events.map(() => newEventId())}::text[], ${events.map((r) => r.instanceId)}::text[],
                    ${events.map(typeOf)}::text[], ${events.map(messageOf)}::text[],
                    ${events.map((r) => JSON.stringify(r.drifted?.length ? { missing: r.missing, drifted: r.drifted } : { missing: r.missing }))}::text[])
             AS v(eid, id, type, message, data)`,
    );
  }
  return [...done];
}

/** The first words of the reason, event and failure of an instance whose volume was deleted. */
export const VOLUME_LOST = "volume was deleted: data lost";

/**
 * The health sweep found an instance's PersistentVolumeClaim deleted: its data is lost. Recorded
 * loudly (an ERROR event, once per discovery) and never repaired by re-applying, which would put an
 * empty volume under the app.
 */
export async function recordVolumesLost(
  tx: SqlTarget,
  at: Date,
  lost: Array<{ instanceId: string; object: string; reason: string }>,
): Promise<void> {
  if (!lost.length) return;
  const type: InstanceEventType = "HEALTH_VOLUME_LOST";
  await sqlRows(
    tx,
    Prisma.sql`
    INSERT INTO "instance_events" (${EVENT_COLUMNS})
    SELECT v.eid, v.id, ${type}, 'ERROR', v.message, v.data::jsonb, ${at}
      FROM unnest(${lost.map(() => newEventId())}::text[], ${lost.map((l) => l.instanceId)}::text[],
                  ${lost.map((l) => l.reason)}::text[], ${lost.map((l) => JSON.stringify({ object: l.object }))}::text[]) AS v(eid, id, message, data)`,
  );
}

// ---- the reconciler's steps -----------------------------------------------------------------------

/** Enters (or re-enters) a transition under `status`, starting its clock and deadline if not started. */
export async function beginTransition(
  db: SqlTarget,
  instanceId: string,
  t: { status: InstanceStatus; startedAt: Date; deadline: Date },
  event?: InstanceEventInput,
) {
  const set = Prisma.sql`"status" = CAST(${t.status}::text AS "InstanceStatus"), "transition_started_at" = ${t.startedAt},
    "transition_deadline" = ${t.deadline}`;
  await updateWithEvent(db, instanceId, set, Prisma.empty, event);
}

/**
 * One statement: the instance row's update and (when given) its event, the event written only when
 * the update matched. (The reconciler's steps; each was an update and an insert, or a transaction.)
 */
async function updateWithEvent(
  db: SqlTarget,
  instanceId: string,
  set: PrismaNs.Sql,
  guard: PrismaNs.Sql,
  event?: InstanceEventInput,
): Promise<boolean> {
  const now = new Date();
  if (!event) {
    const rows = await sqlRows(
      db,
      Prisma.sql`UPDATE "instances" SET ${set}, "updated_at" = ${now} WHERE "id" = ${instanceId} ${guard} RETURNING "id"`,
    );
    return rows.length === 1;
  }
  const rows = await sqlRows(
    db,
    Prisma.sql`
    WITH u AS (UPDATE "instances" SET ${set}, "updated_at" = ${now} WHERE "id" = ${instanceId} ${guard} RETURNING "id")
    INSERT INTO "instance_events" (${EVENT_COLUMNS}) SELECT ${eventValues(Prisma.sql`u."id"`, event, now)} FROM u
    RETURNING "id"`,
  );
  return rows.length === 1;
}

/** Desired TERMINATED: the objects are being deleted. */
export async function beginTerminating(db: Db, instanceId: string): Promise<void> {
  await db.instance.update({ where: { id: instanceId }, data: { status: "TERMINATING" } });
  await recordEvent(db, instanceId, { type: "TERMINATING", message: "Deleting the instance's cluster objects" });
}

/**
 * Every object of `generation` is applied; `appliedFields` records, per object, the hash of the
 * fields our field manager owns after the apply (what the health sweep checks for drift).
 */
export async function markApplied(
  db: SqlTarget,
  instanceId: string,
  generation: number,
  appliedFields: Record<string, string>,
  event?: InstanceEventInput,
): Promise<void> {
  const set = Prisma.sql`"applied_generation" = ${generation}, "applied_fields" = ${JSON.stringify(appliedFields)}::jsonb`;
  await updateWithEvent(db, instanceId, set, Prisma.empty, event);
}

/**
 * Converged to RUNNING, SUSPENDED or STOPPED. Guarded by the generation read and the claim: a newer
 * generation that arrived meanwhile stays due.
 */
export async function converged(
  db: SqlTarget,
  inst: { id: string; generation: number; provisionedAt: Date | null },
  c: {
    owner: string;
    status: "RUNNING" | "SUSPENDED" | "STOPPED";
    url: string | null;
    at: Date;
    releaseClaim?: boolean;
    /** More assignments for the same update (the rollout's health observation). */
    alsoSet?: PrismaNs.Sql;
  },
  /** Recorded whether or not the guarded update matched, in the same statement (one commit). */
  event?: InstanceEventInput,
): Promise<boolean> {
  const provisionedAt = inst.provisionedAt ?? (c.status === "RUNNING" ? c.at : null);
  // With releaseClaim the claim is given back by this same update (the work queue's release is then not needed).
  const release = c.releaseClaim ? Prisma.sql`, "lease_owner" = NULL, "lease_expires_at" = NULL` : Prisma.empty;
  const also = c.alsoSet ? Prisma.sql`, ${c.alsoSet}` : Prisma.empty;
  const now = new Date();
  const update = Prisma.sql`
    UPDATE "instances"
       SET "status" = CAST(${c.status}::text AS "InstanceStatus"), "status_message" = NULL, "observed_generation" = ${inst.generation},
           "url" = ${c.url}, "provisioned_at" = ${provisionedAt}::timestamptz, "transition_started_at" = NULL,
           "transition_deadline" = NULL, "attempts" = 0, "updated_at" = ${now} ${release} ${also}
     WHERE "id" = ${inst.id} AND "lease_owner" = ${c.owner} AND "generation" = ${inst.generation}`;
  if (!event) return (await sqlRows(db, Prisma.sql`${update} RETURNING "id"`)).length === 1;
  const rows = await sqlRows<{ matched: number }>(
    db,
    Prisma.sql`
    WITH u AS (${update} RETURNING "id")
    INSERT INTO "instance_events" (${EVENT_COLUMNS}) VALUES (${eventValues(inst.id, event, now)})
    RETURNING (SELECT count(*)::int FROM u) AS "matched"`,
  );
  return rows[0]?.matched === 1;
}

/** Objects deleted: TERMINATED. */
export async function terminated(tx: Tx, inst: { id: string; generation: number }, at: Date, removed: string[]): Promise<void> {
  await tx.instance.update({
    where: { id: inst.id },
    data: {
      status: "TERMINATED",
      observedGeneration: inst.generation,
      terminatedAt: at,
      transitionStartedAt: null,
      transitionDeadline: null,
      attempts: 0,
    },
  });
  await recordEvent(tx, inst.id, { type: "TERMINATED", message: "Terminated; cluster objects removed", data: { removed } });
}

/** A permanent error: FAILED with its message. */
export async function failed(tx: Tx, inst: { id: string; generation: number }, message: string, removed: string[]): Promise<void> {
  await tx.instance.update({
    where: { id: inst.id },
    data: {
      status: "FAILED",
      statusMessage: message.slice(0, 1000),
      observedGeneration: inst.generation,
      transitionStartedAt: null,
      transitionDeadline: null,
    },
  });
  await recordEvent(tx, inst.id, { type: "FAILED", level: "ERROR", message, data: { removed } });
}

/**
 * Backup state transitions and the instance events that record them, in one place:
 * PENDING -> READY | FAILED (with the reason); a delete request, then the row's removal.
 * Each runs on the handle it is given (callers put it in their own transaction); every update is
 * guarded by the state it expects, so a replica that lost a race writes nothing.
 */
import type { Backup } from "../../generated/prisma/client.js";
import type { Db } from "../../platform/db/index.js";
import { recordEvent } from "../instances/instance-state.js";

/** How events name a backup: scheduled ones say so, so a failed schedule is told apart from a manual attempt. */
function backupNoun(b: { trigger?: string }): string {
  if (b.trigger === "scheduled") return "Scheduled backup";
  if (b.trigger === "upgrade") return "Pre-upgrade backup";
  return "Backup";
}

/** What a backup snapshots and how (backups.service.ts, backupTarget): the same for every trigger. */
export interface BackupTarget {
  instanceId: string;
  userId: string;
  namespace: string;
  pvcName: string;
  snapshotName: string;
  snapshotClass: string;
  quiesce: boolean;
}

/** POST /backups: a PENDING row and its BACKUP_REQUESTED event. */
export async function requestBackup(
  db: Db,
  b: BackupTarget & {
    deadline: Date;
    /** "manual" (POST /backups, the default), "scheduled" (the plan's daily backup) or "upgrade" (the snapshot before a version upgrade). */
    trigger?: string;
  },
): Promise<Backup> {
  const row = await db.backup.create({ data: { ...b, status: "PENDING", trigger: b.trigger ?? "manual" } });
  await recordEvent(db, b.instanceId, {
    type: "BACKUP_REQUESTED",
    message: `${backupNoun(row)} requested: VolumeSnapshot ${b.snapshotName} of ${b.pvcName} (class ${b.snapshotClass})${b.quiesce ? "; PostgreSQL is stopped briefly for the cut" : ""}`,
    data: { backupId: row.id, snapshotName: b.snapshotName },
  });
  return row;
}

/** The backup loop stopped the instance for the cut (PostgreSQL): it starts it again afterwards. */
export async function quiesced(db: Db, backupId: string, at: Date): Promise<void> {
  await db.backup.updateMany({ where: { id: backupId, status: "PENDING", quiescedAt: null }, data: { quiescedAt: at } });
}

/** The VolumeSnapshot was applied. */
export async function snapshotCreated(db: Db, backupId: string, at: Date): Promise<void> {
  await db.backup.updateMany({ where: { id: backupId, status: "PENDING", snapshotCreatedAt: null }, data: { snapshotCreatedAt: at } });
}

/** The snapshot is readyToUse: READY with its size. */
export async function backupReady(db: Db, b: Pick<Backup, "id" | "instanceId" | "snapshotName">, sizeBytes: number | undefined, at: Date) {
  const res = await db.backup.updateMany({
    where: { id: b.id, status: "PENDING" },
    data: { status: "READY", readyAt: at, sizeBytes: sizeBytes !== undefined ? BigInt(Math.round(sizeBytes)) : null, reason: null },
  });
  if (res.count !== 1) return;
  await recordEvent(db, b.instanceId, {
    type: "BACKUP_READY",
    message: `Backup ${b.snapshotName} is ready`,
    data: { backupId: b.id, sizeBytes: sizeBytes ?? null },
  });
}

/** The snapshot failed (or never became ready in time): FAILED with the reason, loudly. */
export async function backupFailed(
  db: Db,
  b: Pick<Backup, "id" | "instanceId" | "snapshotName"> & { trigger?: string },
  reason: string,
  at: Date,
) {
  const res = await db.backup.updateMany({
    where: { id: b.id, status: "PENDING" },
    data: { status: "FAILED", failedAt: at, reason: reason.slice(0, 1000) },
  });
  if (res.count !== 1) return;
  await recordEvent(db, b.instanceId, {
    type: "BACKUP_FAILED",
    level: "ERROR",
    message: `${backupNoun(b)} ${b.snapshotName} failed: ${reason}`,
    data: { backupId: b.id, reason },
  });
}

/** DELETE /backups/:id: the loop removes the snapshot, then the row. False when already asked. */
export async function requestBackupDeletion(
  db: Db,
  b: Pick<Backup, "id" | "instanceId" | "snapshotName">,
  at: Date,
  why = "requested",
): Promise<boolean> {
  const res = await db.backup.updateMany({ where: { id: b.id, deleteRequestedAt: null }, data: { deleteRequestedAt: at } });
  if (res.count !== 1) return false;
  await recordEvent(db, b.instanceId, {
    type: "BACKUP_DELETE_REQUESTED",
    message: `Deletion of backup ${b.snapshotName}: ${why}`,
    data: { backupId: b.id },
  });
  return true;
}

/** Its snapshot is gone from the cluster: the row goes. */
export async function backupDeleted(db: Db, b: Pick<Backup, "id" | "instanceId" | "snapshotName">): Promise<void> {
  const res = await db.backup.deleteMany({ where: { id: b.id, deleteRequestedAt: { not: null } } });
  if (res.count !== 1) return;
  await recordEvent(db, b.instanceId, { type: "BACKUP_DELETED", message: `Backup ${b.snapshotName} deleted`, data: { backupId: b.id } });
}

/**
 * A scheduled backup the storage quota refused: recorded as FAILED with the quota's message and an
 * ERROR event (never silently skipped), so the owner and the operators see that the schedule ran and why
 * it took nothing. No VolumeSnapshot is ever created for it.
 */
export async function scheduledBackupRefused(db: Db, b: BackupTarget, reason: string, at: Date): Promise<Backup> {
  const row = await db.backup.create({
    data: { ...b, quiesce: false, status: "FAILED", trigger: "scheduled", deadline: at, failedAt: at, reason: reason.slice(0, 1000) },
  });
  await recordEvent(db, b.instanceId, {
    type: "BACKUP_FAILED",
    level: "ERROR",
    message: `Scheduled backup ${b.snapshotName} failed: ${reason}`,
    data: { backupId: row.id, reason },
  });
  return row;
}

/**
 * The instance has had no good (READY) backup for `hours` although its plan schedules them: an ERROR
 * event, once per such episode (the backup schedule remembers that it announced it).
 */
export async function backupOverdue(db: Db, instanceId: string, lastGoodAt: Date | null, hours: number): Promise<void> {
  await recordEvent(db, instanceId, {
    type: "BACKUP_OVERDUE",
    level: "ERROR",
    message: `Scheduled backups are overdue: no good backup in ${hours} h (${lastGoodAt ? `the last READY one is from ${lastGoodAt.toISOString()}` : "there is none"}); see the BACKUP_FAILED events`,
    data: { lastGoodAt: lastGoodAt?.toISOString() ?? null, hours },
  });
}

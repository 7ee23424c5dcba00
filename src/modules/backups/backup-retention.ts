/**
 * Backups kept after their instance was deleted (BACKUP_RETENTION_AFTER_DELETE), in one place:
 *
 *   instance terminated -> its newest READY backup is retained until now + retention (the others are
 *                          deleted as before); the tenant namespace is kept while it holds one
 *   restore             -> POST /api/subscriptions {restoreBackupId}: the backup becomes the new instance's
 *                          backup (no longer retained) and the new instance's volume is made from it
 *   expiry              -> the backup loop asks for its deletion, deletes the snapshot and the row, then
 *                          the namespace if nothing live and nothing retained is left in it
 *   DELETE              -> its owner may give it up early (the same deletion)
 *
 * Each function runs on the handle it is given (callers put it in their own transaction); every update
 * is guarded by the state it expects, so the loop's expiry and a restore cannot both win.
 */
import type { Backup, Plan } from "../../generated/prisma/client.js";
import { type Db, Prisma, type SqlTarget, sqlRows } from "../../platform/db/index.js";
import { InvalidStateError, NotFoundError, UnprocessableError } from "../../platform/domain-errors.js";
import { recordEvent } from "../instances/instance-state.js";
import { requestBackupDeletion } from "./backup-state.js";

const GIB = 2 ** 30;

/** What a restore into a new instance needs of the retained backup. */
export type RestorableBackup = Pick<Backup, "id" | "instanceId" | "snapshotName">;

/** The backup cannot go into the instance asked for (another service, or a plan too small for it). */
export class BackupMismatchError extends UnprocessableError {
  override readonly code = "BACKUP_MISMATCH";
}

/** The user's retained backups that are still restorable (retention not yet over, not being deleted). */
export function retainedWhere(userId: string, now: Date) {
  return { userId, retainedUntil: { gt: now }, deleteRequestedAt: null } as const;
}

/**
 * The instance is being deleted: its newest READY backup (not being deleted) is retained until
 * `until`, with an event. Idempotent: a backup already retained for it is kept as it is (a re-run
 * after a crash does not extend it). Returns the retained backup, if any.
 */
export async function retainNewestBackup(db: Db, instanceId: string, until: Date): Promise<Backup | undefined> {
  const already = await db.backup.findFirst({ where: { instanceId, retainedUntil: { not: null }, deleteRequestedAt: null } });
  if (already) return already;
  const newest = await db.backup.findFirst({
    where: { instanceId, status: "READY", deleteRequestedAt: null },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
  });
  if (!newest) return undefined;
  const res = await db.backup.updateMany({ where: { id: newest.id, deleteRequestedAt: null }, data: { retainedUntil: until } });
  if (res.count !== 1) return undefined;
  await recordEvent(db, instanceId, {
    type: "BACKUP_RETAINED",
    message: `Backup ${newest.snapshotName} is kept until ${until.toISOString()}: it can be restored into a new instance of the same service until then`,
    data: { backupId: newest.id, retainedUntil: until.toISOString() },
  });
  return { ...newest, retainedUntil: until };
}

/** Whether the user still has a retained backup (expired or not) whose snapshot is in their namespace. */
export async function hasRetainedBackups(db: Db, userId: string): Promise<boolean> {
  return (await db.backup.count({ where: { userId, retainedUntil: { not: null }, deleteRequestedAt: null } })) > 0;
}

/** The retention is over: the loop deletes it (false when it was restored or deleted meanwhile). */
export async function expireRetained(db: Db, b: Pick<Backup, "id" | "instanceId" | "snapshotName">, now: Date): Promise<boolean> {
  const res = await db.backup.updateMany({
    where: { id: b.id, retainedUntil: { lte: now }, deleteRequestedAt: null },
    data: { deleteRequestedAt: now },
  });
  if (res.count !== 1) return false;
  await recordEvent(db, b.instanceId, {
    type: "BACKUP_DELETE_REQUESTED",
    message: `Deletion of backup ${b.snapshotName}: its retention after the instance was deleted is over`,
    data: { backupId: b.id },
  });
  return true;
}

/** DELETE /api/backups/retained/:backupId: its owner gives it up before the retention ends. */
export async function releaseRetained(db: Db, b: Pick<Backup, "id" | "instanceId" | "snapshotName">, now: Date): Promise<boolean> {
  return requestBackupDeletion(db, b, now, "its owner released it before its retention ended");
}

/**
 * The retained backup a new instance of `plan` is restored from (POST /api/subscriptions
 * {restoreBackupId}), checked in this order: the caller's (404 otherwise: another user's is not
 * found either), of the plan's service (422 BACKUP_MISMATCH), still retained (an expired or deleted
 * one is a 404, like one that never existed), READY (409), and not too large for the plan's volume
 * (422 BACKUP_MISMATCH: a PVC restored from a snapshot must request at least its restoreSize).
 * A backup of a live instance is restored in place instead (409, POST /api/instances/:id/restore).
 */
export async function restorableBackup(
  tx: SqlTarget,
  q: { userId: string; backupId: string; plan: Pick<Plan, "serviceId" | "storageGb">; now: Date },
): Promise<RestorableBackup> {
  const [b] = await sqlRows<{
    id: string;
    instanceId: string;
    snapshotName: string;
    status: Backup["status"];
    sizeBytes: string | null;
    retainedUntil: Date | null;
    deleteRequestedAt: Date | null;
    serviceId: string;
    serviceSlug: string;
  }>(
    tx,
    Prisma.sql`
    SELECT b."id", b."instance_id" AS "instanceId", b."snapshot_name" AS "snapshotName", b."status"::text AS "status",
           b."size_bytes"::text AS "sizeBytes", b."retained_until" AS "retainedUntil", b."delete_requested_at" AS "deleteRequestedAt",
           i."service_id" AS "serviceId", s."slug" AS "serviceSlug"
      FROM "backups" b JOIN "instances" i ON i."id" = b."instance_id" JOIN "services" s ON s."id" = i."service_id"
     WHERE b."id" = ${q.backupId} AND b."user_id" = ${q.userId}`,
  );
  if (!b) throw new NotFoundError("Backup not found");
  if (b.serviceId !== q.plan.serviceId) {
    throw new BackupMismatchError(`The backup is of a ${b.serviceSlug} instance; restore it into a plan of the same service`, {
      details: { backupId: b.id, service: b.serviceSlug },
    });
  }
  if (b.deleteRequestedAt) throw new NotFoundError("Backup not found");
  if (b.retainedUntil && b.retainedUntil <= q.now) {
    throw new NotFoundError("Backup not found: its retention after the instance was deleted is over", {
      details: { backupId: b.id, retainedUntil: b.retainedUntil.toISOString() },
    });
  }
  if (b.status !== "READY") {
    throw new InvalidStateError(`Backup is ${b.status}; only a READY backup can be restored`, {
      details: { backupId: b.id, status: b.status },
    });
  }
  if (!b.retainedUntil) {
    throw new InvalidStateError("The backup's instance is not deleted; restore it in place (POST /api/instances/:id/restore)", {
      details: { backupId: b.id, instanceId: b.instanceId },
    });
  }
  const needGb = b.sizeBytes === null ? 0 : Math.ceil(Number(b.sizeBytes) / GIB);
  if (q.plan.storageGb <= 0 || q.plan.storageGb < needGb) {
    throw new BackupMismatchError(`The backup needs a volume of at least ${Math.max(needGb, 1)} GB; the plan has ${q.plan.storageGb} GB`, {
      details: { backupId: b.id, sizeBytes: Number(b.sizeBytes ?? 0), planStorageGb: q.plan.storageGb },
    });
  }
  return { id: b.id, instanceId: b.instanceId, snapshotName: b.snapshotName };
}

/**
 * The new instance is made from the backup: the backup becomes its backup (no longer retained; it is
 * listed, restored and deleted like any of its backups), with an event on both instances. False when
 * the retention ended or the backup was deleted meanwhile (the caller's transaction then fails).
 */
export async function adoptRetained(tx: SqlTarget, b: RestorableBackup, target: { id: string; name: string }, now: Date): Promise<boolean> {
  const moved = await sqlRows(
    tx,
    Prisma.sql`
    UPDATE "backups" SET "instance_id" = ${target.id}, "retained_until" = NULL, "updated_at" = ${now}
     WHERE "id" = ${b.id} AND "retained_until" > ${now} AND "delete_requested_at" IS NULL
    RETURNING "id"`,
  );
  if (moved.length !== 1) return false;
  await recordEvent(tx, b.instanceId, {
    type: "BACKUP_MOVED",
    message: `Backup ${b.snapshotName} was restored into the new instance '${target.name}'; it is now that instance's backup`,
    data: { backupId: b.id, instanceId: target.id },
  });
  await recordEvent(tx, target.id, {
    type: "RESTORE_REQUESTED",
    message: `The volume is made from backup ${b.snapshotName} of a deleted instance; the backup is now this instance's`,
    data: { backupId: b.id, snapshot: b.snapshotName, fromInstanceId: b.instanceId },
  });
  return true;
}

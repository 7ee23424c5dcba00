/**
 * The steps of a version upgrade that follow the request (PUT /api/instances/:id/version), as the
 * loops reach them:
 *
 *   backup loop  the pre-upgrade backup is READY  -> UPGRADING on the new version (beginUpgradeRollout)
 *                it FAILED                        -> the upgrade is abandoned, the instance stays on its version
 *   reconciler   the new version runs             -> RUNNING (upgradeRolledOut)
 *                it never becomes ready           -> the previous version, RESTORING from the pre-upgrade
 *                                                    snapshot (upgradeRollingBack), then RUNNING (upgradeRolledBack)
 *
 * The transitions themselves are in instance-state.ts; this file decides which one applies.
 */
import { randomBytes } from "node:crypto";
import type { Backup, Instance } from "../../generated/prisma/client.js";
import type { Db } from "../../platform/db/index.js";
import * as state from "../instances/instance-state.js";

/** The trigger of a pre-upgrade backup (backups.trigger). */
export const UPGRADE_TRIGGER = "upgrade";

/**
 * A pre-upgrade backup reached READY or FAILED: starts the rollout, or abandons the upgrade loudly.
 * "started": the instance is UPGRADING (signal the reconciler); "abandoned": nothing rolled out (a
 * PostgreSQL instance stopped for the snapshot is to be started again on its version); "none": the
 * backup is not (or no longer) the one an upgrade waits for.
 */
export async function upgradeSnapshotSettled(
  db: Db,
  backup: Pick<Backup, "id" | "instanceId" | "snapshotName">,
  outcome: { ready: true } | { ready: false; reason: string },
  now: Date,
): Promise<"started" | "abandoned" | "none"> {
  const inst = await db.instance.findUnique({ where: { id: backup.instanceId }, include: { service: true } });
  if (!inst || inst.upgradeBackupId !== backup.id || !inst.upgradeToVersion || inst.upgradeFromVersion) return "none";
  if (!outcome.ready) {
    const why = `the pre-upgrade backup ${backup.snapshotName} failed (${outcome.reason})`;
    return (await state.upgradeAbandoned(db, inst, why)) ? "abandoned" : "none";
  }
  return startRollout(db, inst, backup, now);
}

/** An instance without a volume has nothing to snapshot: the rollout starts at once (the API's request). */
export async function startUpgradeWithoutSnapshot(db: Db, instanceId: string, now: Date): Promise<"started" | "abandoned" | "none"> {
  const inst = await db.instance.findUnique({ where: { id: instanceId }, include: { service: true } });
  if (!inst?.upgradeToVersion || inst.upgradeBackupId || inst.upgradeFromVersion) return "none";
  return startRollout(db, inst, null, now);
}

async function startRollout(
  db: Db,
  inst: Instance & { service: { version: string; image: string } },
  backup: Pick<Backup, "id" | "snapshotName"> | null,
  now: Date,
): Promise<"started" | "abandoned" | "none"> {
  const toVersion = inst.upgradeToVersion as string;
  const target = await db.serviceVersion.findUnique({ where: { serviceId_version: { serviceId: inst.serviceId, version: toVersion } } });
  if (!target?.isActive) {
    const ok = await state.upgradeAbandoned(db, inst, `version ${toVersion} is no longer offered by the catalog`);
    return ok ? "abandoned" : "none";
  }
  const quiesced = backup
    ? (await db.backup.findUnique({ where: { id: backup.id }, select: { quiescedAt: true } }))?.quiescedAt != null
    : false;
  const started = await state.beginUpgradeRollout(db, inst, {
    image: target.image,
    fromVersion: inst.version ?? inst.service.version,
    fromImage: inst.image ?? inst.service.image,
    quiesced,
    snapshotName: backup?.snapshotName ?? null,
    now,
  });
  if (started) return "started";
  const current = await db.instance.findUnique({ where: { id: inst.id }, select: { status: true, desiredState: true } });
  const ok = await state.upgradeAbandoned(
    db,
    inst,
    `the instance changed meanwhile (${current?.status ?? "gone"}, desired ${current?.desiredState ?? "-"})`,
  );
  return ok ? "abandoned" : "none";
}

/**
 * The new version did not become ready (or the cluster refused it): back to the previous version, on a
 * new volume made from the pre-upgrade snapshot when there is one (RESTORING), else on the same
 * volume (UPDATING). Returns the status it is now in.
 */
export async function rollBackUpgrade(
  db: Db,
  inst: Pick<Instance, "id" | "k8sName" | "version" | "upgradeBackupId" | "upgradeFromVersion" | "upgradeFromImage">,
  reason: string,
  now: Date,
): Promise<"RESTORING" | "UPDATING"> {
  const backup = inst.upgradeBackupId ? await db.backup.findUnique({ where: { id: inst.upgradeBackupId } }) : null;
  const usable = backup?.status === "READY" && !backup.deleteRequestedAt;
  const restore = usable
    ? { claim: `${inst.k8sName}-restore-${randomBytes(3).toString("hex")}`, snapshot: backup.snapshotName }
    : undefined;
  await state.upgradeRollingBack(db, inst, { reason, now, ...(restore ? { restore } : {}) });
  return restore ? "RESTORING" : "UPDATING";
}

/**
 * Backups of an instance's volume (the API's side): requests write rows and wake the backup loop
 * (src/loops/backups.ts), which creates, watches and deletes the VolumeSnapshots. Scoped like the
 * instance API: the owner acts; admins may read; another tenant's instance or backup is a 404.
 */
import { randomBytes } from "node:crypto";
import type { Backup, Instance, Plan, Service } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient, Tx } from "../../platform/db/index.js";
import { ConflictError, InvalidStateError, NotFoundError } from "../../platform/domain-errors.js";
import type { AuthIdentity } from "../../platform/http/auth.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { AuditService } from "../audit/audit.service.js";
import type { InstanceManifests } from "../instances/instance-manifests.js";
import { lockUser } from "../credits/ledger.service.js";
import type { QuotaService } from "../quotas/quotas.service.js";
import { inTransaction } from "../../platform/transaction.js";
import * as backupState from "./backup-state.js";
import type { BackupTarget } from "./backup-state.js";
import type { BackupListQuery, BackupView } from "./backups.schema.js";

/** Instances whose volume exists and is settled: a snapshot can be cut. */
const BACKUP_STATUSES = ["RUNNING", "STOPPED"] as const;

export function toBackupView(b: Backup): BackupView {
  return {
    id: b.id,
    instanceId: b.instanceId,
    status: b.status,
    reason: b.reason,
    trigger: b.trigger,
    snapshotName: b.snapshotName,
    snapshotClass: b.snapshotClass,
    sizeBytes: b.sizeBytes === null ? null : Number(b.sizeBytes),
    createdAt: b.createdAt.toISOString(),
    readyAt: b.readyAt?.toISOString() ?? null,
    failedAt: b.failedAt?.toISOString() ?? null,
    deleteRequestedAt: b.deleteRequestedAt?.toISOString() ?? null,
  };
}

/**
 * What a backup of `inst` snapshots, and how: the one rule for manual, scheduled and pre-upgrade
 * backups alike.
 */
export function backupTarget(
  inst: Pick<Instance, "id" | "userId" | "namespace" | "k8sName" | "volumeClaim" | "status"> & { service: Pick<Service, "template"> },
  manifests: InstanceManifests,
  snapshotClass: string,
): BackupTarget {
  return {
    instanceId: inst.id,
    userId: inst.userId,
    namespace: inst.namespace,
    // The claim in use: after a restore it is the restored one.
    pvcName: inst.volumeClaim ?? manifests.names(inst).pvc,
    snapshotName: `${inst.k8sName}-backup-${randomBytes(4).toString("hex")}`,
    snapshotClass,
    // PostgreSQL is snapshotted from a clean shutdown: a RUNNING one is scaled to 0 for the cut.
    quiesce: inst.service.template === "postgresql" && inst.status === "RUNNING",
  };
}

export interface BackupsServiceOptions {
  prisma: PrismaClient;
  clock: Clock;
  manifests: InstanceManifests;
  snapshotClass: string;
  timeoutMs: number;
  quotas: QuotaService;
  /** Wakes the backup loop after a request. */
  wake: () => void;
  audit?: AuditService;
}

export class BackupsService {
  constructor(private readonly o: BackupsServiceOptions) {}

  private async instance(caller: AuthIdentity, id: string, ownerOnly: boolean) {
    const scope = ownerOnly || caller.role !== "ADMIN" ? { userId: caller.userId } : {};
    const inst = await this.o.prisma.instance.findFirst({ where: { id, ...scope }, include: { plan: true, service: true } });
    if (!inst) throw new NotFoundError("Instance not found");
    return inst;
  }

  async list(caller: AuthIdentity, instanceId: string, q: BackupListQuery): Promise<Paginated<BackupView>> {
    await this.instance(caller, instanceId, false);
    const where = { instanceId, deleteRequestedAt: null };
    const [rows, total] = await Promise.all([
      this.o.prisma.backup.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      this.o.prisma.backup.count({ where }),
    ]);
    return paginated(rows.map(toBackupView), total, q);
  }

  /** A manual backup: PENDING; the loop cuts the snapshot. One pending backup per instance at a time. */
  async create(caller: AuthIdentity, instanceId: string): Promise<BackupView> {
    const inst = await this.instance(caller, instanceId, true);
    if (!BACKUP_STATUSES.includes(inst.status as never) || inst.desiredState === "TERMINATED") {
      throw new InvalidStateError(`Instance is ${inst.status}; only a RUNNING or STOPPED instance can be backed up`, {
        details: { status: inst.status },
      });
    }
    if (inst.plan.storageGb <= 0)
      throw new InvalidStateError("The instance has no volume to back up", { details: { status: inst.status } });
    const pending = await this.o.prisma.backup.findFirst({ where: { instanceId, status: "PENDING", deleteRequestedAt: null } });
    if (pending) {
      throw new ConflictError("A backup of this instance is already in progress", { details: { backupId: pending.id } });
    }
    // A backup holds a copy of the volume: it counts against the storage quota (checked under the user lock).
    const row = await inTransaction(this.o.prisma, async (tx) => {
      await lockUser(tx, inst.userId);
      return this.requestInTx(tx, inst, "manual");
    });
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.backup.create",
      objectType: "instance",
      objectId: instanceId,
      details: { backupId: row.id },
    });
    this.o.wake();
    return toBackupView(row);
  }

  /**
   * Requests a backup of `inst` inside the caller's transaction (after `lockUser`): the storage quota
   * is checked, the row is PENDING, the loop cuts the snapshot. Also the pre-upgrade snapshot of a
   * version upgrade (`trigger` "upgrade"); the caller wakes the loop after commit (`wake`).
   */
  async requestInTx(
    tx: Tx,
    inst: Pick<Instance, "id" | "userId" | "namespace" | "k8sName" | "volumeClaim" | "status"> & { plan: Plan; service: Service },
    trigger: "manual" | "upgrade",
  ): Promise<Backup> {
    const now = this.o.clock.now();
    await this.o.quotas.assertWithinQuota(tx, inst.userId, { instances: 0, cpuMilli: 0, memoryMb: 0, storageGb: inst.plan.storageGb });
    return backupState.requestBackup(tx, {
      ...backupTarget(inst, this.o.manifests, this.o.snapshotClass),
      deadline: new Date(now.getTime() + this.o.timeoutMs),
      trigger,
    });
  }

  /** Wakes the backup loop (after a request committed). */
  wake(): void {
    this.o.wake();
  }

  /** Asks for the backup's removal: its snapshot is deleted by the loop, then the backup disappears. */
  async delete(caller: AuthIdentity, instanceId: string, backupId: string): Promise<BackupView> {
    await this.instance(caller, instanceId, true);
    const row = await this.o.prisma.backup.findFirst({ where: { id: backupId, instanceId, deleteRequestedAt: null } });
    if (!row) throw new NotFoundError("Backup not found");
    const inst = await this.o.prisma.instance.findUnique({
      where: { id: instanceId },
      select: { restoreSnapshot: true, upgradeBackupId: true, volumeSnapshot: true, provisionedAt: true },
    });
    // Its snapshot is needed until the volume made from it exists: an in-place restore, or a new instance
    // made from a retained backup that has not run yet.
    if (inst?.restoreSnapshot === row.snapshotName || (inst?.volumeSnapshot === row.snapshotName && !inst.provisionedAt)) {
      throw new InvalidStateError("The instance is being restored from this backup", { details: { backupId } });
    }
    if (inst?.upgradeBackupId === row.id) {
      throw new InvalidStateError("This is the pre-upgrade backup of the upgrade in progress", { details: { backupId } });
    }
    if (!(await backupState.requestBackupDeletion(this.o.prisma, row, this.o.clock.now()))) throw new NotFoundError("Backup not found");
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.backup.delete",
      objectType: "instance",
      objectId: instanceId,
      details: { backupId },
    });
    this.o.wake();
    const updated = await this.o.prisma.backup.findUnique({ where: { id: backupId } });
    return toBackupView(updated ?? row);
  }
}

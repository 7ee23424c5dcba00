/**
 * The plans' daily backups (the backup loop calls this on every pass, under its lease):
 *  - `requestDue`: one fleet query finds the instances whose daily slot has passed (backup-schedule.sql.ts),
 *    at most `batch` of them, and requests a backup of each through the same path as POST /backups
 *    (backup-state.requestBackup with trigger "scheduled": the storage quota under the user's lock, a
 *    brief stop for a RUNNING PostgreSQL). A quota refusal is a FAILED backup with the quota's message
 *    and an ERROR event — never silently skipped. A pending backup (e.g. a manual one) defers the slot
 *    to a later pass; the partial unique index `backups_instance_pending_key` guarantees there are never two.
 *  - `applyRetention`: after scheduled backups became READY, the oldest READY scheduled backups beyond
 *    the plan's `backupRetention` are deleted (requestBackupDeletion: an event, then the loop removes the
 *    VolumeSnapshot and the row). Manual backups are neither counted nor deleted by it; a backup the
 *    instance is being restored from is never deleted.
 *  - `noteOverdue`: an instance with no good backup in 48 h gets one ERROR event per episode.
 */
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { QuotaExceededError } from "../../platform/domain-errors.js";
import { inTransaction, isUniqueViolation } from "../../platform/transaction.js";
import { lockUser } from "../credits/ledger.service.js";
import type { InstanceManifests } from "../instances/instance-manifests.js";
import type { QuotaService } from "../quotas/quotas.service.js";
import * as backupState from "./backup-state.js";
import { backupTarget } from "./backups.service.js";
import {
  BACKUP_OVERDUE_HOURS,
  type DueInstanceRow,
  dueInstancesSql,
  type OverdueInstanceRow,
  overdueUnnotedSql,
  type RetentionVictimRow,
  retentionVictimsSql,
} from "./backup-schedule.sql.js";

export interface BackupScheduleOptions {
  prisma: PrismaClient;
  clock: Clock;
  manifests: InstanceManifests;
  quotas: QuotaService;
  snapshotClass: string;
  timeoutMs: number;
  /** Whether scheduled backups are requested at all (retention and overdue events work either way). */
  enabled: boolean;
  spreadMs: number;
  /** At most this many scheduled backups requested (and overdue instances announced) per pass. */
  batch: number;
}

export interface ScheduleReport {
  /** Scheduled backups requested (PENDING). */
  requested: number;
  /** Scheduled backups the storage quota refused (recorded FAILED). */
  refused: number;
}

export class BackupSchedule {
  constructor(private readonly o: BackupScheduleOptions) {}

  /** Requests the due scheduled backups (one fleet query, at most `batch`). */
  async requestDue(): Promise<ScheduleReport> {
    const report: ScheduleReport = { requested: 0, refused: 0 };
    if (!this.o.enabled) return report;
    const now = this.o.clock.now();
    const due = await this.o.prisma.$queryRaw<DueInstanceRow[]>(dueInstancesSql(now, this.o.spreadMs, this.o.batch));
    for (const d of due) {
      const outcome = await this.requestOne(d, now);
      if (outcome) report[outcome] += 1;
    }
    return report;
  }

  private async requestOne(d: DueInstanceRow, now: Date): Promise<keyof ScheduleReport | undefined> {
    const inst = await this.o.prisma.instance.findUnique({ where: { id: d.id }, include: { plan: true, service: true } });
    if (!inst || !["RUNNING", "STOPPED"].includes(inst.status) || inst.desiredState === "TERMINATED") return undefined;
    const fields = backupTarget(inst, this.o.manifests, this.o.snapshotClass);
    try {
      return await inTransaction(this.o.prisma, async (tx) => {
        await lockUser(tx, inst.userId);
        let outcome: keyof ScheduleReport = "requested";
        try {
          await this.o.quotas.assertWithinQuota(tx, inst.userId, {
            instances: 0,
            cpuMilli: 0,
            memoryMb: 0,
            storageGb: inst.plan.storageGb,
          });
          await backupState.requestBackup(tx, { ...fields, trigger: "scheduled", deadline: new Date(now.getTime() + this.o.timeoutMs) });
        } catch (err) {
          if (!(err instanceof QuotaExceededError)) throw err;
          await backupState.scheduledBackupRefused(tx, fields, `the storage quota has no room for it: ${err.message}`, now);
          outcome = "refused";
        }
        await tx.backupSchedule.upsert({
          where: { instanceId: inst.id },
          create: { instanceId: inst.id, lastSlotAt: d.slot },
          update: { lastSlotAt: d.slot },
        });
        return outcome;
      });
    } catch (err) {
      // A backup became pending meanwhile (a manual request won the race): this slot is taken on a later pass.
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
  }

  /** Retention for these instances (those whose scheduled backups just became READY). Returns how many were deleted. */
  async applyRetention(instanceIds: string[]): Promise<number> {
    if (instanceIds.length === 0) return 0;
    const victims = await this.o.prisma.$queryRaw<RetentionVictimRow[]>(retentionVictimsSql([...new Set(instanceIds)]));
    let deleted = 0;
    for (const v of victims) {
      const why =
        v.status === "READY"
          ? `retention: the plan keeps the newest ${v.keep} scheduled backups`
          : "retention: a failed scheduled backup superseded by a newer good one";
      const row = { id: v.id, instanceId: v.instance_id, snapshotName: v.snapshot_name };
      if (await backupState.requestBackupDeletion(this.o.prisma, row, this.o.clock.now(), why)) deleted += 1;
    }
    return deleted;
  }

  /** Announces newly overdue instances (one ERROR event per episode). Returns how many. */
  async noteOverdue(): Promise<number> {
    const now = this.o.clock.now();
    const rows = await this.o.prisma.$queryRaw<OverdueInstanceRow[]>(overdueUnnotedSql(now, this.o.batch));
    for (const r of rows) {
      await inTransaction(this.o.prisma, async (tx) => {
        await tx.backupSchedule.upsert({
          where: { instanceId: r.id },
          create: { instanceId: r.id, overdueNotedAt: now },
          update: { overdueNotedAt: now },
        });
        await backupState.backupOverdue(tx, r.id, r.last_good_at, BACKUP_OVERDUE_HOURS);
      });
    }
    return rows.length;
  }
}

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
 *  - `noteOverdue`: an instance with no good backup in 48 h gets one ERROR event per episode; the same
 *    statement stores how many are overdue (the health summary's and the gauge's value).
 *
 * Both fleet queries cost tens of milliseconds at 10,000 instances, so a pass runs them only when they
 * can find something new: at most CHECK_INTERVAL_MS apart by the clock (a slot that passes meanwhile
 * is taken at most that late), and again on the next pass when the last one filled its batch, when a
 * due slot waits for a pending backup, or (overdue) when backups became READY or were deleted.
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
  /** Whether the fleet query ran (see CHECK_INTERVAL_MS). */
  checked: boolean;
  /** Scheduled backups requested (PENDING). */
  requested: number;
  /** Scheduled backups the storage quota refused (recorded FAILED). */
  refused: number;
}

/** The due query and the overdue query run at least this far apart (by the clock) unless something asks for them sooner. */
export const CHECK_INTERVAL_MS = 60_000;

/** When a fleet query last ran (clock ms), and whether the next pass should run it again regardless. */
interface LastCheck {
  at: number;
  again: boolean;
}

/** Whether a fleet query is wanted now: never ran here, asked for again, a minute passed, or the clock moved back. */
function wanted(last: LastCheck | undefined, now: Date): boolean {
  return !last || last.again || now.getTime() - last.at >= CHECK_INTERVAL_MS || now.getTime() < last.at;
}

export class BackupSchedule {
  private lastDue: LastCheck | undefined;
  private lastOverdue: LastCheck | undefined;

  constructor(private readonly o: BackupScheduleOptions) {}

  /**
   * Requests the due scheduled backups (one fleet query, at most `batch`), unless the query ran less
   * than CHECK_INTERVAL_MS ago and found everything it could (not a full batch, no slot waiting for a
   * pending backup).
   */
  async requestDue(): Promise<ScheduleReport> {
    const report: ScheduleReport = { checked: false, requested: 0, refused: 0 };
    if (!this.o.enabled) return report;
    const now = this.o.clock.now();
    if (!wanted(this.lastDue, now)) return report;
    const rows = await this.o.prisma.$queryRaw<DueInstanceRow[]>(dueInstancesSql(now, this.o.spreadMs, this.o.batch));
    const due = rows.filter((r) => !r.deferred);
    // A full batch may leave more due; a deferred slot is taken once its pending backup is no longer pending.
    this.lastDue = { at: now.getTime(), again: due.length >= this.o.batch || rows.some((r) => r.deferred) };
    report.checked = true;
    try {
      for (const d of due) {
        const outcome = await this.requestOne(d, now);
        if (outcome) report[outcome] += 1;
        // Not taken (a manual backup won the race, or the instance changed meanwhile): look again next pass.
        else this.lastDue.again = true;
      }
    } catch (err) {
      this.lastDue.again = true; // the slots not handled are looked at again on the next pass
      throw err;
    }
    return report;
  }

  private async requestOne(d: DueInstanceRow, now: Date): Promise<"requested" | "refused" | undefined> {
    const inst = await this.o.prisma.instance.findUnique({ where: { id: d.id }, include: { plan: true, service: true } });
    if (!inst || !["RUNNING", "STOPPED"].includes(inst.status) || inst.desiredState === "TERMINATED") return undefined;
    const fields = backupTarget(inst, this.o.manifests, this.o.snapshotClass);
    try {
      return await inTransaction(this.o.prisma, async (tx) => {
        await lockUser(tx, inst.userId);
        let outcome: "requested" | "refused" = "requested";
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

  /**
   * Stores the overdue count and announces newly overdue instances (one ERROR event per episode), in
   * one fleet query — unless it ran less than CHECK_INTERVAL_MS ago, announced all it found, and
   * `goodBackupsChanged` (a backup became READY, or one was deleted or asked to be) is false.
   * Returns how many were announced.
   */
  async noteOverdue(opts: { goodBackupsChanged?: boolean } = {}): Promise<number> {
    const now = this.o.clock.now();
    if (!opts.goodBackupsChanged && !wanted(this.lastOverdue, now)) return 0;
    const rows = await this.o.prisma.$queryRaw<OverdueInstanceRow[]>(overdueUnnotedSql(now, this.o.batch));
    this.lastOverdue = { at: now.getTime(), again: rows.length >= this.o.batch };
    try {
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
    } catch (err) {
      this.lastOverdue.again = true;
      throw err;
    }
    return rows.length;
  }
}

/**
 * The backup loop: creates each PENDING backup's VolumeSnapshot (server-side apply: re-running is
 * safe), watches it until it is readyToUse (READY) or reports an error or misses BACKUP_TIMEOUT
 * (FAILED, with the reason, an ERROR instance event, and the failed snapshot removed), and carries
 * out delete requests (snapshot deleted, then the row) — also for every backup of a TERMINATED instance
 * but the one retained after it (BACKUP_RETENTION_AFTER_DELETE), which goes when its retention is over,
 * followed by the tenant namespace if nothing else is left in it. One replica at a time (the `backups` lease);
 * the guarded transitions in backup-state.ts make an overlapping pass harmless. It runs every
 * BACKUP_POLL_INTERVAL and whenever a request wakes it. A cluster error leaves the work for the next
 * pass: nothing is lost.
 * Each pass also runs the plans' daily schedule (src/modules/backups/backup-schedule.ts): due scheduled
 * backups are requested first, retention follows the scheduled backups that became READY, and
 * newly overdue instances are announced (and the overdue count stored for the health summary and
 * /metrics). The schedule's two fleet queries run at most a minute apart unless the pass has news for
 * them (backup-schedule.ts says when), not on every pass.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Backup } from "../generated/prisma/client.js";
import { KubeError } from "../kube/kube-errors.js";
import { renderVolumeSnapshot } from "../kube/templates/volume-snapshot.js";
import type { BackupCluster } from "../modules/backups/backup-cluster.js";
import type { BackupSchedule } from "../modules/backups/backup-schedule.js";
import * as backupRetention from "../modules/backups/backup-retention.js";
import * as backupState from "../modules/backups/backup-state.js";
import type { Clock } from "../platform/clock.js";
import type { PrismaClient } from "../platform/db/index.js";
import type { LeaseManager } from "../platform/lease.js";
import type { TenantTeardown } from "./reconciler/tenant-teardown.js";
import type { Logger } from "../platform/logger.js";
import type { InstanceSignal } from "../platform/signals.js";
import * as instanceState from "../modules/instances/instance-state.js";
import type { BackupMetrics } from "../platform/metrics.js";
import { startUpgradeWithoutSnapshot, UPGRADE_TRIGGER, upgradeSnapshotSettled } from "../modules/upgrades/upgrade-steps.js";

export const BACKUPS_LEASE = "backups";
const BATCH = 100;

export interface BackupPassReport {
  skipped: boolean;
  ready: number;
  failed: number;
  deleted: number;
  pending: number;
  /** Scheduled backups requested this pass, refused by the storage quota (counted in failed too), and deleted by retention. */
  scheduled: number;
  refused: number;
  retained: number;
  /** Instances newly announced as overdue (no good backup in 48 h). */
  overdue: number;
  /** Whether this pass ran the schedule's due query (at most a minute apart unless there is more to take). */
  scheduleChecked: boolean;
}

export interface BackupLoopOptions {
  prisma: PrismaClient;
  cluster: BackupCluster;
  leases: LeaseManager;
  clock: Clock;
  logger: Logger;
  pollIntervalMs: number;
  timeoutMs: number;
  /** Tells the reconciler when a PostgreSQL instance is stopped for a backup and started again. */
  signal: InstanceSignal;
  /** Counts the backups each pass finished (READY / FAILED). */
  metrics?: BackupMetrics;
  /** The plans' daily backups, their retention and the overdue events (none: manual backups only). */
  schedule?: BackupSchedule;
  /** Deletes the tenant namespace once its last retained backup is gone and no instance lives there. */
  teardown: Pick<TenantTeardown, "removeIfUnused">;
  holder?: string;
}

export class BackupLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<BackupPassReport> | undefined;
  private started = false;
  readonly holder: string;

  constructor(private readonly o: BackupLoopOptions) {
    this.holder = o.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** A request changed something: look soon (no-op unless started). */
  wake(): void {
    if (this.started) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.runOnce()
        .catch((err: unknown) => this.o.logger.error({ err }, "backup pass failed"))
        .finally(() => {
          if (this.started) this.schedule(this.o.pollIntervalMs);
        });
    }, ms);
    this.timer.unref?.();
  }

  /** One pass (if this replica gets the lease). Concurrent calls in one process share it. */
  runOnce(): Promise<BackupPassReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Passes until no backup is pending or being deleted (tests; the emulator's snapshots need a
   * moment). `between` runs after each pass (e.g. the reconciler, which stops and starts PostgreSQL).
   */
  async runUntilIdle(opts: { timeoutMs?: number; between?: () => Promise<void> } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    for (;;) {
      const r = await this.runOnce();
      await opts.between?.();
      if (!r.skipped && r.pending === 0) return;
      if (Date.now() > deadline) throw new Error("backup loop did not become idle in time");
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  private async pass(): Promise<BackupPassReport> {
    const report: BackupPassReport = {
      skipped: false,
      ready: 0,
      failed: 0,
      deleted: 0,
      pending: 0,
      scheduled: 0,
      refused: 0,
      retained: 0,
      overdue: 0,
      scheduleChecked: false,
    };
    if (!(await this.o.leases.tryAcquire(BACKUPS_LEASE, this.holder, Math.max(60_000, this.o.pollIntervalMs * 3)))) {
      return { ...report, skipped: true };
    }
    try {
      if (this.o.schedule) {
        // The schedule never holds up the pending backups: an error is logged and the pass goes on.
        const s = await this.o.schedule.requestDue().catch((err: unknown) => {
          this.o.logger.error({ err }, "backup schedule: requesting the due scheduled backups failed; retrying on the next pass");
          return { checked: true, requested: 0, refused: 0 };
        });
        report.scheduleChecked = s.checked;
        report.scheduled = s.requested;
        report.refused = s.refused;
        report.failed += s.refused;
      }
      /** Instances whose scheduled backups became READY in this pass: their retention runs after it. */
      const retain: string[] = [];
      const now = this.o.clock.now();
      const rows = await this.o.prisma.backup.findMany({
        where: {
          OR: [
            { status: "PENDING" },
            { deleteRequestedAt: { not: null } },
            // A terminated instance's backups, except the one retained after it (until its retention is over).
            { instance: { status: "TERMINATED" }, retainedUntil: null },
            { retainedUntil: { lte: now } },
          ],
        },
        include: { instance: { select: { status: true } } },
        orderBy: { createdAt: "asc" },
        take: BATCH,
      });
      for (const { instance, ...row } of rows) {
        try {
          if (row.retainedUntil && row.retainedUntil <= now && !row.deleteRequestedAt) {
            // Its retention after the instance was deleted is over (unless it was restored meanwhile).
            if (!(await backupRetention.expireRetained(this.o.prisma, row, now))) continue;
            row.deleteRequestedAt = now;
          } else if (instance.status === "TERMINATED" && !row.retainedUntil && !row.deleteRequestedAt) {
            // A terminated instance's other backups go with it (their snapshots are deleted, or went with its namespace).
            await backupState.requestBackupDeletion(this.o.prisma, row, this.o.clock.now(), "the instance was deleted");
            row.deleteRequestedAt = this.o.clock.now();
          }
          const outcome = row.deleteRequestedAt ? await this.remove(row) : await this.watch(row);
          report[outcome] += 1;
          if (outcome === "ready" && row.trigger === "scheduled") retain.push(row.instanceId);
        } catch (err) {
          report.pending += 1;
          if (err instanceof KubeError && err.transient) {
            this.o.logger.warn({ err: err.message, backupId: row.id }, "backup: cluster error; retrying on the next pass");
            continue;
          }
          if (row.deleteRequestedAt) throw err;
          // A refusal retrying cannot fix (invalid object, forbidden, missing CRD): FAILED, loudly.
          const reason = err instanceof Error ? err.message : String(err);
          await this.fail(row, reason);
          report.pending -= 1;
          report.failed += 1;
        }
      }
      if (this.o.schedule) {
        // A failure here is retried with the instance's next scheduled backup (retention) or the next pass (overdue).
        report.retained = await this.o.schedule.applyRetention(retain).catch((err: unknown) => {
          this.o.logger.error({ err, instanceIds: retain }, "backup schedule: retention failed");
          return 0;
        });
        // A backup that became READY, or one deleted (or asked to be, by retention), changes who is overdue.
        const goodBackupsChanged = report.ready > 0 || report.deleted > 0 || report.retained > 0;
        report.overdue = await this.o.schedule.noteOverdue({ goodBackupsChanged }).catch((err: unknown) => {
          this.o.logger.error({ err }, "backup schedule: announcing overdue instances failed");
          return 0;
        });
        // Retention's delete requests are carried out by the next pass: keep runUntilIdle going.
        report.pending += report.retained;
      }
      this.o.metrics?.backupsFinished(report.ready, report.failed);
      if (report.failed) this.o.logger.warn({ ...report }, "backup pass: some backups FAILED");
      await this.recoverUpgrades();
      return report;
    } finally {
      await this.o.leases.release(BACKUPS_LEASE, this.holder);
    }
  }

  private async watch(row: Backup): Promise<"ready" | "failed" | "pending"> {
    const now = this.o.clock.now();
    if (row.quiesce && !row.snapshotCreatedAt) {
      const waiting = await this.quiesce(row, now);
      if (waiting) return waiting;
    }
    if (!row.snapshotCreatedAt) {
      await this.o.cluster.applySnapshot(
        renderVolumeSnapshot({
          backupId: row.id,
          instanceId: row.instanceId,
          userId: row.userId,
          namespace: row.namespace,
          snapshotName: row.snapshotName,
          pvcName: row.pvcName,
          snapshotClass: row.snapshotClass,
        }),
      );
      await backupState.snapshotCreated(this.o.prisma, row.id, now);
    }
    const s = await this.o.cluster.snapshotState(row.namespace, row.snapshotName);
    if (s.readyToUse) {
      await backupState.backupReady(this.o.prisma, row, s.restoreSizeBytes, this.o.clock.now());
      // A pre-upgrade backup starts its upgrade's rollout (which also starts a PostgreSQL stopped for the cut).
      if (row.trigger === UPGRADE_TRIGGER && (await this.settleUpgrade(row, { ready: true })) === "started") return "ready";
      await this.resume(row, "Starting again: the backup's snapshot is cut");
      return "ready";
    }
    let reason: string | undefined;
    if (!s.exists) reason = `VolumeSnapshot ${row.snapshotName} disappeared before it was ready`;
    else if (s.error) reason = s.error;
    else if (now > row.deadline) reason = `VolumeSnapshot ${row.snapshotName} was not ready within ${Math.round(this.o.timeoutMs / 1000)}s`;
    if (!reason) return "pending";
    // A failed snapshot holds no usable data: remove it so it costs nothing.
    if (s.exists) await this.o.cluster.deleteSnapshot(row.namespace, row.snapshotName);
    await this.fail(row, reason);
    return "failed";
  }

  private async fail(row: Backup, reason: string): Promise<void> {
    await backupState.backupFailed(this.o.prisma, row, reason, this.o.clock.now());
    // A failed pre-upgrade backup: the upgrade does not start (the instance stays on its version).
    if (row.trigger === UPGRADE_TRIGGER) await this.settleUpgrade(row, { ready: false, reason });
    await this.resume(row, "Starting again: the backup failed");
  }

  /**
   * Upgrades still waiting for a pre-upgrade backup that is no longer pending (a process died between
   * the backup's end and the upgrade's next step, or the API's between its request and the rollout of
   * an instance without a volume): the step is taken now. Guarded transitions make a repeat harmless.
   */
  private async recoverUpgrades(): Promise<void> {
    const waiting = await this.o.prisma.instance.findMany({
      where: { upgradeToVersion: { not: null }, upgradeFromVersion: null },
      select: { id: true, upgradeBackupId: true },
      take: BATCH,
    });
    for (const inst of waiting) {
      try {
        if (!inst.upgradeBackupId) {
          const r = await startUpgradeWithoutSnapshot(this.o.prisma, inst.id, this.o.clock.now());
          if (r === "started") this.o.signal.instanceChanged(inst.id);
          continue;
        }
        const backup = await this.o.prisma.backup.findUnique({ where: { id: inst.upgradeBackupId } });
        if (backup?.status === "PENDING" && !backup.deleteRequestedAt) continue;
        if (!backup) {
          await instanceState.upgradeAbandoned(this.o.prisma, inst, "its pre-upgrade backup is gone");
          continue;
        }
        if (backup.status === "READY" && (await this.settleUpgrade(backup, { ready: true })) === "started") continue;
        if (backup.status === "FAILED") await this.settleUpgrade(backup, { ready: false, reason: backup.reason ?? "failed" });
        await this.resume(backup, "Starting again: the upgrade did not start");
      } catch (err) {
        this.o.logger.warn({ err, instanceId: inst.id }, "backup pass: could not take an upgrade's next step; retrying on the next pass");
      }
    }
  }

  private async settleUpgrade(row: Backup, outcome: { ready: true } | { ready: false; reason: string }) {
    const result = await upgradeSnapshotSettled(this.o.prisma, row, outcome, this.o.clock.now());
    if (result === "started") this.o.signal.instanceChanged(row.instanceId);
    return result;
  }

  /**
   * PostgreSQL backups are cut from a clean shutdown: the instance is stopped (the owner's stop
   * transition, scaled to 0), the snapshot taken once it is STOPPED, and it is started again after
   * (resume). Returns undefined when the snapshot may be taken now, else the pass's outcome.
   */
  private async quiesce(row: Backup, now: Date): Promise<"pending" | "failed" | undefined> {
    const inst = await this.o.prisma.instance.findUnique({ where: { id: row.instanceId } });
    if (!inst || inst.desiredState === "TERMINATED" || ["TERMINATING", "TERMINATED", "FAILED", "SUSPENDED"].includes(inst.status)) {
      await this.fail(row, `The instance is ${inst?.status ?? "gone"}; no backup was taken`);
      return "failed";
    }
    if (now > row.deadline) {
      await this.fail(row, `The instance did not stop for the backup within ${Math.round(this.o.timeoutMs / 1000)}s`);
      return "failed";
    }
    if (inst.status === "STOPPED") return undefined; // stopped: by us, or by its owner (then it stays stopped)
    if (!row.quiescedAt && inst.status === "RUNNING" && inst.desiredState === "RUNNING") {
      const stopped = await instanceState.requestStop(this.o.prisma, inst, now, "Stopping briefly for a consistent PostgreSQL backup");
      if (stopped) {
        await backupState.quiesced(this.o.prisma, row.id, now);
        this.o.signal.instanceChanged(inst.id);
      }
    }
    return "pending"; // scaling down (or busy with another transition): look again
  }

  /** Starts again an instance this backup stopped. */
  private async resume(row: Backup, message: string): Promise<void> {
    const current = await this.o.prisma.backup.findUnique({ where: { id: row.id }, select: { quiescedAt: true } });
    if (!current?.quiescedAt) return;
    if (await instanceState.resumeAfterBackup(this.o.prisma, row.instanceId, this.o.clock.now(), message)) {
      this.o.signal.instanceChanged(row.instanceId);
    }
  }

  private async remove(row: Backup): Promise<"deleted"> {
    await this.o.cluster.deleteSnapshot(row.namespace, row.snapshotName);
    await backupState.backupDeleted(this.o.prisma, row);
    // The last thing a deleted user's namespace was kept for may just have gone: the namespace goes too.
    if (row.retainedUntil) await this.o.teardown.removeIfUnused(row.userId, row.namespace);
    return "deleted";
  }
}

/**
 * The health loop: every HEALTH_INTERVAL one replica sweeps the fleet (HealthSweeper) and prunes
 * health records older than HEALTH_RETENTION.
 *
 * Scheduling: node-cron when the interval divides the minute/hour/day evenly (5m -> `*\/5 * * * *`,
 * the default), else a plain timer (setInterval), e.g. for 7m.
 *
 * One sweeper across replicas: the `health-sweep` lease (LeaseManager). A scheduled run that cannot
 * take it does nothing; one that takes it also skips when another replica completed a scheduled
 * sweep less than half an interval ago (replicas' cron ticks fire at nearly the same moment, and two
 * sweeps in a row would count as two observations for the hysteresis). The write transaction checks
 * the lease is still held (FOR UPDATE), so a sweep that outlived its lease is abandoned, not written.
 * On-demand sweeps (POST /api/admin/health/check) wait up to `manualWaitMs` for the lease.
 *
 * After each sweep the admin summary's stored values are refreshed (instance-count deltas folded, the
 * overdue-backup count stored): see HealthRepository.refreshFleetCounts.
 *
 * The sweep's informers (`cache`, HEALTH_CACHE) start with the loop and stop with it: they LIST
 * then WATCH the fleet's kinds, so a sweep reads synced kinds from memory (kube-fleet-reader.ts).
 *
 * stop(): no new sweeps; an in-flight sweep is awaited (it either commits whole or writes nothing),
 * then the informers' watches are closed.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import cron, { type ScheduledTask } from "node-cron";
import { ConflictError } from "../platform/domain-errors.js";
import type { Clock } from "../platform/clock.js";
import type { SqlTarget } from "../platform/db/index.js";
import type { LeaseManager } from "../platform/lease.js";
import type { Logger } from "../platform/logger.js";
import { intervalToCron } from "../modules/health/health.rules.js";
import type { HealthRepository } from "../modules/health/health.repository.js";
import type { HealthSweeper, SweepResult } from "../modules/health/health.sweeper.js";

export const HEALTH_LEASE = "health-sweep";

export interface HealthRunReport {
  /** Why nothing was swept: another replica holds the lease, or swept moments ago. */
  skipped?: "lease-held" | "recently-swept";
  result?: SweepResult;
  pruned: number;
}

export interface HealthLoopOptions {
  repository: HealthRepository;
  sweeper: HealthSweeper;
  leases: LeaseManager;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  retentionMs: number;
  /** Lease length; a dead holder's lease expires after this. Default max(2 x interval, 2 min). */
  leaseTtlMs?: number;
  /** How long an on-demand sweep waits for another replica's sweep. Default 30 s. */
  manualWaitMs?: number;
  /** Rows deleted per retention statement. Default 5000. */
  pruneBatchSize?: number;
  holder?: string;
  /** The sweep's informers (FleetCache): started and stopped with the loop. */
  cache?: { start(): void; stop(): Promise<void> };
}

export class HealthLoop {
  readonly holder: string;
  private task: ScheduledTask | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<HealthRunReport> | undefined;
  private stopped = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: HealthLoopOptions) {
    this.holder = o.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  }

  private get leaseTtlMs(): number {
    return this.o.leaseTtlMs ?? Math.max(2 * this.o.intervalMs, 120_000);
  }

  /** The sweep is only written while this replica still holds the lease. */
  private stillOwner = (tx: SqlTarget): Promise<boolean> => this.o.leases.stillHeld(tx, HEALTH_LEASE, this.holder);

  /** A scheduled run: sweep (if this replica gets the lease and nobody swept just now) and prune. */
  runScheduled(): Promise<HealthRunReport> {
    this.running ??= this.exclusive(() => this.scheduled()).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scheduled(): Promise<HealthRunReport> {
    const { leases, repository, clock } = this.o;
    if (!(await leases.tryAcquire(HEALTH_LEASE, this.holder, this.leaseTtlMs))) return { skipped: "lease-held", pruned: 0 };
    try {
      const since = new Date(clock.now().getTime() - this.o.intervalMs / 2);
      if (await repository.scheduledSweepSince(since)) return { skipped: "recently-swept", pruned: 0 };
      const result = await this.o.sweeper.sweep({ trigger: "scheduled", stillOwner: this.stillOwner });
      await this.refreshFleetCounts();
      const pruned = await this.prune();
      return { result, pruned };
    } finally {
      await leases
        .release(HEALTH_LEASE, this.holder)
        .catch((err: unknown) => this.o.logger.warn({ err }, "could not release the health lease"));
    }
  }

  get sweeper(): HealthSweeper {
    return this.o.sweeper;
  }

  /** Sweeps of this process run one at a time (they share one lease holder id). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    // Settles when p does, holding neither its value nor its error: `p.catch(() => {})` would resolve
    // with p's value and keep the last sweep's results (10,000 of them) alive until the next sweep.
    this.queue = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  /** An on-demand sweep (admin API): waits for the lease, then sweeps (a subset, or everything). */
  runNow(instanceIds?: string[]): Promise<SweepResult> {
    return this.exclusive(() => this.manual(instanceIds));
  }

  private async manual(instanceIds?: string[]): Promise<SweepResult> {
    const { leases } = this.o;
    const deadline = Date.now() + (this.o.manualWaitMs ?? 30_000);
    while (!(await leases.tryAcquire(HEALTH_LEASE, this.holder, this.leaseTtlMs))) {
      if (Date.now() >= deadline) {
        throw new ConflictError(
          `another replica is sweeping (lease held by ${(await leases.holderOf(HEALTH_LEASE)) ?? "someone"}); try again shortly`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      const result = await this.o.sweeper.sweep({ trigger: "manual", instanceIds, stillOwner: this.stillOwner });
      await this.refreshFleetCounts();
      return result;
    } finally {
      await leases
        .release(HEALTH_LEASE, this.holder)
        .catch((err: unknown) => this.o.logger.warn({ err }, "could not release the health lease"));
    }
  }

  /**
   * What the admin health summary reads, refreshed at the end of every sweep (HealthRepository.refreshFleetCounts).
   * A failure is logged, not the sweep's: the summary then counts the overdue backups itself once the stored count is too old.
   */
  private async refreshFleetCounts(): Promise<void> {
    await this.o.repository
      .refreshFleetCounts(this.o.clock.now())
      .catch((err: unknown) => this.o.logger.warn({ err }, "could not refresh the fleet counts after the sweep"));
  }

  /** Deletes health records (and sweep rows) older than the retention, in batches. */
  async prune(): Promise<number> {
    const cutoff = new Date(this.o.clock.now().getTime() - this.o.retentionMs);
    const batch = this.o.pruneBatchSize ?? 5000;
    let total = 0;
    for (;;) {
      const n = await this.o.repository.pruneChecks(cutoff, batch);
      total += n;
      if (n < batch || this.stopped) break;
    }
    await this.o.repository.pruneSweeps(cutoff);
    if (total) this.o.logger.info({ pruned: total, before: cutoff.toISOString() }, "pruned old health records");
    return total;
  }

  /** How the loop is scheduled (for the startup log and tests). */
  get schedule(): { cron: string } | { everyMs: number } {
    const expr = intervalToCron(this.o.intervalMs);
    return expr ? { cron: expr } : { everyMs: this.o.intervalMs };
  }

  /** The sweep's informers, if any (FleetCache). */
  get cache(): HealthLoopOptions["cache"] {
    return this.o.cache;
  }

  start(): void {
    if (this.task || this.timer) return;
    this.stopped = false;
    this.o.cache?.start();
    const tick = async () => {
      try {
        await this.runScheduled();
      } catch (err) {
        this.o.logger.error({ err }, "health sweep failed");
      }
    };
    const schedule = this.schedule;
    if ("cron" in schedule) {
      this.task = cron.schedule(schedule.cron, tick, { name: "health-sweep", noOverlap: true });
    } else {
      this.timer = setInterval(() => {
        if (!this.running) void tick();
      }, schedule.everyMs);
      this.timer.unref?.();
    }
    this.o.logger.info({ ...schedule, intervalMs: this.o.intervalMs }, "health loop started");
  }

  /** Stops scheduling and waits for an in-flight sweep (which commits whole or writes nothing). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    this.task = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
    await this.queue;
    await this.o.cache?.stop();
  }
}

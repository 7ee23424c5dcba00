/**
 * The renewal loop: on `config.billing.renewalCron` (node-cron), one replica at a time (the `renewal`
 * lease) runs a billing pass — renew ACTIVE subscriptions whose period ended, make unpayable ones
 * PAST_DUE (instance suspended), cancel PAST_DUE ones past the grace period (instance terminated).
 * The lease only avoids duplicate work: correctness comes from the per-period ledger key and the row
 * locks in BillingService, so a pass that overlaps another (an expired lease) still charges once.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import cron, { type ScheduledTask } from "node-cron";
import type { Logger } from "../platform/logger.js";
import type { LeaseManager } from "../platform/lease.js";
import type { BillingPassReport, BillingService } from "../modules/subscriptions/billing.service.js";

export const RENEWAL_LEASE = "renewal";

export interface RenewalRunReport extends BillingPassReport {
  /** True when another replica held the lease and this run did nothing. */
  skipped: boolean;
}

export class RenewalLoop {
  private task: ScheduledTask | undefined;
  private running: Promise<RenewalRunReport> | undefined;
  readonly holder: string;

  constructor(
    private readonly opts: {
      billing: BillingService;
      leases: LeaseManager;
      logger: Logger;
      /** node-cron expression, e.g. every 10 minutes. */
      cron: string;
      /** How long a pass may hold the lease before another replica may take over. */
      leaseTtlMs?: number;
      /** Singleton housekeeping run after each pass under the same lease (e.g. pruning idempotency records). */
      housekeeping?: () => Promise<void>;
      holder?: string;
    },
  ) {
    this.holder = opts.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  }

  /** One pass (if this replica gets the lease). Concurrent calls in one process share the pass. */
  runOnce(): Promise<RenewalRunReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<RenewalRunReport> {
    const { leases, billing, logger } = this.opts;
    if (!(await leases.tryAcquire(RENEWAL_LEASE, this.holder, this.opts.leaseTtlMs ?? 10 * 60_000))) {
      return { skipped: true, renewed: 0, pastDue: 0, cancelled: 0, failed: 0 };
    }
    try {
      const report = await billing.runDue();
      if (report.renewed || report.pastDue || report.cancelled || report.failed) logger.info({ ...report }, "renewal pass");
      await this.opts.housekeeping?.().catch((err: unknown) => logger.warn({ err }, "housekeeping after the renewal pass failed"));
      return { skipped: false, ...report };
    } finally {
      await leases.release(RENEWAL_LEASE, this.holder);
    }
  }

  start(): void {
    if (this.task) return;
    if (!cron.validate(this.opts.cron)) throw new Error(`RENEWAL_CRON is not a valid cron expression: ${this.opts.cron}`);
    this.task = cron.schedule(
      this.opts.cron,
      async () => {
        try {
          await this.runOnce();
        } catch (err) {
          this.opts.logger.error({ err }, "renewal pass failed");
        }
      },
      { name: "renewal", noOverlap: true },
    );
    this.opts.logger.info({ cron: this.opts.cron }, "renewal loop started");
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = undefined;
    await this.running?.catch(() => {});
  }
}

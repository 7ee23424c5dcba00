/**
 * Recurring billing: renewals, past due, grace-period expiry, and settling past-due subscriptions when
 * credits arrive; and what a failed or terminated instance means for its subscription (the
 * reconciler's money goes through here). Every step runs in its own transaction that locks the user row first and re-reads
 * the subscription under that lock, so concurrent runs (several replicas) see each other's work; the
 * renewal's ledger key `renewal:<subscriptionId>:<periodStart ISO>` makes charging a period twice
 * impossible even if that were not so.
 */
import type { Plan, Prisma as PrismaNs, Service, Subscription } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient, Tx } from "../../platform/db/index.js";
import { InsufficientCreditsError } from "../../platform/domain-errors.js";
import type { Logger } from "../../platform/logger.js";
import type { InstanceSignal } from "../../platform/signals.js";
import { inTransaction } from "../../platform/transaction.js";
import type { TopUpListener } from "../credits/credits.service.js";
import { ledgerKeys } from "../credits/ledger-keys.js";
import { type LedgerService, lockUser } from "../credits/ledger.service.js";
import { addCalendarMonth } from "./billing-rules.js";
import { setDesiredStateOfSubscription } from "../instances/instance-state.js";
import { cancelSubscriptionAndTerminate } from "./subscription-cancel.js";

/** At most this many missed periods are charged in one renewal (a long outage), then the next pass continues. */
const MAX_PERIODS_PER_RENEWAL = 24;
const BATCH = 200;

export type RenewOutcome = "renewed" | "past_due" | "skipped";
export type ExpireOutcome = "cancelled" | "skipped";

export interface BillingPassReport {
  renewed: number;
  pastDue: number;
  cancelled: number;
  failed: number;
}

type SubWithPlan = Subscription & { plan: Plan & { service: Service } };

export class BillingService implements TopUpListener {
  constructor(
    private readonly opts: {
      prisma: PrismaClient;
      ledger: LedgerService;
      clock: Clock;
      signal: InstanceSignal;
      logger: Logger;
      gracePeriodMs: number;
    },
  ) {}

  /** One billing pass: renew every ACTIVE subscription whose period ended, then expire overdue PAST_DUE ones. */
  async runDue(): Promise<BillingPassReport> {
    const report: BillingPassReport = { renewed: 0, pastDue: 0, cancelled: 0, failed: 0 };
    const now = this.opts.clock.now();
    for await (const id of this.ids({ status: "ACTIVE", currentPeriodEnd: { lte: now } })) {
      try {
        const outcome = await this.renew(id);
        if (outcome === "renewed") report.renewed++;
        else if (outcome === "past_due") report.pastDue++;
      } catch (err) {
        report.failed++;
        this.opts.logger.error({ err, subscriptionId: id }, "renewal failed; the next pass retries it");
      }
    }
    const overdueSince = new Date(now.getTime() - this.opts.gracePeriodMs);
    for await (const id of this.ids({ status: "PAST_DUE", pastDueSince: { lte: overdueSince } })) {
      try {
        if ((await this.expire(id)) === "cancelled") report.cancelled++;
      } catch (err) {
        report.failed++;
        this.opts.logger.error({ err, subscriptionId: id }, "cancelling an overdue subscription failed; the next pass retries it");
      }
    }
    return report;
  }

  private async *ids(where: PrismaNs.SubscriptionWhereInput): AsyncGenerator<string> {
    let cursor: string | undefined;
    for (;;) {
      const rows = await this.opts.prisma.subscription.findMany({
        where: { ...where, ...(cursor ? { id: { gt: cursor } } : {}) },
        select: { id: true },
        orderBy: { id: "asc" },
        take: BATCH,
      });
      for (const r of rows) yield r.id;
      if (rows.length < BATCH) return;
      cursor = rows[rows.length - 1]?.id;
    }
  }

  /** Charges the ended period(s) of one ACTIVE subscription, or makes it PAST_DUE and suspends its instance. */
  async renew(subscriptionId: string): Promise<RenewOutcome> {
    const { outcome, wake } = await inTransaction(this.opts.prisma, async (tx) => {
      const sub = await this.lockAndRead(tx, subscriptionId);
      const now = this.opts.clock.now();
      if (!sub || sub.status !== "ACTIVE" || sub.currentPeriodEnd > now) return { outcome: "skipped" as const, wake: [] };
      const price = sub.plan.monthlyPriceCredits;
      let start = sub.currentPeriodStart;
      let end = sub.currentPeriodEnd;
      for (let n = 0; end <= now && n < MAX_PERIODS_PER_RENEWAL; n++) {
        const next = addCalendarMonth(end);
        if (price > 0) {
          try {
            await this.opts.ledger.post(tx, {
              userId: sub.userId,
              type: "RENEWAL_CHARGE",
              amount: -price,
              reason: `Renewal of ${sub.plan.service.name} ${sub.plan.name}, ${end.toISOString()} to ${next.toISOString()}`,
              referenceType: "subscription",
              referenceId: sub.id,
              idempotencyKey: ledgerKeys.renewal(sub.id, end),
            });
          } catch (err) {
            if (!(err instanceof InsufficientCreditsError)) throw err;
            await tx.subscription.update({
              where: { id: sub.id },
              data: { currentPeriodStart: start, currentPeriodEnd: end, status: "PAST_DUE", pastDueSince: now },
            });
            const wake = await setDesiredStateOfSubscription(tx, sub.id, {
              from: ["RUNNING"],
              to: "SUSPENDED",
              eventType: "SUSPENDED",
              level: "WARN",
              message: `Suspended: the renewal of ${price} credits failed (${err.message}). Add credits within the grace period to resume.`,
              data: { subscriptionId: sub.id, reason: "PAST_DUE", ...(err.details as Record<string, unknown>) },
            });
            return { outcome: "past_due" as const, wake };
          }
        }
        start = end;
        end = next;
      }
      await tx.subscription.update({ where: { id: sub.id }, data: { currentPeriodStart: start, currentPeriodEnd: end } });
      return { outcome: "renewed" as const, wake: [] };
    });
    this.wake(wake);
    return outcome;
  }

  /** Cancels a PAST_DUE subscription whose grace period is over and terminates its instance. */
  async expire(subscriptionId: string): Promise<ExpireOutcome> {
    const { outcome, wake } = await inTransaction(this.opts.prisma, async (tx) => {
      const sub = await this.lockAndRead(tx, subscriptionId);
      const now = this.opts.clock.now();
      if (!sub || sub.status !== "PAST_DUE" || !sub.pastDueSince || sub.pastDueSince.getTime() + this.opts.gracePeriodMs > now.getTime()) {
        return { outcome: "skipped" as const, wake: [] };
      }
      const wake = await cancelSubscriptionAndTerminate(tx, sub.id, {
        now,
        cancelReason: "Payment overdue for longer than the grace period",
        reasonCode: "GRACE_PERIOD_EXPIRED",
        level: "WARN",
        message: "Terminating: the subscription was cancelled because payment was overdue beyond the grace period",
      });
      return { outcome: "cancelled" as const, wake };
    });
    this.wake(wake);
    return outcome;
  }

  /**
   * Inside a top-up's transaction (user row locked): renews the user's PAST_DUE subscriptions, oldest
   * first, as far as the balance allows. A renewed subscription starts a new period now (the suspended
   * time is not billed) and its instance is resumed.
   */
  async afterTopUp(tx: Tx, userId: string): Promise<{ instanceIds: string[] }> {
    const pastDue = await tx.subscription.findMany({
      where: { userId, status: "PAST_DUE" },
      include: { plan: { include: { service: true } } },
      orderBy: [{ pastDueSince: "asc" }, { id: "asc" }],
    });
    const wake: string[] = [];
    for (const sub of pastDue) {
      const now = this.opts.clock.now();
      const end = addCalendarMonth(now);
      const price = sub.plan.monthlyPriceCredits;
      if (price > 0) {
        try {
          await this.opts.ledger.post(tx, {
            userId,
            type: "RENEWAL_CHARGE",
            amount: -price,
            reason: `Renewal of ${sub.plan.service.name} ${sub.plan.name} after payment, ${now.toISOString()} to ${end.toISOString()}`,
            referenceType: "subscription",
            referenceId: sub.id,
            idempotencyKey: ledgerKeys.renewal(sub.id, now),
          });
        } catch (err) {
          if (err instanceof InsufficientCreditsError) continue; // still past due; a cheaper one may fit
          throw err;
        }
      }
      await tx.subscription.update({
        where: { id: sub.id },
        data: { status: "ACTIVE", currentPeriodStart: now, currentPeriodEnd: end, pastDueSince: null },
      });
      wake.push(
        ...(await setDesiredStateOfSubscription(tx, sub.id, {
          from: ["SUSPENDED"],
          to: "RUNNING",
          eventType: "RESUMED",
          message: "Resuming: the overdue renewal was paid",
          data: { subscriptionId: sub.id, reason: "PAID" },
        })),
      );
    }
    return { instanceIds: wake };
  }

  /**
   * Inside the caller's transaction: refunds the first-period charge of an instance that never ran,
   * exactly once (ledger key `refund:first-period:<instanceId>`). Returns the credits refunded by
   * this call (0 when there was no charge or it was already refunded).
   */
  async refundFailedProvisioning(tx: Tx, inst: { id: string; userId: string; name: string; subscriptionId: string }): Promise<number> {
    const charge = await tx.creditTransaction.findFirst({
      where: { userId: inst.userId, type: "SUBSCRIPTION_CHARGE", referenceType: "subscription", referenceId: inst.subscriptionId },
    });
    if (!charge || charge.amount >= 0) return 0;
    const { replayed } = await this.opts.ledger.post(tx, {
      userId: inst.userId,
      type: "REFUND",
      amount: -charge.amount,
      reason: `Refund: instance '${inst.name}' could not be provisioned`,
      referenceType: "instance",
      referenceId: inst.id,
      idempotencyKey: ledgerKeys.firstPeriodRefund(inst.id),
    });
    return replayed ? 0 : -charge.amount;
  }

  /**
   * Inside the caller's transaction: ends the subscription of an instance that is gone (terminated,
   * or failed before it ever ran), unless it has ended already. Its instances are not touched.
   */
  async endSubscription(tx: Tx, subscriptionId: string, now: Date, reason: string): Promise<void> {
    await tx.subscription.updateMany({
      where: { id: subscriptionId, status: { in: ["ACTIVE", "PAST_DUE"] } },
      data: { status: "CANCELLED", cancelledAt: now, cancelReason: reason },
    });
  }

  /** Locks the owner's user row (the one lock order: user, then its rows) and reads the subscription. */
  private async lockAndRead(tx: Tx, subscriptionId: string): Promise<SubWithPlan | null> {
    const owner = await tx.subscription.findUnique({ where: { id: subscriptionId }, select: { userId: true } });
    if (!owner) return null;
    await lockUser(tx, owner.userId);
    return tx.subscription.findUnique({ where: { id: subscriptionId }, include: { plan: { include: { service: true } } } });
  }

  private wake(ids: string[]): void {
    for (const id of ids) this.opts.signal.instanceChanged(id);
  }
}

/**
 * Subscriptions: buying a plan (charge the first period, create the instance row, signal the
 * reconciler), reading them, and cancelling (pro-rata refund, instance terminated).
 */
import type { AuthIdentity } from "../../platform/http/auth.js";
import type { AuditService } from "../audit/audit.service.js";
import type { CatalogCache, CatalogPlan, DefaultVersion } from "../catalog/catalog-cache.js";
import type { Clock } from "../../platform/clock.js";
import { Prisma, type PrismaClient, type SqlRead, type Tx } from "../../platform/db/index.js";
import type { Subscription } from "../../generated/prisma/client.js";
import { randomUUID } from "node:crypto";
import { ConflictError, InvalidStateError, NotFoundError } from "../../platform/domain-errors.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { IdempotencyService, IdempotentResponse } from "../../platform/idempotency.js";
import type { InstanceSignal } from "../../platform/signals.js";
import { inTransaction, isUniqueViolation } from "../../platform/transaction.js";
import { ledgerKeys } from "../credits/ledger-keys.js";
import { type CreditTransactionView, type LedgerService, lockUser, toCreditTransactionView } from "../credits/ledger.service.js";
import { adoptRetained, restorableBackup } from "../backups/backup-retention.js";
import { createInstanceRow } from "../instances/instance-rows.js";
import { toInstanceView } from "../instances/instances.view.js";
import type { QuotaService } from "../quotas/quotas.service.js";
import type { InstanceSubscriptions, PlanChange } from "../instances/instance-subscriptions.js";
import { addCalendarMonth, planChangeAmount, unusedDaysRefund } from "./billing-rules.js";
import { cancelSubscriptionAndTerminate } from "./subscription-cancel.js";
import type {
  SubscriptionCancelResponse,
  SubscriptionCreateReq,
  SubscriptionCreateResponse,
  SubscriptionListQuery,
} from "./subscriptions.schema.js";
import { type SubscriptionView, subscriptionViewInclude, toSubscriptionView } from "./subscriptions.view.js";

/** The plan (or its service) exists but is not for sale. */
export class PlanUnavailableError extends ConflictError {
  override readonly code = "PLAN_UNAVAILABLE";
}

export type { SubscriptionCancelResponse, SubscriptionCreateResponse };

const CREATE_ATTEMPTS = 3;
/** Bounds each statement of a purchase, waits for the user's row lock included. */
const CREATE_STATEMENT_TIMEOUT_MS = 30_000;
/** The INSERT of a new subscription's row, every column from `s`. */
function insertSubscriptionSql(s: Subscription): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "subscriptions" ("id", "user_id", "plan_id", "status", "current_period_start", "current_period_end", "past_due_since",
      "cancelled_at", "cancel_reason", "created_at", "updated_at")
    VALUES (${s.id}, ${s.userId}, ${s.planId}, CAST(${s.status}::text AS "SubscriptionStatus"), ${s.currentPeriodStart}, ${s.currentPeriodEnd},
      ${s.pastDueSince}, ${s.cancelledAt}, ${s.cancelReason}, ${s.createdAt}, ${s.updatedAt})`;
}

export class SubscriptionsService implements InstanceSubscriptions {
  constructor(
    private readonly opts: {
      prisma: PrismaClient;
      /** Plans, services and default versions (read from memory, not per request). */
      catalog: CatalogCache;
      ledger: LedgerService;
      quotas: QuotaService;
      idempotency: IdempotencyService;
      signal: InstanceSignal;
      clock: Clock;
      baseDomain: string;
      audit?: AuditService;
    },
  ) {}

  /**
   * Subscribes `userId` to a plan, in one transaction: lock the user row; the plan must exist (404) and
   * be active with an active service (409 PLAN_UNAVAILABLE); the quota must allow one more instance of
   * the plan's size (422); the first period is charged (402); the subscription (ACTIVE, one calendar
   * month) and its instance (PENDING, desired RUNNING) are created with a CREATED event. After commit
   * the reconciler is signalled. With an idempotency key, a retry returns the first response.
   */
  async create(
    caller: AuthIdentity,
    body: SubscriptionCreateReq,
    idempotencyKey?: string,
  ): Promise<IdempotentResponse<SubscriptionCreateResponse>> {
    const userId = caller.userId;
    // Looked up before the transaction: a cache miss loads the catalog on other pool connections,
    // which must never wait behind connections held by transactions (that starves the pool). What it
    // finds is judged inside the transaction, as before (a replayed request is not judged again).
    const catalog = await this.catalogFor(body.planId);
    for (let attempt = 1; ; attempt++) {
      try {
        // On the driver, past Prisma's engine: every statement of the purchase is raw SQL, and Prisma's
        // interactive transaction cost more CPU than the statements in it (bench/RESULTS.md).
        const res = await this.opts.idempotency.executeSql<SubscriptionCreateResponse>(
          { userId, scope: "subscriptions.create", key: idempotencyKey, request: body },
          async (q) => ({ status: 201, body: await this.createInTx(q, caller, body, catalog) }),
          { timeoutMs: CREATE_STATEMENT_TIMEOUT_MS },
        );
        if (!res.replayed) this.opts.signal.instanceChanged(res.body.instance.id);
        return res;
      } catch (err) {
        // A subdomain or k8s-name race (unique index): the whole transaction rolled back; try again.
        if (isUniqueViolation(err) && attempt < CREATE_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** The plan with its service, and the service's default version (the catalog cache). */
  private async catalogFor(planId: string): Promise<{ plan: CatalogPlan | undefined; defaultVersion: DefaultVersion | null }> {
    const plan = await this.opts.catalog.plan(planId);
    return { plan, defaultVersion: plan ? await this.opts.catalog.defaultVersion(plan.serviceId) : null };
  }

  private async createInTx(
    tx: SqlRead,
    caller: AuthIdentity,
    body: SubscriptionCreateReq,
    catalog: { plan: CatalogPlan | undefined; defaultVersion: DefaultVersion | null },
  ): Promise<SubscriptionCreateResponse> {
    const userId = caller.userId;
    const user = await lockUser(tx, userId);
    const plan = catalog.plan;
    if (!plan) throw new NotFoundError("Plan not found");
    if (!plan.isActive || !plan.service.isActive) {
      throw new PlanUnavailableError(`Plan '${plan.service.slug}/${plan.slug}' is not available`, {
        details: { planId: plan.id, planActive: plan.isActive, serviceActive: plan.service.isActive },
      });
    }
    const now = this.opts.clock.now();
    // A new instance made from a backup retained after a deleted one (checked before anything is charged).
    const fromBackup = body.restoreBackupId ? await restorableBackup(tx, { userId, backupId: body.restoreBackupId, plan, now }) : undefined;
    await this.opts.quotas.assertWithinQuota(tx, userId, {
      instances: 1,
      cpuMilli: plan.cpuMilli,
      memoryMb: plan.memoryMb,
      storageGb: plan.storageGb,
    });
    const written = new Date();
    // Every column is given here (the row type has no optional field), so the row needs no read back:
    // it is written with the instance's statement below.
    const subscription: Subscription = {
      id: randomUUID(),
      userId,
      planId: plan.id,
      status: "ACTIVE",
      currentPeriodStart: now,
      currentPeriodEnd: addCalendarMonth(now),
      pastDueSince: null,
      cancelledAt: null,
      cancelReason: null,
      createdAt: written,
      updatedAt: written,
    };
    if (plan.monthlyPriceCredits > 0) {
      await this.opts.ledger.postLocked(tx, {
        userId,
        type: "SUBSCRIPTION_CHARGE",
        amount: -plan.monthlyPriceCredits,
        reason: `First period of ${plan.service.name} ${plan.name}`,
        referenceType: "subscription",
        referenceId: subscription.id,
        idempotencyKey: ledgerKeys.firstPeriod(subscription.id),
        // The user row is locked above and its balance unchanged since.
        locked: user,
      });
    }
    const instance = await createInstanceRow(tx, {
      userId,
      subscriptionId: subscription.id,
      plan,
      name: body.instanceName,
      baseDomain: this.opts.baseDomain,
      eventMessage: `Instance requested by subscription to ${plan.service.name} ${plan.name}`,
      defaultVersion: catalog.defaultVersion,
      ...(fromBackup ? { volumeFromSnapshot: fromBackup.snapshotName } : {}),
      // The subscription's row and the audit entry go in the instance's statement (one round trip).
      alongside: (instanceId) => [
        insertSubscriptionSql(subscription),
        ...(this.opts.audit
          ? [
              this.opts.audit.entrySql({
                request: caller.request,
                action: "instance.create",
                objectType: "instance",
                objectId: instanceId,
                details: {
                  subscriptionId: subscription.id,
                  planId: plan.id,
                  name: body.instanceName,
                  ...(fromBackup ? { restoredFromBackupId: fromBackup.id } : {}),
                },
              }),
            ]
          : []),
      ],
    });
    if (fromBackup && !(await adoptRetained(tx, fromBackup, instance, now))) {
      // Its retention ended (or it was deleted) since it was read: the whole purchase rolls back.
      throw new NotFoundError("Backup not found: its retention after the instance was deleted is over");
    }
    // Built from what this transaction wrote (nothing else touches the new subscription row): no read back.
    return {
      subscription: toSubscriptionView({ ...subscription, plan, instances: [{ id: instance.id }] }),
      instance: toInstanceView(instance),
    };
  }

  async list(userId: string, q: SubscriptionListQuery): Promise<Paginated<SubscriptionView>> {
    const where = { userId, ...(q.status ? { status: q.status } : {}) };
    const [rows, total] = await Promise.all([
      this.opts.prisma.subscription.findMany({
        where,
        include: subscriptionViewInclude,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        ...skipTake(q),
      }),
      this.opts.prisma.subscription.count({ where }),
    ]);
    return paginated(rows.map(toSubscriptionView), total, q);
  }

  /** The caller's subscription; another user's is a 404. */
  async get(userId: string, id: string): Promise<SubscriptionView> {
    const row = await this.opts.prisma.subscription.findFirst({ where: { id, userId }, include: subscriptionViewInclude });
    if (!row) throw new NotFoundError("Subscription not found");
    return toSubscriptionView(row);
  }

  /**
   * A plan change of the subscription's instance, inside the caller's transaction (user row locked):
   * the monthly price difference pro rata over the whole days left in the period (billing-rules.ts)
   * as one PLAN_CHANGE entry (`plan-change:<instanceId>:<generation>`), and the subscription moves to
   * the new plan. Returns the credits moved (negative: charged).
   */
  async changePlan(tx: Tx, c: PlanChange): Promise<number> {
    const { subscription: sub } = c;
    const amount = planChangeAmount(
      c.fromPlan.monthlyPriceCredits,
      c.toPlan.monthlyPriceCredits,
      c.now,
      sub.currentPeriodStart,
      sub.currentPeriodEnd,
    );
    let credits = 0;
    if (amount !== 0) {
      const { entry } = await this.opts.ledger.post(tx, {
        userId: c.userId,
        type: "PLAN_CHANGE",
        amount: -amount,
        reason: `Plan change ${c.fromPlan.slug} -> ${c.toPlan.slug} for '${c.instance.name}' (pro rata)`,
        referenceType: "instance",
        referenceId: c.instance.id,
        idempotencyKey: ledgerKeys.planChange(c.instance.id, c.instance.generation),
      });
      credits = entry.amount;
    }
    await tx.subscription.update({ where: { id: sub.id }, data: { planId: c.toPlan.id } });
    return credits;
  }

  /**
   * Cancels an ACTIVE or PAST_DUE subscription (409 INVALID_STATE when already cancelled): its instances
   * are asked to terminate, and an ACTIVE one gets the unused whole days of the paid period back as a
   * REFUND (`refund:cancel:<id>`; see billing-rules.ts). No cancel refund when the provisioning's
   * first-period refund already returned the money.
   */
  async cancel(caller: AuthIdentity, id: string): Promise<SubscriptionCancelResponse> {
    const userId = caller.userId;
    const { body, wake } = await inTransaction(this.opts.prisma, async (tx) => {
      await lockUser(tx, userId);
      const sub = await tx.subscription.findFirst({
        where: { id, userId },
        include: { plan: { include: { service: true } }, instances: { select: { id: true } } },
      });
      if (!sub) throw new NotFoundError("Subscription not found");
      if (sub.status === "CANCELLED")
        throw new InvalidStateError("The subscription is already cancelled", { details: { status: sub.status } });
      const now = this.opts.clock.now();
      let refund: CreditTransactionView | null = null;
      if (sub.status === "ACTIVE") {
        const r = unusedDaysRefund(sub.plan.monthlyPriceCredits, now, sub.currentPeriodStart, sub.currentPeriodEnd);
        const alreadyRefunded = await tx.creditTransaction.count({
          where: { type: "REFUND", idempotencyKey: { in: sub.instances.map((i) => ledgerKeys.firstPeriodRefund(i.id)) } },
        });
        if (r.amount > 0 && alreadyRefunded === 0) {
          const { entry } = await this.opts.ledger.post(tx, {
            userId,
            type: "REFUND",
            amount: r.amount,
            reason: `Refund of ${r.remainingWholeDays} unused of ${r.daysInPeriod} days of ${sub.plan.service.name} ${sub.plan.name}`,
            referenceType: "subscription",
            referenceId: sub.id,
            idempotencyKey: ledgerKeys.cancelRefund(sub.id),
          });
          refund = toCreditTransactionView(entry);
        }
      }
      const wake = await cancelSubscriptionAndTerminate(tx, sub.id, {
        now,
        cancelReason: "Cancelled by the user",
        reasonCode: "CANCELLED",
        message: "Terminating: the subscription was cancelled",
      });
      await this.opts.audit?.record(tx, {
        request: caller.request,
        action: "subscription.cancel",
        objectType: "subscription",
        objectId: sub.id,
        details: { instanceIds: wake, refund: refund?.amount ?? 0 },
      });
      const full = await tx.subscription.findUniqueOrThrow({ where: { id: sub.id }, include: subscriptionViewInclude });
      return { body: { subscription: toSubscriptionView(full), refund }, wake };
    });
    for (const instanceId of wake) this.opts.signal.instanceChanged(instanceId);
    return body;
  }
}

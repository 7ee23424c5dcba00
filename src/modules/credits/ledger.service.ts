/**
 * The credit ledger: the only way credits move.
 *
 * Every movement is one append-only `credit_transactions` row (a database trigger forbids UPDATE and
 * DELETE) plus the matching change of the cached `users.credit_balance`, in one transaction:
 *   1. `SELECT ... FOR UPDATE` on the user row — concurrent posts for one user queue here;
 *   2. if an idempotency key is given and an entry with it exists, that entry is returned and nothing
 *      moves (checked after the lock, so a concurrent post with the same key sees the committed entry);
 *   3. `UPDATE users SET credit_balance = credit_balance + amount WHERE ... AND credit_balance + amount >= 0`
 *      — no row means insufficient credits (402 with {balance, price}); the CHECK constraints on both
 *      tables are the last line of defence;
 *   4. insert the entry with `balanceAfter` (steps 2-4 are one statement: the UPDATE in a CTE, the INSERT
 *      from what it returned).
 *
 * Idempotency keys used by the product (one entry per key, ever; built by `ledgerKeys`, ledger-keys.ts):
 *   - `admin-grant:<adminId>:<Idempotency-Key header>`  admin top-ups and adjustments
 *   - `subscription:first-period:<subscriptionId>`       the first period of a subscription
 *   - `renewal:<subscriptionId>:<periodStart ISO>`       a renewal, periodStart = start of the period paid for
 *   - `refund:cancel:<subscriptionId>`                   the pro-rata refund when a subscription is cancelled
 *   - `refund:first-period:<instanceId>`                 (provisioning) full refund of an instance that never ran
 *   - `plan-change:<instanceId>:<generation>`            (instances) price difference of a plan change
 *   - `purchase:<checkoutSessionId>`                     (payments) the credits of a paid checkout (PURCHASE)
 *   - `debt-repayment:<checkoutSessionId>`               (payments) the part of that purchase paying a debt
 *   - `purchase-refund:<checkoutSessionId>:<refunded>`   (payments) credits taken back by a refund; `refunded`
 *                                                        is the charge's cumulative amount_refunded
 *
 * Debt: a refund takes back what it can (`reclaim`); what the balance no longer holds is added to
 * `users.credit_debt` (CHECK >= 0) instead of making the balance negative, and `repayDebt` takes it
 * from the next credits that arrive. Both run under the same user-row lock as `post`.
 */
import { orderedId } from "../../platform/ordered-id.js";
import type { CreditTransaction, CreditTransactionType } from "../../generated/prisma/client.js";
import { type Db, Prisma, rowColumns, type SqlTarget, sqlRows } from "../../platform/db/index.js";
import { ConflictError, InsufficientCreditsError, NotFoundError, ValidationError } from "../../platform/domain-errors.js";
import { inTransaction } from "../../platform/transaction.js";
import type { CreditTransactionView } from "./credits.schema.js";

export type { CreditTransactionType };

export interface LedgerPostInput {
  userId: string;
  type: CreditTransactionType;
  /** Signed integer credits: positive adds, negative spends. Never 0. */
  amount: number;
  reason: string;
  /** What caused it, e.g. "subscription" / "instance", and that object's id. */
  referenceType?: string;
  referenceId?: string;
  /** One entry per key, ever: posting an existing key returns that entry and moves nothing. */
  idempotencyKey?: string;
  /** The admin who made a manual entry. */
  createdById?: string;
  /**
   * The caller already holds the user's row lock in the transaction it passes (`lockUser`, with the
   * balance it returned, unchanged since): it is not locked again.
   */
  locked?: { creditBalance: number };
}

export interface LedgerPostResult {
  entry: CreditTransaction;
  /** True when an entry with the idempotency key already existed (nothing moved). */
  replayed: boolean;
}

export type { CreditTransactionView };

export function toCreditTransactionView(t: CreditTransaction): CreditTransactionView {
  return {
    id: t.id,
    userId: t.userId,
    type: t.type,
    amount: t.amount,
    balanceAfter: t.balanceAfter,
    reason: t.reason,
    referenceType: t.referenceType,
    referenceId: t.referenceId,
    createdById: t.createdById,
    createdAt: t.createdAt.toISOString(),
  };
}

/** A credit entry's row under its Prisma field names (`rowColumns`). */
const CREDIT_TRANSACTION_COLUMNS = rowColumns(Prisma.CreditTransactionScalarFieldEnum);

function assertAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount === 0) throw new ValidationError("A ledger amount must be a non-zero integer");
}

/**
 * Locks the user row until the end of the transaction and returns the balance. Everything that reads
 * the balance or the usage and then acts on it (charges, quota checks) takes this lock first, always
 * before locking a subscription or instance row (one lock order, no deadlocks).
 */
export async function lockUser(tx: SqlTarget, userId: string): Promise<{ id: string; creditBalance: number }> {
  const rows = await sqlRows<{ id: string; credit_balance: number }>(
    tx,
    Prisma.sql`SELECT "id", "credit_balance" FROM "users" WHERE "id" = ${userId} FOR UPDATE`,
  );
  const row = rows[0];
  if (!row) throw new NotFoundError("User not found");
  return { id: row.id, creditBalance: Number(row.credit_balance) };
}

export class LedgerService {
  /**
   * Posts one entry. Joins the caller's transaction when given one (so a charge commits or rolls back
   * with the work it pays for), else opens its own.
   * Throws InsufficientCreditsError (402, details {balance, price}) when a debit would go below zero,
   * NotFoundError for an unknown user, ConflictError when an existing idempotency key belongs to a
   * different user, type or amount (a programming error: keys must name one movement).
   */
  async post(db: Db, input: LedgerPostInput): Promise<LedgerPostResult> {
    assertAmount(input.amount);
    return inTransaction(db, async (tx) => this.postLocked(tx, { ...input, locked: input.locked ?? (await lockUser(tx, input.userId)) }));
  }

  /**
   * `post` inside a transaction that already holds the user's row lock (`lockUser`), on Prisma's
   * transaction or the driver's (`inSqlTransaction`). The balance moves and the entry is written in one
   * statement, only when no entry has the key yet; the key's entry, if any, is looked at only when
   * nothing moved.
   */
  async postLocked(q: SqlTarget, input: LedgerPostInput & { locked: { creditBalance: number } }): Promise<LedgerPostResult> {
    assertAmount(input.amount);
    const key = input.idempotencyKey;
    const [entry] = await sqlRows<CreditTransaction>(
      q,
      Prisma.sql`
      WITH u AS (
        UPDATE "users" SET "credit_balance" = "credit_balance" + ${input.amount}, "updated_at" = now()
         WHERE "id" = ${input.userId} AND "credit_balance" + ${input.amount} >= 0
           ${key === undefined ? Prisma.empty : Prisma.sql`AND NOT EXISTS (SELECT 1 FROM "credit_transactions" WHERE "idempotency_key" = ${key})`}
        RETURNING "credit_balance")
      INSERT INTO "credit_transactions" ("id", "user_id", "type", "amount", "balance_after", "reason", "reference_type",
        "reference_id", "idempotency_key", "created_by_id", "created_at")
      SELECT ${orderedId()}, ${input.userId}, CAST(${input.type}::text AS "CreditTransactionType"), ${input.amount}, u."credit_balance",
             ${input.reason}, ${input.referenceType ?? null}, ${input.referenceId ?? null}, ${key ?? null}, ${input.createdById ?? null},
             ${new Date()}
        FROM u
      RETURNING ${CREDIT_TRANSACTION_COLUMNS}`,
    );
    if (entry) return { entry, replayed: false };
    if (key !== undefined) {
      const [existing] = await sqlRows<CreditTransaction>(
        q,
        Prisma.sql`SELECT ${CREDIT_TRANSACTION_COLUMNS} FROM "credit_transactions" WHERE "idempotency_key" = ${key}`,
      );
      if (existing) {
        if (existing.userId !== input.userId || existing.type !== input.type || existing.amount !== input.amount) {
          throw new ConflictError(`Ledger idempotency key '${key}' already names a different movement`);
        }
        return { entry: existing, replayed: true };
      }
    }
    const price = -input.amount;
    throw new InsufficientCreditsError(`Insufficient credits: ${price} needed, balance is ${input.locked.creditBalance}`, {
      details: { balance: input.locked.creditBalance, price },
    });
  }

  /**
   * Takes back up to `amount` (> 0) credits: as many as the balance holds are debited with one entry
   * (of `input.type`, under `input.idempotencyKey`); the rest is added to the user's debt. Nothing goes
   * negative. The caller records that the reclaim happened (an owed-only reclaim writes no entry, so the
   * ledger key alone cannot make it idempotent).
   */
  async reclaim(db: Db, input: LedgerPostInput): Promise<{ entry: CreditTransaction | null; taken: number; owed: number }> {
    if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
      throw new ValidationError("A reclaimed amount must be a positive integer");
    }
    return inTransaction(db, async (tx) => {
      const user = await lockUser(tx, input.userId);
      const taken = Math.min(input.amount, user.creditBalance);
      const owed = input.amount - taken;
      const entry = taken > 0 ? (await this.post(tx, { ...input, amount: -taken })).entry : null;
      if (owed > 0) {
        await tx.$executeRaw`
          UPDATE "users" SET "credit_debt" = "credit_debt" + ${owed}, "updated_at" = now() WHERE "id" = ${input.userId}`;
      }
      return { entry, taken, owed };
    });
  }

  /**
   * Pays the user's debt from at most `input.amount` (> 0) credits that just arrived: one negative
   * entry (of `input.type`) for min(debt, amount, balance), and the debt shrinks by as much.
   */
  async repayDebt(db: Db, input: LedgerPostInput): Promise<{ entry: CreditTransaction | null; repaid: number }> {
    return inTransaction(db, async (tx) => {
      const user = await lockUser(tx, input.userId);
      const debt = await this.debt(tx, input.userId);
      const repaid = Math.min(debt, input.amount, user.creditBalance);
      if (repaid <= 0) return { entry: null, repaid: 0 };
      const { entry, replayed } = await this.post(tx, { ...input, amount: -repaid });
      if (!replayed) {
        await tx.$executeRaw`
          UPDATE "users" SET "credit_debt" = "credit_debt" - ${repaid}, "updated_at" = now() WHERE "id" = ${input.userId}`;
      }
      return { entry, repaid: replayed ? 0 : repaid };
    });
  }

  /** Credits the user owes (refunds that found the balance spent). */
  async debt(db: Db, userId: string): Promise<number> {
    const user = await db.user.findUnique({ where: { id: userId }, select: { creditDebt: true } });
    if (!user) throw new NotFoundError("User not found");
    return user.creditDebt;
  }

  /** The cached balance (equal to the newest entry's balanceAfter). */
  async balance(db: Db, userId: string): Promise<number> {
    const user = await db.user.findUnique({ where: { id: userId }, select: { creditBalance: true } });
    if (!user) throw new NotFoundError("User not found");
    return user.creditBalance;
  }
}

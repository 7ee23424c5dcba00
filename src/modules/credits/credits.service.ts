import type { RequestContext } from "../../platform/request-context.js";
import type { AuditService } from "../audit/audit.service.js";
import { type Db, Prisma, type PrismaClient, prismaRead, type SqlRead, type Tx } from "../../platform/db/index.js";
import { NotFoundError } from "../../platform/domain-errors.js";
import { type PageQuery, type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { IdempotencyService, IdempotentResponse } from "../../platform/idempotency.js";
import type { InstanceSignal } from "../../platform/signals.js";
import type { CreditsGrantReq, CreditsGrantResponse, CreditTransactionView } from "./credits.schema.js";
import { ledgerKeys } from "./ledger-keys.js";
import { type LedgerService, lockUser, toCreditTransactionView } from "./ledger.service.js";

/**
 * Called inside the grant's transaction (user row locked) after credits arrived: renews the user's
 * PAST_DUE subscriptions it can now pay for and returns the instances to wake. Implemented by billing.
 */
export interface TopUpListener {
  afterTopUp(tx: Tx, userId: string): Promise<{ instanceIds: string[] }>;
}

export type { CreditsGrantResponse };

export class CreditsService {
  constructor(
    private readonly opts: {
      prisma: PrismaClient;
      /** The balance read past Prisma's query engine: `Database.read` (default: through `prisma`). */
      read?: SqlRead;
      ledger: LedgerService;
      idempotency: IdempotencyService;
      signal: InstanceSignal;
      topUpListener?: TopUpListener;
      audit?: AuditService;
    },
  ) {
    this.read = opts.read ?? prismaRead(opts.prisma);
  }

  private readonly read: SqlRead;

  /** One statement, straight to the driver (GET /api/credits is polled by dashboards). */
  async balance(userId: string): Promise<{ balance: number }> {
    const [user] = await this.read<{ balance: number }>(
      Prisma.sql`SELECT "credit_balance" AS "balance" FROM "users" WHERE "id" = ${userId}`,
    );
    if (!user) throw new NotFoundError("User not found");
    return { balance: user.balance };
  }

  /** The user's ledger, newest first. */
  async transactions(userId: string, q: PageQuery, db: Db = this.opts.prisma): Promise<Paginated<CreditTransactionView>> {
    const where = { userId };
    const [rows, total] = await Promise.all([
      db.creditTransaction.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      db.creditTransaction.count({ where }),
    ]);
    return paginated(rows.map(toCreditTransactionView), total, q);
  }

  /** Admin: a user's ledger; an unknown user is a 404 (not an empty page). */
  async userTransactions(userId: string, q: PageQuery): Promise<Paginated<CreditTransactionView>> {
    const user = await this.opts.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!user) throw new NotFoundError("User not found");
    return this.transactions(userId, q);
  }

  /**
   * Admin grant (or, with a negative amount, adjustment) under a required Idempotency-Key. The ledger
   * entry's own key is `admin-grant:<adminId>:<key>`. A positive grant also settles the user's PAST_DUE
   * subscriptions in the same transaction; their instances are signalled after commit.
   */
  async grant(
    adminId: string,
    userId: string,
    body: CreditsGrantReq,
    idempotencyKey: string,
    request: RequestContext | undefined,
  ): Promise<IdempotentResponse<CreditsGrantResponse>> {
    const wake: string[] = [];
    const res = await this.opts.idempotency.execute<CreditsGrantResponse>(
      { userId: adminId, scope: "admin.credits.grant", key: idempotencyKey, request: { userId, body } },
      async (tx) => {
        await lockUser(tx, userId); // 404 for an unknown user
        const { entry } = await this.opts.ledger.post(tx, {
          userId,
          type: body.amount > 0 ? "TOPUP" : "ADJUSTMENT",
          amount: body.amount,
          reason: body.reason,
          referenceType: "admin",
          referenceId: adminId,
          idempotencyKey: ledgerKeys.adminGrant(adminId, idempotencyKey),
          createdById: adminId,
        });
        await this.opts.audit?.record(tx, {
          request,
          action: "admin.credits.grant",
          objectType: "user",
          objectId: userId,
          details: { amount: body.amount, reason: body.reason, transactionId: entry.id },
        });
        if (body.amount > 0 && this.opts.topUpListener) {
          const { instanceIds } = await this.opts.topUpListener.afterTopUp(tx, userId);
          wake.push(...instanceIds);
        }
        return { status: 201, body: { transaction: toCreditTransactionView(entry) } };
      },
    );
    for (const id of wake) this.opts.signal.instanceChanged(id);
    return res;
  }
}

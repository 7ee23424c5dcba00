/**
 * Buying credits: a checkout with a provider (Stripe Checkout, or the development provider in local
 * mode), and the provider's events that settle it. Credits are granted only by a settled event —
 * a verified Stripe webhook, or the development page, which feeds the same `handleEvent` a
 * Stripe-shaped event.
 *
 * Exactly once: a paid session posts one PURCHASE ledger entry keyed `purchase:<sessionId>`. The
 * handler locks the user row (the ledger's lock), then the purchase row, and acts only on a PENDING
 * (or FAILED) purchase; concurrent deliveries queue on the user lock and the later ones find it PAID.
 * The ledger key is the last guard.
 *
 * Refunds (`charge.refunded`, cumulative `amount_refunded`): the credits proportional to the refunded
 * amount are taken back as far as the balance allows; the rest becomes the user's debt, which the next
 * purchase pays first (DEBT_REPAYMENT). The balance never goes negative.
 *
 * Events that cannot be acted on (unknown user or session, malformed object) are acknowledged and
 * logged: Stripe would otherwise retry them for days to no effect. Database failures are not
 * acknowledged (500), so Stripe retries those.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Purchase } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient, Tx } from "../../platform/db/index.js";
import { ConflictError, DependencyUnavailableError, NotFoundError } from "../../platform/domain-errors.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { Logger } from "../../platform/logger.js";
import type { InstanceSignal } from "../../platform/signals.js";
import { inTransaction } from "../../platform/transaction.js";
import type { TopUpListener } from "../credits/credits.service.js";
import { type LedgerService, lockUser } from "../credits/ledger.service.js";
import { ledgerKeys } from "../credits/ledger-keys.js";
import type { CheckoutProvider } from "./checkout-provider.js";
import type { CheckoutCreateReq, PurchasesQuery, PurchaseView, WebhookOutcome } from "./payments.schema.js";
import { toPurchaseView } from "./payments.views.js";

/** No provider: production without STRIPE_SECRET_KEY. */
export class PaymentsNotConfiguredError extends DependencyUnavailableError {
  override readonly code = "PAYMENTS_NOT_CONFIGURED";
}

/** The package exists but is not for sale. */
export class PackageUnavailableError extends ConflictError {
  override readonly code = "PACKAGE_UNAVAILABLE";
}

/** The provider could not create a checkout (network, Stripe error): 503, the purchase is FAILED. */
export class PaymentProviderError extends DependencyUnavailableError {
  override readonly code = "PAYMENT_PROVIDER_UNAVAILABLE";
}

const EventSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

const idOrObject = z.union([z.string(), z.object({ id: z.string() })]).transform((v) => (typeof v === "string" ? v : v.id));

const SessionSchema = z.object({
  id: z.string().min(1),
  client_reference_id: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  payment_status: z.string(),
  payment_intent: idOrObject.nullish(),
});
type SessionObject = z.infer<typeof SessionSchema>;

const ChargeSchema = z.object({
  id: z.string().min(1),
  payment_intent: idOrObject.nullish(),
  amount_refunded: z.number().int().min(0),
  receipt_url: z.string().nullish(),
});

export interface PaymentsServiceOptions {
  prisma: PrismaClient;
  ledger: LedgerService;
  clock: Clock;
  logger: Logger;
  signal: InstanceSignal;
  /** Undefined: payments are not configured (checkout answers 503 PAYMENTS_NOT_CONFIGURED). */
  provider: CheckoutProvider | undefined;
  /** Renews PAST_DUE subscriptions when credits arrive (billing). */
  topUpListener?: TopUpListener;
  /** The web app users return to (APP_URL). */
  appUrl: string;
}

export class PaymentsService {
  private readonly log: Logger;

  constructor(private readonly opts: PaymentsServiceOptions) {
    this.log = opts.logger.child({ module: "payments" });
  }

  get providerName(): "stripe" | "development" | undefined {
    return this.opts.provider?.name;
  }

  successUrl(sessionId = "{CHECKOUT_SESSION_ID}"): string {
    return `${this.opts.appUrl}/billing?checkout=success&session_id=${sessionId}`;
  }

  cancelUrl(): string {
    return `${this.opts.appUrl}/billing?checkout=cancelled`;
  }

  /**
   * Records a PENDING purchase, then creates the provider's checkout session for it (idempotency key
   * `checkout:<purchaseId>`) and returns where to send the user. A provider failure marks the
   * purchase FAILED and is a 503.
   */
  async checkout(
    userId: string,
    body: CheckoutCreateReq,
    apiOrigin: string,
  ): Promise<{ checkout: { id: string; url: string }; purchase: PurchaseView }> {
    const provider = this.opts.provider;
    if (!provider) throw new PaymentsNotConfiguredError("Payments are not configured on this server (STRIPE_SECRET_KEY)");
    const prisma = this.opts.prisma;
    const pkg = await prisma.creditPackage.findUnique({ where: { id: body.packageId } });
    if (!pkg) throw new NotFoundError("Credit package not found");
    if (!pkg.isActive) throw new PackageUnavailableError("This credit package is no longer for sale");
    const purchase = await prisma.purchase.create({
      data: { userId, packageId: pkg.id, provider: provider.name, credits: pkg.credits, amount: pkg.amount, currency: pkg.currency },
    });
    let session: { id: string; url: string };
    try {
      session = await provider.createCheckoutSession({
        purchaseId: purchase.id,
        userId,
        packageId: pkg.id,
        packageName: pkg.name,
        credits: pkg.credits,
        amount: pkg.amount,
        currency: pkg.currency,
        idempotencyKey: `checkout:${purchase.id}`,
        successUrl: this.successUrl(),
        cancelUrl: this.cancelUrl(),
        apiOrigin,
      });
    } catch (err) {
      await prisma.purchase.update({
        where: { id: purchase.id },
        data: { status: "FAILED", failureReason: "checkout could not be created" },
      });
      const info = (err as { info?: unknown }).info;
      this.log.warn({ purchaseId: purchase.id, provider: provider.name, error: (err as Error).message, info }, "checkout creation failed");
      throw new PaymentProviderError("The payment provider is unavailable; try again later", { cause: err });
    }
    const saved = await prisma.purchase.update({
      where: { id: purchase.id },
      data: { checkoutSessionId: session.id, checkoutUrl: session.url },
    });
    this.log.info({ purchaseId: saved.id, userId, sessionId: session.id, provider: provider.name }, "checkout created");
    return { checkout: { id: session.id, url: session.url }, purchase: toPurchaseView(saved) };
  }

  /** The caller's purchases, newest first. */
  async purchases(userId: string, q: PurchasesQuery): Promise<Paginated<PurchaseView>> {
    const where = { userId };
    const [rows, total] = await Promise.all([
      this.opts.prisma.purchase.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      this.opts.prisma.purchase.count({ where }),
    ]);
    return paginated(rows.map(toPurchaseView), total, q);
  }

  /**
   * Settles a provider event (already verified). Returns what it did; throws only for failures worth
   * a retry (database down).
   */
  async handleEvent(raw: unknown): Promise<WebhookOutcome> {
    const parsed = EventSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn(
        { issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`) },
        "malformed webhook event acknowledged and ignored",
      );
      return "ignored";
    }
    const event = parsed.data;
    const log = this.log.child({ eventId: event.id, eventType: event.type });
    switch (event.type) {
      case "checkout.session.completed":
      case "checkout.session.async_payment_succeeded":
        return this.onSessionSettled(event.data.object, log, event.type === "checkout.session.completed");
      case "checkout.session.async_payment_failed":
      case "checkout.session.expired":
        return this.onSessionFailed(event.data.object, log, event.type === "checkout.session.expired" ? "expired" : "payment failed");
      case "charge.refunded":
        return this.onChargeRefunded(event.data.object, log);
      default:
        log.debug("webhook event type not handled");
        return "unhandled";
    }
  }

  private parseSession(object: unknown, log: Logger): SessionObject | undefined {
    const s = SessionSchema.safeParse(object);
    if (!s.success) {
      log.warn(
        { issues: s.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`) },
        "malformed checkout session acknowledged and ignored",
      );
      return undefined;
    }
    return s.data;
  }

  /** Our purchase for a session: by session id, else by the purchaseId we put in its metadata. */
  private async purchaseForSession(s: SessionObject, log: Logger): Promise<Purchase | undefined> {
    const prisma = this.opts.prisma;
    const bySession = await prisma.purchase.findUnique({ where: { checkoutSessionId: s.id } });
    if (bySession) return bySession;
    const purchaseId = s.metadata?.purchaseId;
    const byMeta = purchaseId ? await prisma.purchase.findUnique({ where: { id: purchaseId } }) : null;
    if (byMeta && (byMeta.checkoutSessionId === null || byMeta.checkoutSessionId === s.id)) return byMeta;
    const userId = s.client_reference_id;
    const userKnown = userId ? (await prisma.user.count({ where: { id: userId } })) > 0 : false;
    log.warn(
      { sessionId: s.id, userId: userId ?? null },
      userKnown
        ? "checkout session unknown to this server acknowledged and ignored"
        : "checkout session for an unknown user acknowledged and ignored",
    );
    return undefined;
  }

  private async onSessionSettled(object: unknown, log: Logger, completedEvent: boolean): Promise<WebhookOutcome> {
    const s = this.parseSession(object, log);
    if (!s) return "ignored";
    const found = await this.purchaseForSession(s, log);
    if (!found) return "ignored";
    if (s.client_reference_id && s.client_reference_id !== found.userId) {
      log.error(
        { sessionId: s.id, purchaseId: found.id },
        "checkout session names another user than its purchase; acknowledged, not credited",
      );
      return "ignored";
    }
    if (s.metadata?.credits !== undefined && s.metadata.credits !== String(found.credits)) {
      log.error(
        { sessionId: s.id, purchaseId: found.id },
        "checkout session metadata.credits differs from its purchase; acknowledged, not credited",
      );
      return "ignored";
    }
    const paymentIntentId = s.payment_intent ?? null;
    if (s.payment_status !== "paid") {
      // Completed with a delayed payment method: async_payment_succeeded (or _failed) follows.
      if (completedEvent && paymentIntentId && !found.paymentIntentId) {
        await this.opts.prisma.purchase.updateMany({ where: { id: found.id, paymentIntentId: null }, data: { paymentIntentId } });
      }
      log.info({ purchaseId: found.id, paymentStatus: s.payment_status }, "checkout completed, payment not settled yet");
      return "awaiting_payment";
    }

    const wake: string[] = [];
    const outcome = await inTransaction(this.opts.prisma, async (tx): Promise<WebhookOutcome> => {
      await lockUser(tx, found.userId);
      const p = await lockPurchase(tx, found.id);
      if (p.status === "PAID" || p.status === "REFUNDED") return "already_credited";
      const key = ledgerKeys.purchase(s.id);
      await this.opts.ledger.post(tx, {
        userId: p.userId,
        type: "PURCHASE",
        amount: p.credits,
        reason: `Bought ${p.credits} credits`,
        referenceType: "purchase",
        referenceId: p.id,
        idempotencyKey: key,
      });
      const { repaid } = await this.opts.ledger.repayDebt(tx, {
        userId: p.userId,
        type: "DEBT_REPAYMENT",
        amount: p.credits,
        reason: "Credits owed after a refund, paid from this purchase",
        referenceType: "purchase",
        referenceId: p.id,
        idempotencyKey: ledgerKeys.debtRepayment(s.id),
      });
      await tx.purchase.update({
        where: { id: p.id },
        data: { status: "PAID", paidAt: this.opts.clock.now(), checkoutSessionId: s.id, paymentIntentId, failureReason: null },
      });
      if (this.opts.topUpListener) wake.push(...(await this.opts.topUpListener.afterTopUp(tx, p.userId)).instanceIds);
      log.info({ purchaseId: p.id, userId: p.userId, credits: p.credits, debtRepaid: repaid }, "purchase credited");
      return "credited";
    });
    for (const id of wake) this.opts.signal.instanceChanged(id);
    if (outcome === "credited") await this.recordReceipt(found.id, log);
    else log.info({ purchaseId: found.id }, "duplicate delivery: purchase already credited");
    return outcome;
  }

  /** Best effort: a missing receipt link is logged, never a reason to have the event retried. */
  private async recordReceipt(purchaseId: string, log: Logger): Promise<void> {
    const provider = this.opts.provider;
    try {
      const p = await this.opts.prisma.purchase.findUniqueOrThrow({ where: { id: purchaseId } });
      if (!provider || p.provider !== provider.name || p.receiptUrl) return;
      const url = await provider.receiptUrl(p);
      if (url) await this.opts.prisma.purchase.updateMany({ where: { id: p.id, receiptUrl: null }, data: { receiptUrl: url } });
    } catch (err) {
      log.warn({ purchaseId, error: (err as Error).message, info: (err as { info?: unknown }).info }, "could not read the receipt link");
    }
  }

  private async onSessionFailed(object: unknown, log: Logger, reason: string): Promise<WebhookOutcome> {
    const s = this.parseSession(object, log);
    if (!s) return "ignored";
    const found = await this.purchaseForSession(s, log);
    if (!found) return "ignored";
    // Only a PENDING purchase fails: money that arrived is never undone by a late failure event.
    const r = await this.opts.prisma.purchase.updateMany({
      where: { id: found.id, status: "PENDING" },
      data: { status: "FAILED", failureReason: reason, checkoutSessionId: s.id },
    });
    if (r.count === 0) {
      log.info({ purchaseId: found.id, status: found.status }, "failure event for a settled purchase ignored");
      return "ignored";
    }
    log.info({ purchaseId: found.id, reason }, "purchase failed");
    return "marked_failed";
  }

  private async onChargeRefunded(object: unknown, log: Logger): Promise<WebhookOutcome> {
    const c = ChargeSchema.safeParse(object);
    if (!c.success || !c.data.payment_intent) {
      log.warn(
        { issues: c.success ? ["payment_intent: missing"] : c.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`) },
        "malformed charge acknowledged and ignored",
      );
      return "ignored";
    }
    const charge = c.data;
    const found = await this.opts.prisma.purchase.findUnique({ where: { paymentIntentId: charge.payment_intent as string } });
    if (!found) {
      log.warn({ chargeId: charge.id }, "refund of a payment unknown to this server acknowledged and ignored");
      return "ignored";
    }
    return inTransaction(this.opts.prisma, async (tx): Promise<WebhookOutcome> => {
      await lockUser(tx, found.userId);
      const p = await lockPurchase(tx, found.id);
      if (p.status !== "PAID" && p.status !== "REFUNDED") {
        log.warn({ purchaseId: p.id, status: p.status }, "refund of a purchase that was never credited ignored");
        return "ignored";
      }
      const refunded = Math.min(charge.amount_refunded, p.amount);
      if (refunded <= p.refundedAmount) return "already_refunded";
      const target = refunded >= p.amount ? p.credits : Math.floor((p.credits * refunded) / p.amount);
      const delta = target - (p.creditsReversed + p.creditsOwed);
      let taken = 0;
      let owed = 0;
      if (delta > 0) {
        ({ taken, owed } = await this.opts.ledger.reclaim(tx, {
          userId: p.userId,
          type: "PURCHASE_REFUND",
          amount: delta,
          reason: `Payment refunded: ${delta} credits taken back`,
          referenceType: "purchase",
          referenceId: p.id,
          idempotencyKey: ledgerKeys.purchaseRefund(p.checkoutSessionId ?? p.id, refunded),
        }));
      }
      await tx.purchase.update({
        where: { id: p.id },
        data: {
          refundedAmount: refunded,
          creditsReversed: p.creditsReversed + taken,
          creditsOwed: p.creditsOwed + owed,
          status: refunded >= p.amount ? "REFUNDED" : "PAID",
          receiptUrl: charge.receipt_url ?? p.receiptUrl,
        },
      });
      log.info(
        { purchaseId: p.id, userId: p.userId, refundedAmount: refunded, creditsTaken: taken, creditsOwed: owed },
        "purchase refunded",
      );
      return "refunded";
    });
  }

  // ---- The development provider's page (local mode only) ------------------------------------------

  /** A development checkout and its package name, for the local page. */
  async devCheckout(sessionId: string): Promise<{ purchase: Purchase; packageName: string; successUrl: string; cancelUrl: string }> {
    const p = await this.opts.prisma.purchase.findUnique({ where: { checkoutSessionId: sessionId }, include: { package: true } });
    if (p?.provider !== "development") throw new NotFoundError("Checkout session not found");
    const { package: pkg, ...purchase } = p;
    return { purchase, packageName: pkg.name, successUrl: this.successUrl(sessionId), cancelUrl: this.cancelUrl() };
  }

  /**
   * The development page's "pay" (or "cancel") button: feeds `handleEvent` the event Stripe would send
   * (`checkout.session.completed` paid, or `checkout.session.expired`), so the crediting path is the
   * webhook's own.
   */
  async devSettle(sessionId: string, result: "paid" | "cancelled"): Promise<WebhookOutcome> {
    const { purchase: p } = await this.devCheckout(sessionId);
    // A settled checkout stays settled (a resubmitted or back-button form changes nothing).
    if (p.status !== "PENDING") return p.status === "FAILED" ? "ignored" : "already_credited";
    return this.handleEvent({
      id: `evt_dev_${randomBytes(12).toString("hex")}`,
      object: "event",
      type: result === "paid" ? "checkout.session.completed" : "checkout.session.expired",
      data: {
        object: {
          id: sessionId,
          object: "checkout.session",
          mode: "payment",
          client_reference_id: p.userId,
          metadata: { credits: String(p.credits), packageId: p.packageId, purchaseId: p.id },
          payment_status: result === "paid" ? "paid" : "unpaid",
          payment_intent: null,
          amount_total: p.amount,
          currency: p.currency,
        },
      },
    });
  }
}

async function lockPurchase(tx: Tx, id: string): Promise<Purchase> {
  const rows = await tx.$queryRaw<Array<{ id: string }>>`SELECT "id" FROM "purchases" WHERE "id" = ${id} FOR UPDATE`;
  if (!rows[0]) throw new NotFoundError("Purchase not found");
  return tx.purchase.findUniqueOrThrow({ where: { id } });
}

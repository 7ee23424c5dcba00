/**
 * Payments with Stripe: the real `stripe` library pointed at a loopback stand-in (STRIPE_API_URL) for
 * session creation, and webhook deliveries signed with the library's own test helper
 * (`webhooks.generateTestHeaderString`). Crediting is exactly once under duplicate deliveries, and under
 * concurrent ones on real PostgreSQL (two replicas); refunds never make a balance negative.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import Stripe from "stripe";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { REDACT_PATHS } from "../../src/platform/logger.js";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";
import { StripeStandIn } from "../helpers/stripe-stand-in.js";

const KEY = "sk_test_minispodPaymentsKey123";
const SECRET = "whsec_minispodPaymentsSecret456";
const APP_URL = "https://app.example.test";

let ctx: TestContext;
let standIn: StripeStandIn;
const lines: string[] = [];

beforeAll(async () => {
  standIn = await StripeStandIn.start();
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[REDACTED]" } }, sink);
  ctx = await createTestContext({
    env: { STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRET: SECRET, STRIPE_API_URL: standIn.url, APP_URL },
    overrides: { logger },
  });
});
afterAll(async () => {
  await ctx?.close();
  await standIn?.stop();
});

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

let eventSeq = 0;
function sign(payload: string, opts: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? SECRET, timestamp: opts.timestamp });
}

function deliver(event: unknown, opts: { secret?: string; timestamp?: number; app?: Parameters<typeof supertest>[0] } = {}) {
  const payload = typeof event === "string" ? event : JSON.stringify(event);
  const agent = opts.app ? supertest(opts.app) : ctx.api;
  return agent
    .post("/api/webhooks/stripe")
    .set("Content-Type", "application/json")
    .set("Stripe-Signature", sign(payload, opts))
    .send(payload);
}

interface Checkout {
  sessionId: string;
  purchaseId: string;
  packageId: string;
  credits: number;
  amount: number;
  user: TestUser;
}

async function checkout(user: TestUser, slug = "credits-2000"): Promise<Checkout> {
  const pkg = await ctx.container.db.prisma.creditPackage.findUniqueOrThrow({ where: { slug } });
  const res = await ctx.api.post("/api/credits/checkout").set(user.auth).send({ packageId: pkg.id });
  expect(res.status).toBe(201);
  return {
    sessionId: res.body.checkout.id,
    purchaseId: res.body.purchase.id,
    packageId: pkg.id,
    credits: pkg.credits,
    amount: pkg.amount,
    user,
  };
}

function sessionEvent(
  type: string,
  c: Checkout,
  opts: { paymentStatus?: string; paymentIntent?: string | null; eventId?: string; userId?: string } = {},
) {
  eventSeq += 1;
  return {
    id: opts.eventId ?? `evt_test_${eventSeq}`,
    object: "event",
    api_version: "2025-01-01",
    type,
    data: {
      object: {
        id: c.sessionId,
        object: "checkout.session",
        mode: "payment",
        client_reference_id: opts.userId ?? c.user.id,
        metadata: { credits: String(c.credits), packageId: c.packageId, purchaseId: c.purchaseId },
        payment_status: opts.paymentStatus ?? "paid",
        payment_intent: opts.paymentIntent === undefined ? `pi_${c.purchaseId}` : opts.paymentIntent,
        amount_total: c.amount,
        currency: "usd",
      },
    },
  };
}

function refundEvent(c: Checkout, amountRefunded: number) {
  eventSeq += 1;
  return {
    id: `evt_test_${eventSeq}`,
    object: "event",
    type: "charge.refunded",
    data: {
      object: {
        id: `ch_for_pi_${c.purchaseId}`,
        object: "charge",
        payment_intent: `pi_${c.purchaseId}`,
        amount: c.amount,
        amount_refunded: amountRefunded,
        refunded: amountRefunded >= c.amount,
        receipt_url: `https://pay.stripe.test/receipts/pi_${c.purchaseId}/refunded`,
      },
    },
  };
}

async function state(userId: string) {
  const prisma = ctx.container.db.prisma;
  const user = await prisma.user.findUniqueOrThrow({ where: { id: userId } });
  const entries = await prisma.creditTransaction.findMany({ where: { userId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return {
    balance: user.creditBalance,
    debt: user.creditDebt,
    entries: entries.map((e) => [e.type, e.amount, e.balanceAfter, e.idempotencyKey]),
    sum: entries.reduce((s, e) => s + e.amount, 0),
  };
}

async function purchase(id: string) {
  return ctx.container.db.prisma.purchase.findUniqueOrThrow({ where: { id } });
}

describe("POST /api/credits/checkout with Stripe", () => {
  it("sends Stripe exactly the session the issue asks for, with an idempotency key, and records the purchase PENDING", async () => {
    const u = await buildUser(ctx);
    const pkg = await ctx.container.db.prisma.creditPackage.findUniqueOrThrow({ where: { slug: "credits-2000" } });
    const before = standIn.requests.length;
    const res = await ctx.api.post("/api/credits/checkout").set(u.auth).send({ packageId: pkg.id });
    expect(res.status).toBe(201);
    const sessionId = res.body.checkout.id as string;
    expect(res.body).toEqual({
      checkout: { id: expect.stringMatching(/^cs_test_standin\d{4}$/), url: `https://checkout.stripe.test/c/pay/${sessionId}` },
      purchase: {
        id: expect.any(String),
        packageId: pkg.id,
        provider: "stripe",
        status: "PENDING",
        credits: 2000,
        amount: 1800,
        currency: "usd",
        checkoutSessionId: sessionId,
        receiptUrl: null,
        failureReason: null,
        refundedAmount: 0,
        creditsReversed: 0,
        creditsOwed: 0,
        paidAt: null,
        createdAt: ISO,
        updatedAt: ISO,
      },
    });
    const purchaseId = res.body.purchase.id as string;
    const sent = standIn.requests.slice(before);
    expect(sent).toHaveLength(1);
    const r = sent[0];
    expect(r?.method).toBe("POST");
    expect(r?.path).toBe("/v1/checkout/sessions");
    expect(r?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(r?.headers["idempotency-key"]).toBe(`checkout:${purchaseId}`);
    expect(r?.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(r?.form).toEqual({
      mode: "payment",
      "line_items[0][quantity]": "1",
      "line_items[0][price_data][currency]": "usd",
      "line_items[0][price_data][unit_amount]": "1800",
      "line_items[0][price_data][product_data][name]": "2,000 credits",
      "line_items[0][price_data][product_data][description]": "2000 MinisPod credits",
      client_reference_id: u.id,
      "metadata[credits]": "2000",
      "metadata[packageId]": pkg.id,
      "metadata[purchaseId]": purchaseId,
      success_url: `${APP_URL}/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${APP_URL}/billing?checkout=cancelled`,
    });
    expect((await state(u.id)).balance).toBe(0);
  });

  it("Stripe failing: 503 PAYMENT_PROVIDER_UNAVAILABLE, the purchase FAILED, no credits", async () => {
    const u = await buildUser(ctx);
    const pkg = await ctx.container.db.prisma.creditPackage.findUniqueOrThrow({ where: { slug: "credits-500" } });
    standIn.failWith = 500;
    try {
      const res = await ctx.api.post("/api/credits/checkout").set(u.auth).send({ packageId: pkg.id });
      expect(res.status).toBe(503);
      expect(res.body).toEqual(
        errorShape("PAYMENT_PROVIDER_UNAVAILABLE", { message: "The payment provider is unavailable; try again later" }),
      );
    } finally {
      standIn.failWith = undefined;
    }
    const list = await ctx.api.get("/api/credits/purchases").set(u.auth);
    expect(list.body.data).toMatchObject([{ status: "FAILED", failureReason: "checkout could not be created", checkoutSessionId: null }]);
    expect((await state(u.id)).entries).toEqual([]);
  });

  it("the development page is not served when Stripe is configured", async () => {
    expect((await ctx.api.get(`/api/payments/dev/checkout/cs_dev_${"a".repeat(32)}`)).status).toBe(404);
  });
});

describe("POST /api/webhooks/stripe: signatures", () => {
  it("a missing, wrong, stale or tampered signature is a 400 that changes nothing", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u);
    const event = sessionEvent("checkout.session.completed", c);
    const payload = JSON.stringify(event);

    const missing = await ctx.api.post("/api/webhooks/stripe").set("Content-Type", "application/json").send(payload);
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual(errorShape("VALIDATION_ERROR", { message: "Missing Stripe-Signature header" }));

    const invalid = "Invalid Stripe-Signature: the event was not verified";
    const wrong = await deliver(event, { secret: "whsec_someoneElse" });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual(errorShape("VALIDATION_ERROR", { message: invalid }));

    // Older than the library's default tolerance (300 s).
    const stale = await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(400);
    expect(stale.body).toEqual(errorShape("VALIDATION_ERROR", { message: invalid }));

    const tampered = await ctx.api
      .post("/api/webhooks/stripe")
      .set("Content-Type", "application/json")
      .set("Stripe-Signature", sign(payload))
      .send(payload.replace('"credits":"2000"', '"credits":"20000"'));
    expect(tampered.status).toBe(400);
    const garbage = await ctx.api
      .post("/api/webhooks/stripe")
      .set("Content-Type", "application/json")
      .set("Stripe-Signature", "nonsense")
      .send(payload);
    expect(garbage.status).toBe(400);

    expect((await state(u.id)).entries).toEqual([]);
    expect((await purchase(c.purchaseId)).status).toBe("PENDING");
  });

  it("is rate limited per address (STRIPE_WEBHOOK_RATE_LIMIT_PER_MINUTE)", async () => {
    const app = createApp({
      ...ctx.container,
      config: { ...ctx.config, payments: { ...ctx.config.payments, webhookRateLimitPerMinute: 2 } },
    });
    const event = { id: "evt_rl", object: "event", type: "customer.created", data: { object: { id: "cus_1" } } };
    const statuses: number[] = [];
    let last: supertest.Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await deliver(event, { app });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last?.body).toEqual(errorShape("RATE_LIMITED", { message: "Too many webhook deliveries; try again later" }));
  });
});

describe("POST /api/webhooks/stripe: crediting exactly once", () => {
  it("checkout.session.completed (paid) credits once; duplicates and re-sent events are acknowledged and change nothing", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u);
    const event = sessionEvent("checkout.session.completed", c);
    const first = await deliver(event);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ received: true, outcome: "credited" });
    const again = await deliver(event);
    expect(again.body).toEqual({ received: true, outcome: "already_credited" });
    // Stripe may also send the same session in another event.
    const resent = await deliver(sessionEvent("checkout.session.completed", c));
    expect(resent.body).toEqual({ received: true, outcome: "already_credited" });

    expect(await state(u.id)).toEqual({
      balance: 2000,
      debt: 0,
      entries: [["PURCHASE", 2000, 2000, `purchase:${c.sessionId}`]],
      sum: 2000,
    });
    const list = await ctx.api.get("/api/credits/purchases").set(u.auth);
    expect(list.body.data).toEqual([
      expect.objectContaining({
        id: c.purchaseId,
        status: "PAID",
        paidAt: ISO,
        receiptUrl: `https://pay.stripe.test/receipts/pi_${c.purchaseId}`,
      }),
    ]);
    expect((await purchase(c.purchaseId)).paymentIntentId).toBe(`pi_${c.purchaseId}`);
    // The receipt came from the payment's charge, read once from Stripe.
    expect(standIn.requests.filter((r) => r.path.startsWith(`/v1/payment_intents/pi_${c.purchaseId}`))).toHaveLength(1);
  });

  it("a delayed payment: completed (unpaid) waits; async_payment_succeeded credits", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u, "credits-500");
    const pending = await deliver(sessionEvent("checkout.session.completed", c, { paymentStatus: "unpaid" }));
    expect(pending.body).toEqual({ received: true, outcome: "awaiting_payment" });
    expect((await state(u.id)).balance).toBe(0);
    expect(await purchase(c.purchaseId)).toMatchObject({ status: "PENDING", paymentIntentId: `pi_${c.purchaseId}` });
    const paid = await deliver(sessionEvent("checkout.session.async_payment_succeeded", c));
    expect(paid.body).toEqual({ received: true, outcome: "credited" });
    expect((await state(u.id)).entries).toEqual([["PURCHASE", 500, 500, `purchase:${c.sessionId}`]]);
  });

  it("async_payment_failed and expired mark the purchase FAILED; a late failure never undoes a payment", async () => {
    const u = await buildUser(ctx);
    const failed = await checkout(u, "credits-500");
    expect((await deliver(sessionEvent("checkout.session.async_payment_failed", failed, { paymentStatus: "unpaid" }))).body).toEqual({
      received: true,
      outcome: "marked_failed",
    });
    expect(await purchase(failed.purchaseId)).toMatchObject({ status: "FAILED", failureReason: "payment failed" });
    const expired = await checkout(u, "credits-500");
    expect(
      (await deliver(sessionEvent("checkout.session.expired", expired, { paymentStatus: "unpaid", paymentIntent: null }))).body,
    ).toEqual({
      received: true,
      outcome: "marked_failed",
    });
    expect(await purchase(expired.purchaseId)).toMatchObject({ status: "FAILED", failureReason: "expired" });

    const paid = await checkout(u, "credits-500");
    await deliver(sessionEvent("checkout.session.completed", paid));
    const late = await deliver(sessionEvent("checkout.session.expired", paid, { paymentStatus: "unpaid" }));
    expect(late.body).toEqual({ received: true, outcome: "ignored" });
    expect((await purchase(paid.purchaseId)).status).toBe("PAID");
    expect((await state(u.id)).balance).toBe(500);
  });

  it("unknown users, unknown sessions, malformed events and unhandled types are acknowledged (200) and change nothing", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u, "credits-500");
    const ghost = { ...c, sessionId: "cs_test_unknown", purchaseId: "nope" };
    expect((await deliver(sessionEvent("checkout.session.completed", ghost, { userId: "no-such-user" }))).body).toEqual({
      received: true,
      outcome: "ignored",
    });
    expect((await deliver(sessionEvent("checkout.session.completed", ghost))).body).toEqual({ received: true, outcome: "ignored" });
    // Our session, but naming another user, or other credits than its purchase: not credited.
    const other = await buildUser(ctx);
    expect((await deliver(sessionEvent("checkout.session.completed", c, { userId: other.id }))).body.outcome).toBe("ignored");
    expect((await deliver(sessionEvent("checkout.session.completed", { ...c, credits: 999999 }))).body.outcome).toBe("ignored");
    // Malformed: no session id; no data at all; a body that is not JSON (signed all the same).
    const noId = sessionEvent("checkout.session.completed", c) as { data: { object: Record<string, unknown> } };
    delete noId.data.object.id;
    expect((await deliver(noId)).body).toEqual({ received: true, outcome: "ignored" });
    expect((await deliver({ id: "evt_x", type: "checkout.session.completed" })).body).toEqual({ received: true, outcome: "ignored" });
    expect((await deliver("this is not json")).body).toEqual({ received: true, outcome: "ignored" });
    expect((await deliver({ id: "evt_y", object: "event", type: "customer.created", data: { object: { id: "cus_1" } } })).body).toEqual({
      received: true,
      outcome: "unhandled",
    });
    expect((await state(u.id)).entries).toEqual([]);
    expect((await state(other.id)).entries).toEqual([]);
    expect((await purchase(c.purchaseId)).status).toBe("PENDING");
  });
});

describe("POST /api/webhooks/stripe: refunds", () => {
  it("a refund after the credits were spent takes back what is left and records the rest as debt, never a negative balance", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u); // 2000 credits
    await deliver(sessionEvent("checkout.session.completed", c));
    await ctx.container.services.ledger.post(ctx.container.db.prisma, {
      userId: u.id,
      type: "SUBSCRIPTION_CHARGE",
      amount: -1500,
      reason: "spent",
    });

    const refunded = await deliver(refundEvent(c, c.amount));
    expect(refunded.body).toEqual({ received: true, outcome: "refunded" });
    expect(await state(u.id)).toEqual({
      balance: 0,
      debt: 1500,
      entries: [
        ["PURCHASE", 2000, 2000, `purchase:${c.sessionId}`],
        ["SUBSCRIPTION_CHARGE", -1500, 500, null],
        ["PURCHASE_REFUND", -500, 0, `purchase-refund:${c.sessionId}:${c.amount}`],
      ],
      sum: 0,
    });
    expect(await purchase(c.purchaseId)).toMatchObject({
      status: "REFUNDED",
      refundedAmount: c.amount,
      creditsReversed: 500,
      creditsOwed: 1500,
      receiptUrl: `https://pay.stripe.test/receipts/pi_${c.purchaseId}/refunded`,
    });
    // Delivered again: nothing more.
    expect((await deliver(refundEvent(c, c.amount))).body).toEqual({ received: true, outcome: "already_refunded" });
    expect((await state(u.id)).debt).toBe(1500);

    // The next purchase pays the debt first.
    const next = await checkout(u); // 2000 credits
    expect((await deliver(sessionEvent("checkout.session.completed", next))).body.outcome).toBe("credited");
    const after = await state(u.id);
    expect(after.balance).toBe(500);
    expect(after.debt).toBe(0);
    expect(after.entries.slice(3)).toEqual([
      ["PURCHASE", 2000, 2000, `purchase:${next.sessionId}`],
      ["DEBT_REPAYMENT", -1500, 500, `debt-repayment:${next.sessionId}`],
    ]);
    expect(after.sum).toBe(after.balance);
  });

  it("a debt larger than the next purchase is paid in part; partial refunds take back proportional credits", async () => {
    const u = await buildUser(ctx);
    const big = await checkout(u, "credits-5000");
    await deliver(sessionEvent("checkout.session.completed", big));
    await ctx.container.services.ledger.post(ctx.container.db.prisma, {
      userId: u.id,
      type: "SUBSCRIPTION_CHARGE",
      amount: -5000,
      reason: "spent",
    });
    // Half refunded: 2500 credits to take back, none left: all owed.
    expect((await deliver(refundEvent(big, big.amount / 2))).body.outcome).toBe("refunded");
    expect(await purchase(big.purchaseId)).toMatchObject({ status: "PAID", refundedAmount: 2000, creditsReversed: 0, creditsOwed: 2500 });
    expect(await state(u.id)).toMatchObject({ balance: 0, debt: 2500 });

    const small = await checkout(u, "credits-500");
    await deliver(sessionEvent("checkout.session.completed", small));
    expect(await state(u.id)).toMatchObject({ balance: 0, debt: 2000 });
    // The rest of the refund: 2500 more owed.
    expect((await deliver(refundEvent(big, big.amount))).body.outcome).toBe("refunded");
    expect(await purchase(big.purchaseId)).toMatchObject({ status: "REFUNDED", creditsReversed: 0, creditsOwed: 5000 });
    const s = await state(u.id);
    expect(s).toMatchObject({ balance: 0, debt: 4500, sum: 0 });
  });

  it("a refund of a payment this server does not know, or of an uncredited purchase, is acknowledged and ignored", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u, "credits-500");
    expect((await deliver(refundEvent({ ...c, purchaseId: "unknown" }, 500))).body).toEqual({ received: true, outcome: "ignored" });
    await deliver(sessionEvent("checkout.session.completed", c, { paymentStatus: "unpaid" }));
    expect((await deliver(refundEvent(c, 500))).body).toEqual({ received: true, outcome: "ignored" });
    expect(await state(u.id)).toMatchObject({ balance: 0, debt: 0, entries: [] });
  });
});

describe.skipIf(!usingPostgres)("concurrent deliveries on real PostgreSQL (PGlite is single-connection: set TEST_DATABASE_URL)", () => {
  it("20 concurrent deliveries of one paid session across two replicas credit exactly once", async () => {
    const replica = await ctx.replica();
    const u = await buildUser(ctx);
    const c = await checkout(u);
    const completed = sessionEvent("checkout.session.completed", c);
    const succeeded = sessionEvent("checkout.session.async_payment_succeeded", c);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const event = i % 2 === 0 ? completed : succeeded;
        if (i % 4 < 2) return (await deliver(event)).body.outcome as string;
        return replica.services.payments.handleEvent(event);
      }),
    );
    expect(outcomes.filter((o) => o === "credited")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "already_credited")).toHaveLength(19);
    expect(await state(u.id)).toEqual({
      balance: 2000,
      debt: 0,
      entries: [["PURCHASE", 2000, 2000, `purchase:${c.sessionId}`]],
      sum: 2000,
    });
  });

  it("concurrent refund deliveries take the credits back once", async () => {
    const u = await buildUser(ctx);
    const c = await checkout(u);
    await deliver(sessionEvent("checkout.session.completed", c));
    await ctx.container.services.ledger.post(ctx.container.db.prisma, {
      userId: u.id,
      type: "SUBSCRIPTION_CHARGE",
      amount: -1200,
      reason: "spent",
    });
    const event = refundEvent(c, c.amount);
    const outcomes = await Promise.all(Array.from({ length: 10 }, async () => (await deliver(event)).body.outcome as string));
    expect(outcomes.filter((o) => o === "refunded")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "already_refunded")).toHaveLength(9);
    expect(await state(u.id)).toMatchObject({ balance: 0, debt: 1200, sum: 0 });
  });
});

describe("logs", () => {
  it("never contain the Stripe key, the webhook secret or a signature", () => {
    const log = lines.join("");
    expect(log).toContain("purchase credited");
    expect(log).not.toContain(KEY);
    expect(log).not.toContain(SECRET);
    expect(log).not.toMatch(/v1=[0-9a-f]{64}/);
  });
});

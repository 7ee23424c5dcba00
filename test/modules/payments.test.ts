/**
 * Payments without Stripe: credit packages (catalog data admins manage), the local-mode development
 * provider end to end over HTTP (checkout -> local page -> pay -> credited once), and production
 * without Stripe keys answering 503 PAYMENTS_NOT_CONFIGURED.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { PaymentsService } from "../../src/modules/payments/payments.service.js";
import supertest from "supertest";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let admin: TestUser;
beforeAll(async () => {
  ctx = await createTestContext();
  admin = await buildAdmin(ctx);
});
afterAll(async () => {
  await ctx.close();
});

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

async function packageId(slug: string): Promise<string> {
  return (await ctx.container.db.prisma.creditPackage.findUniqueOrThrow({ where: { slug } })).id;
}

async function ledger(userId: string) {
  const prisma = ctx.container.db.prisma;
  const user = await prisma.user.findUniqueOrThrow({ where: { id: userId } });
  const entries = await prisma.creditTransaction.findMany({ where: { userId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return { balance: user.creditBalance, debt: user.creditDebt, entries };
}

describe("credit packages", () => {
  it("seeds three packages for sale, cheapest first", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.get("/api/credits/packages").set(u.auth);
    expect(res.status).toBe(200);
    const pkg = (slug: string, name: string, credits: number, amount: number) => ({
      id: expect.any(String),
      slug,
      name,
      credits,
      amount,
      currency: "usd",
      isActive: true,
      createdAt: ISO,
      updatedAt: ISO,
    });
    expect(res.body).toEqual({
      data: [
        pkg("credits-500", "500 credits", 500, 500),
        pkg("credits-2000", "2,000 credits", 2000, 1800),
        pkg("credits-5000", "5,000 credits", 5000, 4000),
      ],
      page: { page: 1, pageSize: 3, total: 3, totalPages: 1 },
    });
    expect((await ctx.api.get("/api/credits/packages")).status).toBe(401);
  });

  it("admins create, deactivate and reactivate packages; users only see active ones", async () => {
    const u = await buildUser(ctx);
    const created = await ctx.api
      .post("/api/admin/credit-packages")
      .set(admin.auth)
      .send({ slug: "eur-1000", name: "1,000 credits (EUR)", credits: 1000, amount: 950, currency: "EUR" });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      package: {
        id: expect.any(String),
        slug: "eur-1000",
        name: "1,000 credits (EUR)",
        credits: 1000,
        amount: 950,
        currency: "eur",
        isActive: true,
        createdAt: ISO,
        updatedAt: ISO,
      },
    });
    const id = created.body.package.id as string;
    const dup = await ctx.api
      .post("/api/admin/credit-packages")
      .set(admin.auth)
      .send({ slug: "eur-1000", name: "x", credits: 1, amount: 1, currency: "eur" });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(errorShape("CONFLICT", { message: "A credit package with slug 'eur-1000' already exists" }));

    const off = await ctx.api.patch(`/api/admin/credit-packages/${id}`).set(admin.auth).send({ isActive: false });
    expect(off.status).toBe(200);
    expect(off.body.package).toMatchObject({ id, isActive: false });
    const forSale = await ctx.api.get("/api/credits/packages").set(u.auth);
    expect(forSale.body.data.map((p: { slug: string }) => p.slug)).not.toContain("eur-1000");
    const all = await ctx.api.get("/api/admin/credit-packages").set(admin.auth);
    expect(all.status).toBe(200);
    expect(all.body.data.find((p: { id: string }) => p.id === id)).toMatchObject({ isActive: false });

    const buy = await ctx.api.post("/api/credits/checkout").set(u.auth).send({ packageId: id });
    expect(buy.status).toBe(409);
    expect(buy.body).toEqual(errorShape("PACKAGE_UNAVAILABLE", { message: "This credit package is no longer for sale" }));
    expect(await ctx.container.db.prisma.purchase.count({ where: { userId: u.id } })).toBe(0);

    const on = await ctx.api.patch(`/api/admin/credit-packages/${id}`).set(admin.auth).send({ isActive: true, name: "1k EUR" });
    expect(on.body.package).toMatchObject({ id, isActive: true, name: "1k EUR", credits: 1000, amount: 950 });
  });

  it("validates: bad currency, zero credits, unknown keys, price changes are 400; unknown id 404; users 403", async () => {
    const u = await buildUser(ctx);
    for (const body of [
      { slug: "bad-cur", name: "x", credits: 10, amount: 10, currency: "dollars" },
      { slug: "zero", name: "x", credits: 0, amount: 10, currency: "usd" },
      { slug: "extra", name: "x", credits: 10, amount: 10, currency: "usd", bonus: 5 },
      { slug: "Bad Slug", name: "x", credits: 10, amount: 10, currency: "usd" },
    ]) {
      const res = await ctx.api.post("/api/admin/credit-packages").set(admin.auth).send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION_ERROR");
    }
    const id = await packageId("credits-500");
    const price = await ctx.api.patch(`/api/admin/credit-packages/${id}`).set(admin.auth).send({ amount: 1 });
    expect(price.status).toBe(400);
    const empty = await ctx.api.patch(`/api/admin/credit-packages/${id}`).set(admin.auth).send({});
    expect(empty.status).toBe(400);
    const missing = await ctx.api.patch("/api/admin/credit-packages/nope").set(admin.auth).send({ isActive: false });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual(errorShape("NOT_FOUND", { message: "Credit package not found" }));
    expect((await ctx.api.post("/api/admin/credit-packages").set(u.auth).send({})).status).toBe(403);
    expect((await ctx.api.get("/api/admin/credit-packages").set(u.auth)).status).toBe(403);
    expect((await ctx.container.db.prisma.creditPackage.findUniqueOrThrow({ where: { id } })).amount).toBe(500);
  });
});

describe("checkout with the development provider (local mode)", () => {
  it("checkout -> local page -> pay: credited once, purchase PAID with a receipt link", async () => {
    const u = await buildUser(ctx);
    const pkg = await packageId("credits-2000");
    const res = await ctx.api.post("/api/credits/checkout").set(u.auth).send({ packageId: pkg });
    expect(res.status).toBe(201);
    const sessionId = res.body.checkout.id as string;
    expect(sessionId).toMatch(/^cs_dev_[A-Za-z0-9_-]{32}$/);
    const url = new URL(res.body.checkout.url as string);
    expect(url.pathname).toBe(`/api/payments/dev/checkout/${sessionId}`);
    expect(res.body.purchase).toEqual({
      id: expect.any(String),
      packageId: pkg,
      provider: "development",
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
    });
    // Recorded PENDING before the user pays; nothing credited yet.
    expect((await ledger(u.id)).balance).toBe(0);

    const page = await ctx.api.get(url.pathname);
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.text).toContain("DEVELOPMENT PAYMENT PROVIDER: no money moves");
    expect(page.text).toContain("Pay $18.00 (simulated)");
    expect(page.text).toContain(`action="/api/payments/dev/checkout/${sessionId}/complete"`);

    const paid = await ctx.api.post(`${url.pathname}/complete`);
    expect(paid.status).toBe(200);
    expect(paid.text).toContain('<h2 id="status">Paid</h2>');
    expect(paid.text).toContain(`href="http://localhost:3000/billing?checkout=success&amp;session_id=${sessionId}"`);
    // A resubmitted form changes nothing.
    expect((await ctx.api.post(`${url.pathname}/complete`)).status).toBe(200);

    const s = await ledger(u.id);
    expect(s.balance).toBe(2000);
    expect(s.entries.map((e) => [e.type, e.amount, e.balanceAfter, e.idempotencyKey, e.referenceType, e.referenceId])).toEqual([
      ["PURCHASE", 2000, 2000, `purchase:${sessionId}`, "purchase", res.body.purchase.id],
    ]);
    expect((await ctx.api.get("/api/credits").set(u.auth)).body).toEqual({ balance: 2000 });

    const list = await ctx.api.get("/api/credits/purchases").set(u.auth);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      data: [{ ...res.body.purchase, status: "PAID", receiptUrl: res.body.checkout.url, paidAt: ISO, updatedAt: ISO }],
      page: { page: 1, pageSize: 20, total: 1, totalPages: 1 },
    });
    const receipt = await ctx.api.get(url.pathname);
    expect(receipt.text).toContain('<h2 id="status">Paid</h2>');
  });

  it("cancel marks the purchase FAILED; paying afterwards credits nothing", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api
      .post("/api/credits/checkout")
      .set(u.auth)
      .send({ packageId: await packageId("credits-500") });
    const path = new URL(res.body.checkout.url as string).pathname;
    const cancelled = await ctx.api.post(`${path}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.text).toContain('<h2 id="status">Not paid</h2>');
    expect((await ctx.api.post(`${path}/complete`)).text).toContain("Not paid");
    expect((await ledger(u.id)).entries).toEqual([]);
    const list = await ctx.api.get("/api/credits/purchases").set(u.auth);
    expect(list.body.data).toMatchObject([{ status: "FAILED", failureReason: "expired", paidAt: null }]);
  });

  it("lists only the caller's purchases, newest first, paginated", async () => {
    const u = await buildUser(ctx);
    const other = await buildUser(ctx);
    const ids: string[] = [];
    for (const slug of ["credits-500", "credits-2000", "credits-5000"]) {
      const r = await ctx.api
        .post("/api/credits/checkout")
        .set(u.auth)
        .send({ packageId: await packageId(slug) });
      ids.push(r.body.purchase.id);
    }
    await ctx.api
      .post("/api/credits/checkout")
      .set(other.auth)
      .send({ packageId: await packageId("credits-500") });
    const p1 = await ctx.api.get("/api/credits/purchases?page=1&pageSize=2").set(u.auth);
    expect(p1.body.page).toEqual({ page: 1, pageSize: 2, total: 3, totalPages: 2 });
    expect(p1.body.data.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
    const p2 = await ctx.api.get("/api/credits/purchases?page=2&pageSize=2").set(u.auth);
    expect(p2.body.data.map((p: { id: string }) => p.id)).toEqual([ids[0]]);
    expect((await ctx.api.get("/api/credits/purchases?pageSize=500").set(u.auth)).status).toBe(400);
  });

  it("bad input: 400 without packageId or with unknown keys, 404 unknown package, 401 without a token; nothing recorded", async () => {
    const u = await buildUser(ctx);
    const noPkg = await ctx.api.post("/api/credits/checkout").set(u.auth).send({});
    expect(noPkg.status).toBe(400);
    expect(noPkg.body).toEqual(errorShape("VALIDATION_ERROR", { details: [expect.objectContaining({ path: "body.packageId" })] }));
    const extra = await ctx.api
      .post("/api/credits/checkout")
      .set(u.auth)
      .send({ packageId: await packageId("credits-500"), credits: 99999 });
    expect(extra.status).toBe(400);
    const unknown = await ctx.api.post("/api/credits/checkout").set(u.auth).send({ packageId: "nope" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorShape("NOT_FOUND", { message: "Credit package not found" }));
    expect((await ctx.api.post("/api/credits/checkout").send({ packageId: "x" })).status).toBe(401);
    expect(await ctx.container.db.prisma.purchase.count({ where: { userId: u.id } })).toBe(0);
  });

  it("the local page: 404 for an unknown or malformed session id", async () => {
    const unknown = await ctx.api.get(`/api/payments/dev/checkout/cs_dev_${"a".repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorShape("NOT_FOUND", { message: "Checkout session not found" }));
    expect((await ctx.api.post(`/api/payments/dev/checkout/cs_dev_${"a".repeat(32)}/complete`)).status).toBe(404);
    expect((await ctx.api.get("/api/payments/dev/checkout/not-a-session")).status).toBe(400);
  });

  it("the Stripe webhook answers 503 PAYMENTS_NOT_CONFIGURED when Stripe is not configured", async () => {
    const res = await ctx.api.post("/api/webhooks/stripe").set("Stripe-Signature", "t=1,v1=abc").send("{}");
    expect(res.status).toBe(503);
    expect(res.body).toEqual(errorShape("PAYMENTS_NOT_CONFIGURED"));
  });

  it("is rate limited per user (CHECKOUT_RATE_LIMIT_PER_MINUTE)", async () => {
    const limited = createApp({
      ...ctx.container,
      config: { ...ctx.config, payments: { ...ctx.config.payments, checkoutRateLimitPerMinute: 2 } },
    });
    const u = await buildUser(ctx);
    const pkg = await packageId("credits-500");
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await supertest(limited).post("/api/credits/checkout").set(u.auth).send({ packageId: pkg })).status);
    expect(statuses).toEqual([201, 201, 429]);
    const other = await buildUser(ctx);
    expect((await supertest(limited).post("/api/credits/checkout").set(other.auth).send({ packageId: pkg })).status).toBe(201);
  });
});

describe("production without Stripe keys", () => {
  it("config: no provider in production, the development provider elsewhere", () => {
    const prod = loadConfig({
      NODE_ENV: "production",
      DATABASE_URL: "postgresql://u:p@db:5432/m",
      JWT_SECRET: "x".repeat(32),
      CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
    });
    expect(prod.payments.provider).toBe("none");
    expect(loadConfig({}).payments).toMatchObject({ provider: "development", appUrl: "http://localhost:3000", stripeApi: undefined });
  });

  it("checkout answers 503 PAYMENTS_NOT_CONFIGURED and records nothing; packages are still listed", async () => {
    const c = ctx.container;
    const payments = new PaymentsService({
      prisma: c.db.prisma,
      ledger: c.services.ledger,
      clock: c.clock,
      logger: c.logger,
      signal: c.signal,
      provider: undefined,
      appUrl: "https://app.example.test",
    });
    const app = createApp({ ...c, services: { ...c.services, payments } });
    const u = await buildUser(ctx);
    const res = await supertest(app)
      .post("/api/credits/checkout")
      .set(u.auth)
      .send({ packageId: await packageId("credits-500") });
    expect(res.status).toBe(503);
    expect(res.body).toEqual(
      errorShape("PAYMENTS_NOT_CONFIGURED", { message: "Payments are not configured on this server (STRIPE_SECRET_KEY)" }),
    );
    expect(await c.db.prisma.purchase.count({ where: { userId: u.id } })).toBe(0);
    expect((await supertest(app).get("/api/credits/packages").set(u.auth)).status).toBe(200);
    // No development page without the development provider.
    expect((await supertest(app).get(`/api/payments/dev/checkout/cs_dev_${"a".repeat(32)}`)).status).toBe(404);
  });

  it("config: a Stripe key needs its webhook secret (and APP_URL in production); keys are checked for shape", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    expect(problems({ STRIPE_SECRET_KEY: "sk_test_abc" })).toEqual([
      "STRIPE_WEBHOOK_SECRET: required with STRIPE_SECRET_KEY (without it no payment is ever credited)",
    ]);
    expect(
      problems({
        NODE_ENV: "production",
        DATABASE_URL: "postgresql://u:p@db:5432/m",
        JWT_SECRET: "x".repeat(32),
        CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
        STRIPE_SECRET_KEY: "sk_live_abc",
        STRIPE_WEBHOOK_SECRET: "whsec_abc",
      }),
    ).toEqual(["APP_URL: required with STRIPE_SECRET_KEY in production"]);
    expect(problems({ STRIPE_SECRET_KEY: "pk_test_abc", STRIPE_WEBHOOK_SECRET: "whsec_abc" })).toEqual([
      "STRIPE_SECRET_KEY: must be a Stripe secret or restricted key (sk_... or rk_...)",
    ]);
    expect(() => loadConfig({ STRIPE_API_URL: "ftp://x" })).toThrow(ConfigError);
    const c = loadConfig({
      STRIPE_SECRET_KEY: "sk_test_abc",
      STRIPE_WEBHOOK_SECRET: "whsec_abc",
      STRIPE_API_URL: "http://127.0.0.1:12111",
      APP_URL: "https://app.example.com/",
    });
    expect(c.payments).toMatchObject({
      provider: "stripe",
      stripeApi: { host: "127.0.0.1", port: 12111, protocol: "http" },
      appUrl: "https://app.example.com",
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/platform/clock.js";
import type { RecordingInstanceSignal } from "../helpers/recording-signal.js";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";

const clock = new ManualClock("2026-01-01T00:00:00.000Z");
let ctx: TestContext;
let n8nStarter: { id: string; monthlyPriceCredits: number };
let pgSmall: { id: string };

beforeAll(async () => {
  ctx = await createTestContext({ clock });
  const prisma = ctx.container.db.prisma;
  n8nStarter = await prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } });
  pgSmall = await prisma.plan.findFirstOrThrow({ where: { slug: "small", service: { slug: "postgresql" } } });
});
afterAll(async () => {
  await ctx.close();
});

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const signal = () => ctx.container.signal as RecordingInstanceSignal;

async function fund(u: TestUser, amount: number) {
  await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount, reason: "test funds" });
}

/** Everything a subscription attempt could write, for "nothing changed" assertions. */
async function snapshot(userId: string) {
  const prisma = ctx.container.db.prisma;
  return {
    balance: (await prisma.user.findUniqueOrThrow({ where: { id: userId } })).creditBalance,
    ledger: await prisma.creditTransaction.count({ where: { userId } }),
    subscriptions: await prisma.subscription.count({ where: { userId } }),
    instances: await prisma.instance.count({ where: { userId } }),
    events: await prisma.instanceEvent.count({ where: { instance: { userId } } }),
    idempotency: await prisma.idempotencyRecord.count({ where: { userId } }),
  };
}

function subscribe(u: TestUser, body: object, key?: string) {
  const req = ctx.api.post("/api/subscriptions").set(u.auth);
  if (key) req.set("Idempotency-Key", key);
  return req.send(body);
}

describe("POST /api/subscriptions", () => {
  it("charges the first period, creates an ACTIVE subscription and a PENDING instance, and signals the reconciler", async () => {
    clock.set("2026-01-31T10:00:00.000Z");
    const u = await buildUser(ctx);
    await fund(u, 1200);
    const res = await subscribe(u, { planId: n8nStarter.id, instanceName: "  Mon Café Blog  " });
    expect(res.status).toBe(201);
    const instanceId = res.body.instance.id;
    expect(res.body).toEqual({
      subscription: {
        id: expect.any(String),
        status: "ACTIVE",
        planId: n8nStarter.id,
        plan: { id: n8nStarter.id, slug: "starter", name: "Starter", cpuMilli: 500, memoryMb: 512, storageGb: 5, monthlyPriceCredits: 500 },
        service: { id: expect.any(String), slug: "n8n", name: "n8n" },
        instanceId,
        currentPeriodStart: "2026-01-31T10:00:00.000Z",
        // One calendar month, clamped to the end of February.
        currentPeriodEnd: "2026-02-28T10:00:00.000Z",
        pastDueSince: null,
        cancelledAt: null,
        cancelReason: null,
        createdAt: ISO,
        updatedAt: ISO,
      },
      instance: {
        id: expect.any(String),
        name: "Mon Café Blog",
        resourceName: "mon-cafe-blog",
        status: "PENDING",
        statusMessage: null,
        desiredState: "RUNNING",
        url: expect.stringMatching(/^https:\/\/mon-cafe-blog-[a-z0-9]{6}\.apps\.test\.minispod$/),
        subdomain: expect.stringMatching(/^mon-cafe-blog-[a-z0-9]{6}\.apps\.test\.minispod$/),
        namespace: `user-${u.id}`,
        service: { id: expect.any(String), slug: "n8n", name: "n8n" },
        plan: { id: n8nStarter.id, slug: "starter", name: "Starter", cpuMilli: 500, memoryMb: 512, storageGb: 5, monthlyPriceCredits: 500 },
        resources: { cpuMilli: 500, memoryMb: 512, storageGb: 5 },
        health: { status: "UNKNOWN", reason: null, checkedAt: null },
        subscriptionId: res.body.subscription.id,
        provisionedAt: null,
        terminatedAt: null,
        createdAt: ISO,
        updatedAt: ISO,
      },
    });
    expect(res.body.instance.url).toBe(`https://${res.body.instance.subdomain}`);
    expect(`user-${u.id}`).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    const prisma = ctx.container.db.prisma;
    const entries = await prisma.creditTransaction.findMany({ where: { userId: u.id }, orderBy: { createdAt: "asc" } });
    expect(entries.map((e) => [e.type, e.amount, e.balanceAfter, e.referenceType, e.referenceId, e.idempotencyKey])).toEqual([
      ["TOPUP", 1200, 1200, null, null, null],
      ["SUBSCRIPTION_CHARGE", -500, 700, "subscription", res.body.subscription.id, `subscription:first-period:${res.body.subscription.id}`],
    ]);
    const events = await prisma.instanceEvent.findMany({ where: { instanceId } });
    expect(events.map((e) => e.type)).toEqual(["CREATED"]);
    expect(signal().changed).toContain(instanceId);
    expect((await ctx.api.get("/api/credits").set(u.auth)).body).toEqual({ balance: 700 });
  });

  it("gives a PostgreSQL instance no URL", async () => {
    const u = await buildUser(ctx);
    await fund(u, 300);
    const res = await subscribe(u, { planId: pgSmall.id, instanceName: "db" });
    expect(res.status).toBe(201);
    expect(res.body.instance).toMatchObject({ resourceName: "db", url: null, service: { slug: "postgresql" } });
  });

  it("makes k8s names unique within the namespace", async () => {
    const u = await buildUser(ctx);
    await fund(u, 1500);
    const names: string[] = [];
    for (const instanceName of ["My Blog", "my-blog", "MY  BLOG!"]) {
      const res = await subscribe(u, { planId: n8nStarter.id, instanceName });
      expect(res.status).toBe(201);
      names.push(res.body.instance.resourceName);
    }
    expect(names).toEqual(["my-blog", "my-blog-2", "my-blog-3"]);
    // Another user's namespace is separate.
    const other = await buildUser(ctx);
    await fund(other, 500);
    expect((await subscribe(other, { planId: n8nStarter.id, instanceName: "My Blog" })).body.instance.resourceName).toBe("my-blog");
  });

  it("unknown plan -> 404, nothing written", async () => {
    const u = await buildUser(ctx);
    await fund(u, 5000);
    const before = await snapshot(u.id);
    const res = await subscribe(u, { planId: "no-such-plan", instanceName: "x" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorShape("NOT_FOUND", { message: "Plan not found" }));
    expect(await snapshot(u.id)).toEqual(before);
  });

  it("inactive plan or service -> 409 PLAN_UNAVAILABLE, nothing written", async () => {
    const prisma = ctx.container.db.prisma;
    const service = await prisma.service.create({
      data: { slug: `svc-${Date.now()}`, name: "Svc", template: "n8n", image: "img", version: "1", port: 1 },
    });
    const inactivePlan = await prisma.plan.create({
      data: {
        serviceId: service.id,
        slug: "off",
        name: "Off",
        cpuMilli: 100,
        memoryMb: 128,
        storageGb: 0,
        monthlyPriceCredits: 10,
        isActive: false,
      },
    });
    const activePlan = await prisma.plan.create({
      data: { serviceId: service.id, slug: "on", name: "On", cpuMilli: 100, memoryMb: 128, storageGb: 0, monthlyPriceCredits: 10 },
    });
    const u = await buildUser(ctx);
    await fund(u, 5000);
    const before = await snapshot(u.id);
    const res = await subscribe(u, { planId: inactivePlan.id, instanceName: "x" });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(
      errorShape("PLAN_UNAVAILABLE", { details: { planId: inactivePlan.id, planActive: false, serviceActive: true } }),
    );
    // Through the admin write path: the catalog cache (CATALOG_CACHE_TTL) hears of it at once.
    await ctx.container.services.catalog.updateService(service.id, { isActive: false }, undefined);
    const res2 = await subscribe(u, { planId: activePlan.id, instanceName: "x" });
    expect(res2.status).toBe(409);
    expect(res2.body).toEqual(
      errorShape("PLAN_UNAVAILABLE", { details: { planId: activePlan.id, planActive: true, serviceActive: false } }),
    );
    expect(await snapshot(u.id)).toEqual(before);
  });

  it("not enough credits -> 402 with balance and price, nothing written", async () => {
    const u = await buildUser(ctx);
    await fund(u, 499);
    const before = await snapshot(u.id);
    const res = await subscribe(u, { planId: n8nStarter.id, instanceName: "x" }, `poor-${u.id}`);
    expect(res.status).toBe(402);
    expect(res.body).toEqual(errorShape("INSUFFICIENT_CREDITS", { details: { balance: 499, price: 500 } }));
    expect(await snapshot(u.id)).toEqual(before);
    // The failed attempt stored nothing under its key: after a top-up the same key works.
    await fund(u, 1);
    expect((await subscribe(u, { planId: n8nStarter.id, instanceName: "x" }, `poor-${u.id}`)).status).toBe(201);
  });

  it("quota exceeded -> 422 QUOTA_EXCEEDED naming the limit, nothing written", async () => {
    const u = await buildUser(ctx);
    await fund(u, 5000);
    await ctx.container.db.prisma.quota.create({ data: { userId: u.id, maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb: 7 } });
    expect((await subscribe(u, { planId: n8nStarter.id, instanceName: "a" })).status).toBe(201);
    const before = await snapshot(u.id);
    const res = await subscribe(u, { planId: n8nStarter.id, instanceName: "b" });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(
      errorShape("QUOTA_EXCEEDED", {
        message: "Quota exceeded: storageGb is 7, 5 in use, 5 requested",
        details: { limit: "storageGb", max: 7, current: 5, requested: 5 },
      }),
    );
    expect(await snapshot(u.id)).toEqual(before);
  });

  it("maxInstances is enforced", async () => {
    const u = await buildUser(ctx);
    await fund(u, 5000);
    await ctx.container.db.prisma.quota.create({ data: { userId: u.id, maxInstances: 1, cpuMilli: 4000, memoryMb: 8192, storageGb: 50 } });
    expect((await subscribe(u, { planId: pgSmall.id, instanceName: "a" })).status).toBe(201);
    const res = await subscribe(u, { planId: pgSmall.id, instanceName: "b" });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual({ limit: "maxInstances", max: 1, current: 1, requested: 1 });
  });

  it("validates the body: empty, too long, control characters, unknown keys", async () => {
    const u = await buildUser(ctx);
    await fund(u, 5000);
    const before = await snapshot(u.id);
    const bad = [
      { planId: n8nStarter.id, instanceName: "   " },
      { planId: n8nStarter.id, instanceName: "x".repeat(64) },
      { planId: n8nStarter.id, instanceName: "bad\u0000name" },
      { planId: n8nStarter.id, instanceName: "two\nlines" },
      { planId: n8nStarter.id },
      { planId: n8nStarter.id, instanceName: "ok", extra: 1 },
    ];
    for (const body of bad) {
      const res = await subscribe(u, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION_ERROR");
    }
    // 63 characters of any script are fine.
    expect((await subscribe(u, { planId: n8nStarter.id, instanceName: "日".repeat(63) })).body.instance).toMatchObject({
      name: "日".repeat(63),
      resourceName: "app",
    });
    expect((await snapshot(u.id)).subscriptions).toBe(before.subscriptions + 1);
  });

  it("Idempotency-Key: a retry replays the first response and creates nothing; another body is 409", async () => {
    const u = await buildUser(ctx);
    await fund(u, 2000);
    const key = `sub-${u.id}`;
    const first = await subscribe(u, { planId: n8nStarter.id, instanceName: "Idem" }, key);
    expect(first.status).toBe(201);
    const signalled = signal().changed.filter((id) => id === first.body.instance.id).length;
    const after = await snapshot(u.id);
    const again = await subscribe(u, { instanceName: "Idem", planId: n8nStarter.id }, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await snapshot(u.id)).toEqual(after);
    expect(signal().changed.filter((id) => id === first.body.instance.id).length).toBe(signalled);
    const reused = await subscribe(u, { planId: n8nStarter.id, instanceName: "Other" }, key);
    expect(reused.status).toBe(409);
    expect(reused.body).toEqual(errorShape("IDEMPOTENCY_KEY_REUSED"));
    expect(await snapshot(u.id)).toEqual(after);
    // Keys are per user: another user's identical key is independent.
    const other = await buildUser(ctx);
    await fund(other, 500);
    expect((await subscribe(other, { planId: n8nStarter.id, instanceName: "Idem" }, key)).status).toBe(201);
  });
});

describe("GET /api/subscriptions", () => {
  it("lists only the caller's, newest first; another user's subscription is a 404", async () => {
    const u = await buildUser(ctx);
    const other = await buildUser(ctx);
    await fund(u, 1000);
    await fund(other, 500);
    const a = await subscribe(u, { planId: n8nStarter.id, instanceName: "first" });
    const b = await subscribe(u, { planId: pgSmall.id, instanceName: "second" });
    const theirs = await subscribe(other, { planId: n8nStarter.id, instanceName: "theirs" });
    const list = await ctx.api.get("/api/subscriptions").set(u.auth);
    expect(list.status).toBe(200);
    expect(list.body.page).toEqual({ page: 1, pageSize: 20, total: 2, totalPages: 1 });
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([b.body.subscription.id, a.body.subscription.id]);
    const one = await ctx.api.get(`/api/subscriptions/${a.body.subscription.id}`).set(u.auth);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ subscription: a.body.subscription });
    const foreign = await ctx.api.get(`/api/subscriptions/${theirs.body.subscription.id}`).set(u.auth);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual(errorShape("NOT_FOUND", { message: "Subscription not found" }));
    const filtered = await ctx.api.get("/api/subscriptions?status=CANCELLED").set(u.auth);
    expect(filtered.body.data).toEqual([]);
  });
});

describe("POST /api/subscriptions/:id/cancel", () => {
  it("cancels, terminates the instance and refunds the unused whole days exactly", async () => {
    clock.set("2026-01-01T00:00:00.000Z");
    const u = await buildUser(ctx);
    await fund(u, 500);
    const created = await subscribe(u, { planId: n8nStarter.id, instanceName: "refund me" });
    expect(created.body.subscription.currentPeriodEnd).toBe("2026-02-01T00:00:00.000Z");
    // 10.5 days used of a 31-day period: 20 whole days remain -> floor(500 * 20 / 31) = 322.
    clock.set("2026-01-11T12:00:00.000Z");
    const res = await ctx.api.post(`/api/subscriptions/${created.body.subscription.id}/cancel`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      subscription: {
        ...created.body.subscription,
        status: "CANCELLED",
        cancelledAt: "2026-01-11T12:00:00.000Z",
        cancelReason: "Cancelled by the user",
        updatedAt: ISO,
      },
      refund: {
        id: expect.any(String),
        userId: u.id,
        type: "REFUND",
        amount: 322,
        balanceAfter: 322,
        reason: "Refund of 20 unused of 31 days of n8n Starter",
        referenceType: "subscription",
        referenceId: created.body.subscription.id,
        createdById: null,
        createdAt: ISO,
      },
    });
    const prisma = ctx.container.db.prisma;
    const instance = await prisma.instance.findUniqueOrThrow({
      where: { id: created.body.instance.id },
      include: { events: { orderBy: { createdAt: "asc" } } },
    });
    expect(instance.desiredState).toBe("TERMINATED");
    expect(instance.generation).toBe(2);
    expect(instance.events.map((e) => e.type)).toEqual(["CREATED", "TERMINATION_REQUESTED"]);
    expect(signal().changed.filter((id) => id === instance.id)).toHaveLength(2);
    // Cancelling twice is a state error and refunds nothing more.
    const twice = await ctx.api.post(`/api/subscriptions/${created.body.subscription.id}/cancel`).set(u.auth);
    expect(twice.status).toBe(409);
    expect(twice.body).toEqual(
      errorShape("INVALID_STATE", { message: "The subscription is already cancelled", details: { status: "CANCELLED" } }),
    );
    expect((await ctx.api.get("/api/credits").set(u.auth)).body).toEqual({ balance: 322 });
    // A cancelled instance no longer counts against the quota.
    expect((await ctx.api.get("/api/quotas").set(u.auth)).body.usage).toEqual({ instances: 0, cpuMilli: 0, memoryMb: 0, storageGb: 0 });
  });

  it("refunds nothing on the last day, and another user's subscription is a 404", async () => {
    clock.set("2026-03-01T00:00:00.000Z");
    const u = await buildUser(ctx);
    await fund(u, 500);
    const created = await subscribe(u, { planId: n8nStarter.id, instanceName: "late" });
    const intruder = await buildUser(ctx);
    const foreign = await ctx.api.post(`/api/subscriptions/${created.body.subscription.id}/cancel`).set(intruder.auth);
    expect(foreign.status).toBe(404);
    clock.set("2026-03-31T12:00:00.000Z"); // half a day left
    const res = await ctx.api.post(`/api/subscriptions/${created.body.subscription.id}/cancel`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.refund).toBeNull();
    expect(res.body.subscription.status).toBe("CANCELLED");
    expect(await ctx.container.db.prisma.creditTransaction.count({ where: { userId: u.id, type: "REFUND" } })).toBe(0);
  });
});

describe.skipIf(!usingPostgres)("concurrency on real PostgreSQL (PGlite is single-connection: set TEST_DATABASE_URL)", () => {
  it("55 concurrent subscriptions: exactly floor(balance / price) succeed, the rest 402; ledger sums to the balance", async () => {
    const prisma = ctx.container.db.prisma;
    const service = await prisma.service.findFirstOrThrow({ where: { slug: "postgresql" } });
    const cheap = await prisma.plan.create({
      data: {
        serviceId: service.id,
        slug: `cheap-${Date.now()}`,
        name: "Cheap",
        cpuMilli: 1,
        memoryMb: 1,
        storageGb: 0,
        monthlyPriceCredits: 30,
      },
    });
    const u = await buildUser(ctx);
    await prisma.quota.create({ data: { userId: u.id, maxInstances: 1000, cpuMilli: 100_000, memoryMb: 100_000, storageGb: 1000 } });
    await fund(u, 1000); // floor(1000 / 30) = 33
    const responses = await Promise.all(
      Array.from({ length: 55 }, (_, i) => subscribe(u, { planId: cheap.id, instanceName: "same name" }, `c-${i}`)),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(33);
    expect(statuses.filter((s) => s === 402)).toHaveLength(22);
    for (const r of responses.filter((r) => r.status === 402)) expect(r.body.error.details).toEqual({ balance: 10, price: 30 });
    const user = await prisma.user.findUniqueOrThrow({ where: { id: u.id } });
    const sum = await prisma.creditTransaction.aggregate({ where: { userId: u.id }, _sum: { amount: true } });
    expect(user.creditBalance).toBe(10);
    expect(sum._sum.amount).toBe(10);
    expect(await prisma.subscription.count({ where: { userId: u.id } })).toBe(33);
    const names = (await prisma.instance.findMany({ where: { userId: u.id }, select: { k8sName: true } })).map((i) => i.k8sName);
    expect(new Set(names).size).toBe(33);
  });

  it("concurrent subscriptions cannot both pass the quota check", async () => {
    const u = await buildUser(ctx);
    await ctx.container.db.prisma.quota.create({
      data: { userId: u.id, maxInstances: 3, cpuMilli: 100_000, memoryMb: 100_000, storageGb: 1000 },
    });
    await fund(u, 10_000);
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => subscribe(u, { planId: pgSmall.id, instanceName: `q${i}` })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 422)).toHaveLength(9);
    expect((await snapshot(u.id)).balance).toBe(10_000 - 3 * 300);
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";

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

async function ledgerState(userId: string) {
  const prisma = ctx.container.db.prisma;
  const [user, entries] = await Promise.all([
    prisma.user.findUniqueOrThrow({ where: { id: userId } }),
    prisma.creditTransaction.findMany({ where: { userId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
  ]);
  return { balance: user.creditBalance, entries, sum: entries.reduce((s, e) => s + e.amount, 0) };
}

describe("GET /api/credits and /api/credits/transactions", () => {
  it("starts at zero with an empty ledger", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.get("/api/credits").set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ balance: 0 });
    const tx = await ctx.api.get("/api/credits/transactions").set(u.auth);
    expect(tx.status).toBe(200);
    expect(tx.body).toEqual({ data: [], page: { page: 1, pageSize: 20, total: 0, totalPages: 0 } });
  });

  it("lists the caller's own entries, newest first, paginated", async () => {
    const u = await buildUser(ctx);
    const other = await buildUser(ctx);
    const ledger = ctx.container.services.ledger;
    const prisma = ctx.container.db.prisma;
    for (const amount of [100, 200, 300]) await ledger.post(prisma, { userId: u.id, type: "TOPUP", amount, reason: `grant ${amount}` });
    await ledger.post(prisma, { userId: u.id, type: "ADJUSTMENT", amount: -50, reason: "fix" });
    await ledger.post(prisma, { userId: other.id, type: "TOPUP", amount: 999, reason: "not yours" });

    const res = await ctx.api.get("/api/credits/transactions?page=1&pageSize=3").set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.page).toEqual({ page: 1, pageSize: 3, total: 4, totalPages: 2 });
    expect(res.body.data.map((e: { amount: number; balanceAfter: number }) => [e.amount, e.balanceAfter])).toEqual([
      [-50, 550],
      [300, 600],
      [200, 300],
    ]);
    expect(res.body.data[0]).toEqual({
      id: expect.any(String),
      userId: u.id,
      type: "ADJUSTMENT",
      amount: -50,
      balanceAfter: 550,
      reason: "fix",
      referenceType: null,
      referenceId: null,
      createdById: null,
      createdAt: ISO,
    });
    const page2 = await ctx.api.get("/api/credits/transactions?page=2&pageSize=3").set(u.auth);
    expect(page2.body.data.map((e: { amount: number }) => e.amount)).toEqual([100]);
    expect((await ctx.api.get("/api/credits").set(u.auth)).body).toEqual({ balance: 550 });
  });

  it("lists entries written in the same millisecond in the order they were written (ids sort in the order they were made)", async () => {
    const u = await buildUser(ctx);
    const ledger = ctx.container.services.ledger;
    // Date stands still (timers do not): every entry gets the same created_at, so only the ids order them.
    vi.useFakeTimers({ toFake: ["Date"], now: new Date() });
    try {
      for (let i = 1; i <= 30; i++)
        await ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: i, reason: `grant ${i}` });
    } finally {
      vi.useRealTimers();
    }
    const res = await ctx.api.get("/api/credits/transactions?pageSize=100").set(u.auth);
    expect(res.status).toBe(200);
    expect(new Set(res.body.data.map((e: { createdAt: string }) => e.createdAt)).size).toBe(1);
    const newestFirst = Array.from({ length: 30 }, (_, k) => 30 - k);
    expect(res.body.data.map((e: { amount: number; balanceAfter: number }) => [e.amount, e.balanceAfter])).toEqual(
      newestFirst.map((i) => [i, (i * (i + 1)) / 2]),
    );
  });

  it("requires a token", async () => {
    const res = await ctx.api.get("/api/credits");
    expect(res.status).toBe(401);
    expect(res.body).toEqual(errorShape("UNAUTHORIZED"));
  });

  it("rejects a bad page size", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.get("/api/credits/transactions?pageSize=1000").set(u.auth);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_ERROR");
  });
});

describe("ledger service", () => {
  it("refuses to overdraw: 402 details {balance, price}, nothing written", async () => {
    const u = await buildUser(ctx);
    const ledger = ctx.container.services.ledger;
    const prisma = ctx.container.db.prisma;
    await ledger.post(prisma, { userId: u.id, type: "TOPUP", amount: 100, reason: "t" });
    await expect(ledger.post(prisma, { userId: u.id, type: "SUBSCRIPTION_CHARGE", amount: -101, reason: "x" })).rejects.toMatchObject({
      code: "INSUFFICIENT_CREDITS",
      details: { balance: 100, price: 101 },
    });
    const s = await ledgerState(u.id);
    expect(s.balance).toBe(100);
    expect(s.entries).toHaveLength(1);
  });

  it("an existing idempotency key returns the existing entry and moves nothing", async () => {
    const u = await buildUser(ctx);
    const ledger = ctx.container.services.ledger;
    const prisma = ctx.container.db.prisma;
    const key = `refund:first-period:test-${u.id}`;
    const first = await ledger.post(prisma, { userId: u.id, type: "REFUND", amount: 70, reason: "r", idempotencyKey: key });
    const again = await ledger.post(prisma, { userId: u.id, type: "REFUND", amount: 70, reason: "r", idempotencyKey: key });
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ entry: first.entry, replayed: true });
    expect((await ledgerState(u.id)).balance).toBe(70);
    // The same key naming another movement is a bug in the caller, not a silent replay.
    await expect(ledger.post(prisma, { userId: u.id, type: "REFUND", amount: 71, reason: "r", idempotencyKey: key })).rejects.toMatchObject(
      { code: "CONFLICT" },
    );
  });

  it("joins the caller's transaction: a rollback takes the entry and the balance with it", async () => {
    const u = await buildUser(ctx);
    const ledger = ctx.container.services.ledger;
    await expect(
      ctx.container.db.prisma.$transaction(async (tx) => {
        await ledger.post(tx, { userId: u.id, type: "TOPUP", amount: 500, reason: "t" });
        throw new Error("work failed after the charge");
      }),
    ).rejects.toThrow("work failed");
    const s = await ledgerState(u.id);
    expect(s).toMatchObject({ balance: 0, sum: 0 });
  });

  it("rejects a zero amount", async () => {
    const u = await buildUser(ctx);
    await expect(
      ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 0, reason: "" }),
    ).rejects.toMatchObject({
      code: "VALIDATION_ERROR",
    });
  });

  it("the database refuses to update or delete ledger rows", async () => {
    const u = await buildUser(ctx);
    const { entry } = await ctx.container.services.ledger.post(ctx.container.db.prisma, {
      userId: u.id,
      type: "TOPUP",
      amount: 5,
      reason: "t",
    });
    await expect(ctx.container.db.prisma.creditTransaction.update({ where: { id: entry.id }, data: { amount: 500 } })).rejects.toThrow();
    await expect(ctx.container.db.prisma.creditTransaction.delete({ where: { id: entry.id } })).rejects.toThrow();
  });
});

describe("POST /api/admin/users/:id/credits", () => {
  it("grants credits: 201 {transaction}, balance and ledger updated", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `grant-${u.id}`)
      .send({ amount: 1500, reason: "Welcome bonus" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      transaction: {
        id: expect.any(String),
        userId: u.id,
        type: "TOPUP",
        amount: 1500,
        balanceAfter: 1500,
        reason: "Welcome bonus",
        referenceType: "admin",
        referenceId: admin.id,
        createdById: admin.id,
        createdAt: ISO,
      },
    });
    expect((await ctx.api.get("/api/credits").set(u.auth)).body).toEqual({ balance: 1500 });
  });

  it("replays the same key + body with the same status and body; a different body is 409 IDEMPOTENCY_KEY_REUSED", async () => {
    const u = await buildUser(ctx);
    const key = `k-${u.id}`;
    const send = (body: object) => ctx.api.post(`/api/admin/users/${u.id}/credits`).set(admin.auth).set("Idempotency-Key", key).send(body);
    const first = await send({ amount: 300, reason: "top-up" });
    const again = await send({ reason: "top-up", amount: 300 });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    const reused = await send({ amount: 301, reason: "top-up" });
    expect(reused.status).toBe(409);
    expect(reused.body).toEqual(errorShape("IDEMPOTENCY_KEY_REUSED"));
    const s = await ledgerState(u.id);
    expect(s.balance).toBe(300);
    expect(s.entries).toHaveLength(1);
    // The same key for another user is another request too.
    const other = await buildUser(ctx);
    const cross = await ctx.api
      .post(`/api/admin/users/${other.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", key)
      .send({ amount: 300, reason: "top-up" });
    expect(cross.status).toBe(409);
    expect((await ledgerState(other.id)).balance).toBe(0);
  });

  it("requires the Idempotency-Key header", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.post(`/api/admin/users/${u.id}/credits`).set(admin.auth).send({ amount: 10, reason: "x" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      errorShape("VALIDATION_ERROR", { details: [{ path: "headers.idempotency-key", message: "required", code: "invalid_type" }] }),
    );
    expect((await ledgerState(u.id)).entries).toHaveLength(0);
  });

  it("validates the body: zero, fractions and unknown keys are 400", async () => {
    const u = await buildUser(ctx);
    for (const body of [
      { amount: 0, reason: "x" },
      { amount: 1.5, reason: "x" },
      { amount: 5, reason: "" },
      { amount: 5, reason: "x", type: "REFUND" },
    ]) {
      const res = await ctx.api
        .post(`/api/admin/users/${u.id}/credits`)
        .set(admin.auth)
        .set("Idempotency-Key", `v-${JSON.stringify(body)}`)
        .send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION_ERROR");
    }
    expect((await ledgerState(u.id)).entries).toHaveLength(0);
  });

  it("a negative amount is an ADJUSTMENT that cannot overdraw (402)", async () => {
    const u = await buildUser(ctx);
    await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `a1-${u.id}`)
      .send({ amount: 100, reason: "t" })
      .expect(201);
    const ok = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `a2-${u.id}`)
      .send({ amount: -40, reason: "correction" });
    expect(ok.status).toBe(201);
    expect(ok.body.transaction).toMatchObject({ type: "ADJUSTMENT", amount: -40, balanceAfter: 60 });
    const over = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `a3-${u.id}`)
      .send({ amount: -61, reason: "too much" });
    expect(over.status).toBe(402);
    expect(over.body).toEqual(errorShape("INSUFFICIENT_CREDITS", { details: { balance: 60, price: 61 } }));
    expect((await ledgerState(u.id)).balance).toBe(60);
  });

  it("404 for an unknown user, 403 for a non-admin", async () => {
    const res = await ctx.api
      .post("/api/admin/users/nope/credits")
      .set(admin.auth)
      .set("Idempotency-Key", "nope-1")
      .send({ amount: 5, reason: "x" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorShape("NOT_FOUND", { message: "User not found" }));
    const u = await buildUser(ctx);
    const forbidden = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(u.auth)
      .set("Idempotency-Key", "self-grant")
      .send({ amount: 5, reason: "x" });
    expect(forbidden.status).toBe(403);
    expect((await ledgerState(u.id)).entries).toHaveLength(0);
  });
});

describe("GET /api/admin/users/:id/credits/transactions", () => {
  it("lists a user's ledger for an admin; an unknown user is a 404, not an empty page", async () => {
    const u = await buildUser(ctx);
    await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 7, reason: "seed" });
    const res = await ctx.api.get(`/api/admin/users/${u.id}/credits/transactions`).set(admin.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        {
          id: expect.any(String),
          userId: u.id,
          type: "TOPUP",
          amount: 7,
          balanceAfter: 7,
          reason: "seed",
          referenceType: null,
          referenceId: null,
          createdById: null,
          createdAt: ISO,
        },
      ],
      page: { page: 1, pageSize: 20, total: 1, totalPages: 1 },
    });
    const unknown = await ctx.api.get("/api/admin/users/no-such-user/credits/transactions").set(admin.auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorShape("NOT_FOUND", { message: "User not found" }));
    expect((await ctx.api.get(`/api/admin/users/${u.id}/credits/transactions`).set(u.auth)).status).toBe(403);
  });
});

describe("admin users", () => {
  it("lists users with their balance and shows one with its quota", async () => {
    const u = await buildUser(ctx, { name: "Listed" });
    await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 42, reason: "t" });
    const list = await ctx.api.get(`/api/admin/users?email=${encodeURIComponent(u.email)}`).set(admin.auth);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      data: [
        { id: u.id, email: u.email, name: "Listed", role: "USER", creditBalance: 42, disabledAt: null, createdAt: ISO, updatedAt: ISO },
      ],
      page: { page: 1, pageSize: 20, total: 1, totalPages: 1 },
    });
    const one = await ctx.api.get(`/api/admin/users/${u.id}`).set(admin.auth);
    expect(one.status).toBe(200);
    expect(one.body.user).toMatchObject({
      id: u.id,
      creditBalance: 42,
      quota: { limits: ctx.config.quotaDefaults, usage: { instances: 0, cpuMilli: 0, memoryMb: 0, storageGb: 0 } },
    });
    expect((await ctx.api.get("/api/admin/users/nope").set(admin.auth)).status).toBe(404);
    expect((await ctx.api.get("/api/admin/users").set(u.auth)).status).toBe(403);
  });
});

describe.skipIf(!usingPostgres)("concurrency on real PostgreSQL (PGlite is single-connection: set TEST_DATABASE_URL)", () => {
  it("60 concurrent charges: exactly floor(balance / price) succeed, the rest 402, the ledger sums to the balance", async () => {
    const u = await buildUser(ctx);
    const ledger = ctx.container.services.ledger;
    const prisma = ctx.container.db.prisma;
    const price = 70;
    const start = 1000; // floor(1000 / 70) = 14
    await ledger.post(prisma, { userId: u.id, type: "TOPUP", amount: start, reason: "t" });
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        ledger.post(prisma, { userId: u.id, type: "SUBSCRIPTION_CHARGE", amount: -price, reason: `charge ${i}` }),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(Math.floor(start / price));
    expect(rejected).toHaveLength(60 - Math.floor(start / price));
    for (const r of rejected) expect(r.reason).toMatchObject({ code: "INSUFFICIENT_CREDITS" });
    const s = await ledgerState(u.id);
    expect(s.balance).toBe(start % price);
    expect(s.sum).toBe(s.balance);
    expect(s.balance).toBeGreaterThanOrEqual(0);
    // balanceAfter forms an unbroken chain.
    const ordered = [...s.entries].sort((a, b) => b.balanceAfter - a.balanceAfter);
    expect(ordered.map((e) => e.balanceAfter)).toEqual(Array.from({ length: 15 }, (_, i) => start - i * price));
  });

  it("concurrent admin grants with one Idempotency-Key create one entry and all answer the same", async () => {
    const u = await buildUser(ctx);
    const key = `race-${u.id}`;
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        ctx.api.post(`/api/admin/users/${u.id}/credits`).set(admin.auth).set("Idempotency-Key", key).send({ amount: 250, reason: "race" }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    for (const r of responses) expect(r.body).toEqual(responses[0]?.body);
    const s = await ledgerState(u.id);
    expect(s.entries).toHaveLength(1);
    expect(s.balance).toBe(250);
  });
});

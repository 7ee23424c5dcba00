/**
 * Idempotency under concurrency: a request whose Idempotency-Key is in flight never runs its own work
 * beside the first one. It waits and replays the first's response, or (after the wait) gets 409
 * IDEMPOTENCY_KEY_IN_PROGRESS with Retry-After — never a different outcome such as a 402 because the
 * first request already spent the credits.
 */
import express from "express";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorHandler } from "../../src/platform/http/error-handler.js";
import { IdempotencyKeyInProgressError, IdempotencyService } from "../../src/platform/idempotency.js";
import { createLogger } from "../../src/platform/logger.js";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

async function fund(u: TestUser, amount: number) {
  await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount, reason: "test funds" });
}

describe.skipIf(!usingPostgres)(
  "concurrent requests with one key on real PostgreSQL (PGlite is single-connection: set TEST_DATABASE_URL)",
  () => {
    it("20 concurrent POST /api/subscriptions with one key: one subscription; every answer the same 201 (replayed) or 409 in progress; never 402", async () => {
      const prisma = ctx.container.db.prisma;
      const plan = await prisma.plan.findFirstOrThrow({ where: { slug: "small", service: { slug: "postgresql" } } });
      const u = await buildUser(ctx);
      await fund(u, plan.monthlyPriceCredits); // exactly one period: a second charge would be a 402
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          ctx.api
            .post("/api/subscriptions")
            .set(u.auth)
            .set("Idempotency-Key", "one-key-20")
            .send({ planId: plan.id, instanceName: "race" }),
        ),
      );
      const created = responses.filter((r) => r.status === 201);
      const inProgress = responses.filter((r) => r.status === 409);
      expect(created.length + inProgress.length).toBe(20);
      expect(responses.map((r) => r.status).filter((s) => s !== 201 && s !== 409)).toEqual([]);
      expect(created.length).toBeGreaterThanOrEqual(1);
      const first = created[0]?.body;
      for (const r of created) expect(r.body).toEqual(first);
      expect(created.filter((r) => r.headers["idempotent-replayed"] === "true")).toHaveLength(created.length - 1);
      for (const r of inProgress) {
        expect(r.body).toEqual(errorShape("IDEMPOTENCY_KEY_IN_PROGRESS", { details: { retryAfterSeconds: 1 } }));
        expect(r.headers["retry-after"]).toBe("1");
      }
      expect(await prisma.subscription.count({ where: { userId: u.id } })).toBe(1);
      expect(await prisma.instance.count({ where: { userId: u.id } })).toBe(1);
      expect((await prisma.user.findUniqueOrThrow({ where: { id: u.id } })).creditBalance).toBe(0);
    });

    it("a key held longer than the wait: the second request is 409 IDEMPOTENCY_KEY_IN_PROGRESS and runs nothing; later it replays", async () => {
      const u = await buildUser(ctx);
      const service = new IdempotencyService({ prisma: ctx.container.db.prisma, db: ctx.container.db, inFlightWaitMs: 150, pollMs: 20 });
      const call = { userId: u.id, scope: "test.slow", key: "slow-key", request: { a: 1 } };
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let runs = 0;
      const first = service.execute(call, async () => {
        runs += 1;
        await gate;
        return { status: 201, body: { n: 1 } };
      });
      await new Promise((r) => setTimeout(r, 50));
      const second = await service
        .execute(call, async () => {
          runs += 1;
          return { status: 201, body: { n: 2 } };
        })
        .catch((e: unknown) => e);
      expect(second).toBeInstanceOf(IdempotencyKeyInProgressError);
      expect((second as IdempotencyKeyInProgressError).retryAfterSeconds).toBe(1);
      release();
      expect(await first).toEqual({ status: 201, body: { n: 1 }, replayed: false });
      const third = await service.execute(call, async () => {
        runs += 1;
        return { status: 201, body: { n: 3 } };
      });
      expect(third).toEqual({ status: 201, body: { n: 1 }, replayed: true });
      expect(runs).toBe(1);
    });
  },
);

describe("the in-progress answer", () => {
  it("is a 409 in the one error shape with a Retry-After header", async () => {
    const app = express();
    app.get("/x", () => {
      throw new IdempotencyKeyInProgressError("in progress", 1);
    });
    app.use(errorHandler({ logger: createLogger({ level: "silent" }), exposeStack: false }));
    const res = await supertest(app).get("/x");
    expect(res.status).toBe(409);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.body).toEqual({
      error: {
        code: "IDEMPOTENCY_KEY_IN_PROGRESS",
        message: "in progress",
        details: { retryAfterSeconds: 1 },
        requestId: expect.any(String),
      },
    });
  });
});

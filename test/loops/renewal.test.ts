import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RenewalLoop } from "../../src/loops/renewal.js";
import { ManualClock } from "../../src/platform/clock.js";
import { LeaseManager } from "../../src/platform/lease.js";
import type { RecordingInstanceSignal } from "../helpers/recording-signal.js";
import { buildAdmin, buildUser, createTestContext, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";

const DAY = 86_400_000;
const clock = new ManualClock("2026-01-01T00:00:00.000Z");
let ctx: TestContext;
let admin: TestUser;
let plan: { id: string; monthlyPriceCredits: number };

beforeAll(async () => {
  ctx = await createTestContext({ clock, env: { BILLING_GRACE_PERIOD: "7d" } });
  admin = await buildAdmin(ctx);
  plan = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } }); // 500 credits
});
afterAll(async () => {
  await ctx.close();
});

const prisma = () => ctx.container.db.prisma;
const signal = () => ctx.container.signal as RecordingInstanceSignal;

async function subscribedUser(funds: number) {
  const u = await buildUser(ctx);
  await ctx.container.services.ledger.post(prisma(), { userId: u.id, type: "TOPUP", amount: funds, reason: "t" });
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan.id, instanceName: "renew me" });
  expect(res.status).toBe(201);
  return { u, subscriptionId: res.body.subscription.id as string, instanceId: res.body.instance.id as string };
}

async function state(userId: string, subscriptionId: string, instanceId: string) {
  const [user, sub, instance, entries, events] = await Promise.all([
    prisma().user.findUniqueOrThrow({ where: { id: userId } }),
    prisma().subscription.findUniqueOrThrow({ where: { id: subscriptionId } }),
    prisma().instance.findUniqueOrThrow({ where: { id: instanceId } }),
    prisma().creditTransaction.findMany({ where: { userId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
    prisma().instanceEvent.findMany({ where: { instanceId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
  ]);
  return { balance: user.creditBalance, sub, instance, entries, events: events.map((e) => e.type) };
}

describe("renewal", () => {
  it("charges an ended period once (key renewal:<id>:<periodStart>) and advances the period", async () => {
    clock.set("2026-01-01T00:00:00.000Z");
    const { u, subscriptionId, instanceId } = await subscribedUser(1200);
    const loop = ctx.container.loops.renewal;
    clock.set("2026-01-31T23:59:59.999Z");
    await loop.runOnce();
    expect((await state(u.id, subscriptionId, instanceId)).balance).toBe(700); // not due yet
    clock.set("2026-02-01T00:00:00.000Z");
    const report = await loop.runOnce();
    expect(report).toMatchObject({ skipped: false, failed: 0 });
    expect(report.renewed).toBeGreaterThanOrEqual(1);
    const s = await state(u.id, subscriptionId, instanceId);
    expect(s.balance).toBe(200);
    expect(s.sub).toMatchObject({
      status: "ACTIVE",
      currentPeriodStart: new Date("2026-02-01T00:00:00.000Z"),
      currentPeriodEnd: new Date("2026-03-01T00:00:00.000Z"),
    });
    expect(s.entries.at(-1)).toMatchObject({
      type: "RENEWAL_CHARGE",
      amount: -500,
      balanceAfter: 200,
      referenceType: "subscription",
      referenceId: subscriptionId,
      idempotencyKey: `renewal:${subscriptionId}:2026-02-01T00:00:00.000Z`,
    });
    // Running again in the same period charges nothing.
    await loop.runOnce();
    expect((await state(u.id, subscriptionId, instanceId)).entries).toHaveLength(3);
  });

  it("catches up several missed periods", async () => {
    clock.set("2026-01-01T00:00:00.000Z");
    const { u, subscriptionId, instanceId } = await subscribedUser(2000);
    clock.set("2026-03-15T00:00:00.000Z");
    await ctx.container.loops.renewal.runOnce();
    const s = await state(u.id, subscriptionId, instanceId);
    expect(s.entries.filter((e) => e.type === "RENEWAL_CHARGE").map((e) => e.idempotencyKey)).toEqual([
      `renewal:${subscriptionId}:2026-02-01T00:00:00.000Z`,
      `renewal:${subscriptionId}:2026-03-01T00:00:00.000Z`,
    ]);
    expect(s.balance).toBe(500);
    expect(s.sub.currentPeriodEnd).toEqual(new Date("2026-04-01T00:00:00.000Z"));
  });

  it("renewal -> past due (instance suspended) -> admin top-up -> renewed and resumed", async () => {
    clock.set("2026-01-01T00:00:00.000Z");
    const { u, subscriptionId, instanceId } = await subscribedUser(700); // 200 left after the first period
    clock.set("2026-02-01T06:00:00.000Z");
    const report = await ctx.container.loops.renewal.runOnce();
    expect(report.pastDue).toBeGreaterThanOrEqual(1);
    let s = await state(u.id, subscriptionId, instanceId);
    expect(s.sub).toMatchObject({
      status: "PAST_DUE",
      pastDueSince: new Date("2026-02-01T06:00:00.000Z"),
      currentPeriodEnd: new Date("2026-02-01T00:00:00.000Z"),
    });
    expect(s.instance).toMatchObject({ desiredState: "SUSPENDED", generation: 2 });
    expect(s.events).toEqual(["CREATED", "SUSPENDED"]);
    expect(s.balance).toBe(200);
    expect(s.entries).toHaveLength(2); // nothing charged
    expect(signal().changed.filter((id) => id === instanceId)).toHaveLength(2);
    const apiView = await ctx.api.get(`/api/subscriptions/${subscriptionId}`).set(u.auth);
    expect(apiView.body.subscription).toMatchObject({ status: "PAST_DUE", pastDueSince: "2026-02-01T06:00:00.000Z" });

    // Later passes neither charge nor cancel within the grace period.
    clock.set("2026-02-05T00:00:00.000Z");
    await ctx.container.loops.renewal.runOnce();
    expect((await state(u.id, subscriptionId, instanceId)).sub.status).toBe("PAST_DUE");

    // A top-up too small to pay keeps it past due.
    const small = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `small-${u.id}`)
      .send({ amount: 100, reason: "partial" });
    expect(small.status).toBe(201);
    expect((await state(u.id, subscriptionId, instanceId)).sub.status).toBe("PAST_DUE");

    clock.set("2026-02-06T12:00:00.000Z");
    const topUp = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `topup-${u.id}`)
      .send({ amount: 1000, reason: "top-up" });
    expect(topUp.status).toBe(201);
    expect(topUp.body.transaction).toMatchObject({ type: "TOPUP", amount: 1000, balanceAfter: 1300 });
    s = await state(u.id, subscriptionId, instanceId);
    expect(s.sub).toMatchObject({
      status: "ACTIVE",
      pastDueSince: null,
      currentPeriodStart: new Date("2026-02-06T12:00:00.000Z"),
      currentPeriodEnd: new Date("2026-03-06T12:00:00.000Z"),
    });
    expect(s.balance).toBe(800);
    expect(s.entries.at(-1)).toMatchObject({
      type: "RENEWAL_CHARGE",
      amount: -500,
      balanceAfter: 800,
      idempotencyKey: `renewal:${subscriptionId}:2026-02-06T12:00:00.000Z`,
    });
    expect(s.instance).toMatchObject({ desiredState: "RUNNING", generation: 3 });
    expect(s.events).toEqual(["CREATED", "SUSPENDED", "RESUMED"]);
    expect(signal().changed.filter((id) => id === instanceId)).toHaveLength(3);
    // The ledger still sums to the balance.
    expect(s.entries.reduce((a, e) => a + e.amount, 0)).toBe(s.balance);
    // Replaying the top-up request neither credits nor renews again.
    const replay = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `topup-${u.id}`)
      .send({ amount: 1000, reason: "top-up" });
    expect(replay.body).toEqual(topUp.body);
    expect((await state(u.id, subscriptionId, instanceId)).balance).toBe(800);
  });

  it("past due longer than the grace period -> cancelled, instance terminated, no refund", async () => {
    clock.set("2026-01-01T00:00:00.000Z");
    const { u, subscriptionId, instanceId } = await subscribedUser(500);
    clock.set("2026-02-01T00:00:00.000Z");
    await ctx.container.loops.renewal.runOnce();
    expect((await state(u.id, subscriptionId, instanceId)).sub.status).toBe("PAST_DUE");
    clock.set(new Date(Date.parse("2026-02-01T00:00:00.000Z") + 7 * DAY - 1));
    await ctx.container.loops.renewal.runOnce();
    expect((await state(u.id, subscriptionId, instanceId)).sub.status).toBe("PAST_DUE");
    clock.set(new Date(Date.parse("2026-02-01T00:00:00.000Z") + 7 * DAY));
    const report = await ctx.container.loops.renewal.runOnce();
    expect(report.cancelled).toBeGreaterThanOrEqual(1);
    const s = await state(u.id, subscriptionId, instanceId);
    expect(s.sub).toMatchObject({
      status: "CANCELLED",
      cancelledAt: new Date("2026-02-08T00:00:00.000Z"),
      cancelReason: "Payment overdue for longer than the grace period",
    });
    expect(s.instance).toMatchObject({ desiredState: "TERMINATED", generation: 3 });
    expect(s.events).toEqual(["CREATED", "SUSPENDED", "TERMINATION_REQUESTED"]);
    expect(s.entries.map((e) => e.type)).toEqual(["TOPUP", "SUBSCRIPTION_CHARGE"]);
    // A later top-up does not revive a cancelled subscription.
    await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `late-${u.id}`)
      .send({ amount: 1000, reason: "late" })
      .expect(201);
    expect((await state(u.id, subscriptionId, instanceId)).sub.status).toBe("CANCELLED");
    expect((await state(u.id, subscriptionId, instanceId)).balance).toBe(1000);
  });

  it("skips a pass while another holder has the lease", async () => {
    clock.set("2026-06-01T00:00:00.000Z");
    const leases = new LeaseManager({ prisma: prisma(), clock });
    expect(await leases.tryAcquire("renewal", "someone-else", 60_000)).toBe(true);
    expect(await leases.tryAcquire("renewal", "third", 60_000)).toBe(false);
    const report = await ctx.container.loops.renewal.runOnce();
    expect(report).toEqual({ skipped: true, renewed: 0, pastDue: 0, cancelled: 0, failed: 0 });
    clock.advance(60_000); // expired: free to take
    expect((await ctx.container.loops.renewal.runOnce()).skipped).toBe(false);
    expect(await leases.holderOf("renewal")).toBeUndefined(); // released after the pass
  });

  it("after the pass, forgets idempotency records older than IDEMPOTENCY_RETENTION (7 days)", async () => {
    clock.set("2026-07-01T00:00:00.000Z");
    const u = await buildUser(ctx);
    const record = (key: string, createdAt: string) => ({
      userId: u.id,
      scope: "subscriptions.create",
      key,
      requestHash: "x",
      responseStatus: 201,
      responseBody: {},
      createdAt: new Date(createdAt),
    });
    await prisma().idempotencyRecord.createMany({
      data: [record("old", "2026-06-23T23:59:59.000Z"), record("recent", "2026-06-24T00:00:01.000Z")],
    });
    expect((await ctx.container.loops.renewal.runOnce()).skipped).toBe(false);
    const left = await prisma().idempotencyRecord.findMany({ where: { userId: u.id }, select: { key: true } });
    expect(left).toEqual([{ key: "recent" }]);
  });

  it("start() schedules with node-cron and stop() stops it; an invalid expression is refused", async () => {
    const loop = new RenewalLoop({
      billing: ctx.container.services.billing,
      leases: new LeaseManager({ prisma: prisma(), clock }),
      logger: ctx.container.logger,
      cron: "*/10 * * * *",
    });
    loop.start();
    await loop.stop();
    const bad = new RenewalLoop({
      billing: ctx.container.services.billing,
      leases: new LeaseManager({ prisma: prisma(), clock }),
      logger: ctx.container.logger,
      cron: "every tuesday",
    });
    expect(() => bad.start()).toThrow(/RENEWAL_CRON/);
  });
});

describe.skipIf(!usingPostgres)("several replicas on real PostgreSQL (replicas need TEST_DATABASE_URL)", () => {
  it("two replicas running the renewal job at once charge each period once", async () => {
    clock.set("2027-01-01T00:00:00.000Z");
    const subs = [];
    for (let i = 0; i < 5; i++) subs.push(await subscribedUser(5000));
    const a = await ctx.replica();
    const b = await ctx.replica();
    clock.set("2027-02-01T00:00:00.000Z");
    const reports = await Promise.all([a.loops.renewal.runOnce(), b.loops.renewal.runOnce(), ctx.container.loops.renewal.runOnce()]);
    expect(reports.reduce((n, r) => n + r.renewed, 0)).toBe(5);
    // Without the lease (as if it had expired mid-pass): the ledger key and row locks still hold.
    clock.set("2027-03-01T00:00:00.000Z");
    const direct = await Promise.all([
      a.services.billing.runDue(),
      b.services.billing.runDue(),
      a.services.billing.runDue(),
      b.services.billing.runDue(),
    ]);
    expect(direct.reduce((n, r) => n + r.renewed, 0)).toBe(5);
    expect(direct.reduce((n, r) => n + r.failed, 0)).toBe(0);
    for (const { u, subscriptionId } of subs) {
      const charges = await prisma().creditTransaction.findMany({
        where: { userId: u.id, type: "RENEWAL_CHARGE" },
        orderBy: { createdAt: "asc" },
      });
      expect(charges.map((c) => c.idempotencyKey)).toEqual([
        `renewal:${subscriptionId}:2027-02-01T00:00:00.000Z`,
        `renewal:${subscriptionId}:2027-03-01T00:00:00.000Z`,
      ]);
      const user = await prisma().user.findUniqueOrThrow({ where: { id: u.id } });
      expect(user.creditBalance).toBe(5000 - 3 * 500);
    }
  });
});

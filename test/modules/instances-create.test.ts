/**
 * POST /api/instances with its two request shapes — `{planId, name}` buys and provisions (exactly
 * POST /api/subscriptions: charge, quota, idempotency), `{subscriptionId}` re-provisions — and the
 * list leaving TERMINATED instances out unless asked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let n8nStarter: { id: string; monthlyPriceCredits: number };

beforeAll(async () => {
  ctx = await createTestContext();
  n8nStarter = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } });
});
afterAll(async () => {
  await ctx.close();
});

async function fund(u: TestUser, amount: number) {
  await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount, reason: "test" });
}

async function snapshot(userId: string) {
  const p = ctx.container.db.prisma;
  return {
    balance: (await p.user.findUniqueOrThrow({ where: { id: userId } })).creditBalance,
    subscriptions: await p.subscription.count({ where: { userId } }),
    instances: await p.instance.count({ where: { userId } }),
    ledger: await p.creditTransaction.count({ where: { userId } }),
  };
}

function buy(u: TestUser, body: Record<string, unknown>, key?: string) {
  const req = ctx.api.post("/api/instances").set(u.auth);
  if (key) req.set("Idempotency-Key", key);
  return req.send(body);
}

describe("POST /api/instances {planId, name}", () => {
  it("creates the subscription and its instance in one call, charging the first period", async () => {
    const u = await buildUser(ctx);
    await fund(u, 600);
    const res = await buy(u, { planId: n8nStarter.id, name: "My Flows" });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["instance", "subscription"]);
    expect(res.body.subscription).toMatchObject({ status: "ACTIVE", plan: { id: n8nStarter.id } });
    expect(res.body.instance).toMatchObject({
      name: "My Flows",
      resourceName: "my-flows",
      status: "PENDING",
      desiredState: "RUNNING",
      subscriptionId: res.body.subscription.id,
    });
    expect(await snapshot(u.id)).toEqual({ balance: 600 - n8nStarter.monthlyPriceCredits, subscriptions: 1, instances: 1, ledger: 2 });
    // The reconciler was told, as for POST /api/subscriptions.
    const signal = ctx.container.signal as unknown as { changed: string[] };
    expect(signal.changed).toContain(res.body.instance.id);
    // The same as GET of both objects.
    expect((await ctx.api.get(`/api/instances/${res.body.instance.id}`).set(u.auth)).body.instance).toEqual(res.body.instance);
  });

  it("402 without credits and 422 over quota, changing nothing", async () => {
    const u = await buildUser(ctx);
    await fund(u, n8nStarter.monthlyPriceCredits - 1);
    const before = await snapshot(u.id);
    const poor = await buy(u, { planId: n8nStarter.id, name: "x" });
    expect(poor.status).toBe(402);
    expect(poor.body).toEqual(
      errorShape("INSUFFICIENT_CREDITS", {
        details: { balance: n8nStarter.monthlyPriceCredits - 1, price: n8nStarter.monthlyPriceCredits },
      }),
    );
    expect(await snapshot(u.id)).toEqual(before);

    await fund(u, 5000);
    await ctx.container.db.prisma.quota.create({ data: { userId: u.id, maxInstances: 0, cpuMilli: 4000, memoryMb: 8192, storageGb: 50 } });
    const funded = await snapshot(u.id);
    const over = await buy(u, { planId: n8nStarter.id, name: "x" });
    expect(over.status).toBe(422);
    expect(over.body).toEqual(errorShape("QUOTA_EXCEEDED", { details: { limit: "maxInstances", max: 0, current: 0, requested: 1 } }));
    expect(await snapshot(u.id)).toEqual(funded);

    const unknown = await buy(u, { planId: "no-such-plan", name: "x" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorShape("NOT_FOUND", { message: "Plan not found" }));
  });

  it("is idempotent with POST /api/subscriptions' rules: a retry replays, another body is 409", async () => {
    const u = await buildUser(ctx);
    await fund(u, 2000);
    const key = `buy-${u.id}`;
    const first = await buy(u, { planId: n8nStarter.id, name: "Once" }, key);
    expect(first.status).toBe(201);
    const after = await snapshot(u.id);
    const again = await buy(u, { name: "Once", planId: n8nStarter.id }, key);
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await snapshot(u.id)).toEqual(after);
    // One idempotency scope with POST /api/subscriptions: the same purchase there replays too.
    const viaSubscriptions = await ctx.api
      .post("/api/subscriptions")
      .set(u.auth)
      .set("Idempotency-Key", key)
      .send({ planId: n8nStarter.id, instanceName: "Once" });
    expect(viaSubscriptions.status).toBe(201);
    expect(viaSubscriptions.body).toEqual(first.body);
    const reused = await buy(u, { planId: n8nStarter.id, name: "Other" }, key);
    expect(reused.status).toBe(409);
    expect(reused.body).toEqual(errorShape("IDEMPOTENCY_KEY_REUSED"));
    expect(await snapshot(u.id)).toEqual(after);
  });

  it("rejects bodies that are neither shape, changing nothing", async () => {
    const u = await buildUser(ctx);
    await fund(u, 5000);
    const before = await snapshot(u.id);
    for (const body of [
      {},
      { planId: n8nStarter.id },
      { planId: n8nStarter.id, name: "   " },
      { planId: n8nStarter.id, name: "x", subscriptionId: "s" },
      { planId: n8nStarter.id, instanceName: "x" },
      { name: "x" },
    ]) {
      const res = await buy(u, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION_ERROR");
    }
    expect(await snapshot(u.id)).toEqual(before);
  });

  it("keeps {subscriptionId}: 202 {instance} for a subscription without a live instance, 409 with one", async () => {
    const u = await buildUser(ctx);
    await fund(u, 2000);
    const bought = await buy(u, { planId: n8nStarter.id, name: "kept" });
    const dup = await ctx.api.post("/api/instances").set(u.auth).send({ subscriptionId: bought.body.subscription.id });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(
      errorShape("CONFLICT", {
        message: "The subscription already has instance 'kept' (PENDING)",
        details: { instanceId: bought.body.instance.id, status: "PENDING" },
      }),
    );
    // As after a provisioning failure that never ran: the subscription may get a new instance.
    await ctx.container.db.prisma.instance.update({ where: { id: bought.body.instance.id }, data: { status: "FAILED" } });
    const again = await ctx.api.post("/api/instances").set(u.auth).send({ subscriptionId: bought.body.subscription.id, name: "again" });
    expect(again.status).toBe(202);
    expect(Object.keys(again.body)).toEqual(["instance"]);
    expect(again.body.instance).toMatchObject({ name: "again", status: "PENDING", subscriptionId: bought.body.subscription.id });
  });
});

describe("the OpenAPI document", () => {
  it("lists both request shapes of POST /api/instances and both success answers", async () => {
    const doc = (await ctx.api.get("/openapi.json")).body;
    const op = doc.paths["/api/instances"].post;
    expect(op.requestBody.content["application/json"].schema.anyOf.map((s: { required: string[] }) => s.required)).toEqual([
      ["planId", "name"],
      ["subscriptionId"],
    ]);
    expect(Object.keys(op.responses).filter((s) => s.startsWith("2"))).toEqual(["201", "202"]);
    expect(op.responses["202"]).toMatchObject({
      description: "{instance}: with {subscriptionId, name?}, a new instance for the subscription",
      headers: { "X-Request-Id": { $ref: "#/components/headers/XRequestId" } },
      content: { "application/json": { schema: { type: "object", required: ["instance"], additionalProperties: false } } },
    });
    expect(op.responses["201"].content["application/json"].schema.required).toEqual(["subscription", "instance"]);
    expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "Idempotency-Key", in: "header" })]));
    const list = doc.paths["/api/instances"].get;
    expect(list.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "includeTerminated", in: "query", required: false })]),
    );
  });
});

describe("GET /api/instances leaves TERMINATED instances out unless asked", () => {
  it("lists live ones by default; status=TERMINATED or includeTerminated=true shows the rest", async () => {
    const u = await buildUser(ctx);
    await fund(u, 5000);
    const live = (await buy(u, { planId: n8nStarter.id, name: "live" })).body.instance.id as string;
    const gone = (await buy(u, { planId: n8nStarter.id, name: "gone" })).body.instance.id as string;
    await ctx.container.db.prisma.instance.update({ where: { id: gone }, data: { status: "TERMINATED", desiredState: "TERMINATED" } });
    const ids = async (q: string) => {
      const res = await ctx.api.get(`/api/instances${q}`).set(u.auth);
      expect(res.status).toBe(200);
      return { ids: res.body.data.map((i: { id: string }) => i.id), total: res.body.page.total };
    };
    expect(await ids("")).toEqual({ ids: [live], total: 1 });
    expect(await ids("?status=TERMINATED")).toEqual({ ids: [gone], total: 1 });
    expect(await ids("?includeTerminated=true")).toEqual({ ids: [gone, live], total: 2 });
    expect(await ids("?includeTerminated=false")).toEqual({ ids: [live], total: 1 });
    const bad = await ctx.api.get("/api/instances?includeTerminated=maybe").set(u.auth);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("VALIDATION_ERROR");
  });
});

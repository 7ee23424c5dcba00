import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let admin: TestUser;
beforeAll(async () => {
  ctx = await createTestContext({ env: { DEFAULT_QUOTA_MAX_INSTANCES: "4", DEFAULT_QUOTA_CPU_MILLI: "3000" } });
  admin = await buildAdmin(ctx);
});
afterAll(async () => {
  await ctx.close();
});

const zero = { instances: 0, cpuMilli: 0, memoryMb: 0, storageGb: 0 };

describe("GET /api/quotas", () => {
  it("returns the configured defaults and zero usage for a new user", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.get("/api/quotas").set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ limits: { maxInstances: 4, cpuMilli: 3000, memoryMb: 8192, storageGb: 50 }, usage: zero });
  });

  it("counts live instances only (not TERMINATED, FAILED or being terminated)", async () => {
    const u = await buildUser(ctx);
    const prisma = ctx.container.db.prisma;
    await ctx.container.services.ledger.post(prisma, { userId: u.id, type: "TOPUP", amount: 5000, reason: "t" });
    const plans = await prisma.plan.findMany({ where: { slug: { in: ["starter", "small"] } }, include: { service: true } });
    const n8n = plans.find((p) => p.service.slug === "n8n" && p.slug === "starter");
    const pg = plans.find((p) => p.service.slug === "postgresql" && p.slug === "small");
    const ids: string[] = [];
    for (const [plan, name] of [
      [n8n, "a"],
      [pg, "b"],
      [pg, "c"],
      [pg, "d"],
    ] as const) {
      const r = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan?.id, instanceName: name });
      expect(r.status).toBe(201);
      ids.push(r.body.instance.id);
    }
    await prisma.instance.update({ where: { id: ids[1] }, data: { status: "FAILED" } });
    await prisma.instance.update({ where: { id: ids[2] }, data: { status: "TERMINATED" } });
    await prisma.instance.update({ where: { id: ids[3] }, data: { desiredState: "TERMINATED", status: "TERMINATING" } });
    const res = await ctx.api.get("/api/quotas").set(u.auth);
    expect(res.body.usage).toEqual({ instances: 1, cpuMilli: 500, memoryMb: 512, storageGb: 5 });
  });
});

describe("PUT /api/admin/users/:id/quota", () => {
  it("replaces the limits, and they apply to the next subscription", async () => {
    const u = await buildUser(ctx);
    const limits = { maxInstances: 0, cpuMilli: 1000, memoryMb: 1024, storageGb: 10 };
    const res = await ctx.api.put(`/api/admin/users/${u.id}/quota`).set(admin.auth).send(limits);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ quota: { userId: u.id, limits, usage: zero } });
    expect((await ctx.api.get("/api/quotas").set(u.auth)).body).toEqual({ limits, usage: zero });
    expect((await ctx.api.get(`/api/admin/users/${u.id}/quota`).set(admin.auth)).body).toEqual({
      quota: { userId: u.id, limits, usage: zero },
    });

    const plan = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "small" } });
    await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 1000, reason: "t" });
    const sub = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan.id, instanceName: "x" });
    expect(sub.status).toBe(422);
    expect(sub.body).toEqual(
      errorShape("QUOTA_EXCEEDED", {
        message: "Quota exceeded: maxInstances is 0, 0 in use, 1 requested",
        details: { limit: "maxInstances", max: 0, current: 0, requested: 1 },
      }),
    );
    // Updating again replaces, not merges.
    const again = await ctx.api
      .put(`/api/admin/users/${u.id}/quota`)
      .set(admin.auth)
      .send({ ...limits, maxInstances: 2 });
    expect(again.body.quota.limits).toEqual({ ...limits, maxInstances: 2 });
    expect((await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan.id, instanceName: "x" })).status).toBe(201);
  });

  it("404 for an unknown user; 400 for a partial, negative or fractional object; 403 for a user", async () => {
    const full = { maxInstances: 1, cpuMilli: 1, memoryMb: 1, storageGb: 1 };
    const missing = await ctx.api.put("/api/admin/users/nope/quota").set(admin.auth).send(full);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual(errorShape("NOT_FOUND", { message: "User not found" }));
    const u = await buildUser(ctx);
    for (const body of [{ maxInstances: 1 }, { ...full, cpuMilli: -1 }, { ...full, storageGb: 1.5 }, { ...full, extra: 1 }]) {
      const res = await ctx.api.put(`/api/admin/users/${u.id}/quota`).set(admin.auth).send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION_ERROR");
    }
    expect(await ctx.container.db.prisma.quota.count({ where: { userId: u.id } })).toBe(0);
    expect((await ctx.api.put(`/api/admin/users/${u.id}/quota`).set(u.auth).send(full)).status).toBe(403);
  });
});

describe("QuotaService.assertWithinQuota (for plan changes)", () => {
  it("checks only growing resources, and can exclude the instance being resized", async () => {
    const u = await buildUser(ctx);
    const quotas = ctx.container.services.quotas;
    const prisma = ctx.container.db.prisma;
    await prisma.quota.create({ data: { userId: u.id, maxInstances: 1, cpuMilli: 1000, memoryMb: 1024, storageGb: 10 } });
    await prisma.$transaction(async (tx) => {
      await quotas.assertWithinQuota(tx, u.id, { instances: 0, cpuMilli: -500, memoryMb: 0, storageGb: 0 });
      await quotas.assertWithinQuota(tx, u.id, { instances: 0, cpuMilli: 1000, memoryMb: 1024, storageGb: 10 });
    });
    await expect(
      prisma.$transaction((tx) => quotas.assertWithinQuota(tx, u.id, { instances: 0, cpuMilli: 0, memoryMb: 1025, storageGb: 0 })),
    ).rejects.toMatchObject({ code: "QUOTA_EXCEEDED", details: { limit: "memoryMb", max: 1024, current: 0, requested: 1025 } });
  });
});

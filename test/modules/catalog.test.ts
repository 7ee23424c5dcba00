import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedCatalog } from "../../src/modules/catalog/catalog.seed.js";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let admin: TestUser;
let user: TestUser;
beforeAll(async () => {
  ctx = await createTestContext();
  admin = await buildAdmin(ctx);
  user = await buildUser(ctx);
});
afterAll(async () => {
  await ctx.close();
});

describe("public catalog", () => {
  it("lists the seeded services with at least two active plans each, cheapest first", async () => {
    const res = await ctx.api.get("/api/services");
    expect(res.status).toBe(200);
    expect(res.body.page).toEqual({ page: 1, pageSize: 3, total: 3, totalPages: 1 });
    expect(res.body.data.map((s: { slug: string }) => s.slug)).toEqual(["ghost", "n8n", "postgresql"]);
    const n8n = res.body.data.find((s: { slug: string }) => s.slug === "n8n");
    expect(n8n).toMatchObject({ name: "n8n", template: "n8n", port: 5678, isActive: true });
    expect(n8n.plans.map((p: { slug: string; monthlyPriceCredits: number }) => [p.slug, p.monthlyPriceCredits])).toEqual([
      ["starter", 500],
      ["pro", 1000],
    ]);
    const ports = Object.fromEntries(res.body.data.map((s: { slug: string; port: number }) => [s.slug, s.port]));
    expect(ports).toEqual({ ghost: 2368, n8n: 5678, postgresql: 5432 });
    for (const s of res.body.data) expect(s.plans.length).toBeGreaterThanOrEqual(2);
  });

  it("gets one service by slug, and 404s for an unknown one", async () => {
    const res = await ctx.api.get("/api/services/postgresql");
    expect(res.status).toBe(200);
    expect(res.body.service).toMatchObject({ slug: "postgresql", template: "postgresql", port: 5432 });
    const missing = await ctx.api.get("/api/services/nope");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual(errorShape("NOT_FOUND", { message: "Service 'nope' not found" }));
  });

  it("seeding again changes nothing", async () => {
    const before = await ctx.container.db.prisma.plan.count();
    await seedCatalog(ctx.container.db.prisma);
    expect(await ctx.container.db.prisma.plan.count()).toBe(before);
    expect(await ctx.container.db.prisma.service.count()).toBe(3);
  });
});

describe("admin catalog", () => {
  it("403s for a user and 401s without a token", async () => {
    const forbidden = await ctx.api.post("/api/admin/services").set(user.auth).send({});
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual(errorShape("FORBIDDEN"));
    expect((await ctx.api.post("/api/admin/services").send({})).status).toBe(401);
  });

  it("creates a service and plans; hides inactive ones from the public catalog", async () => {
    const created = await ctx.api
      .post("/api/admin/services")
      .set(admin.auth)
      .send({ slug: "ghost-edge", name: "Ghost Edge", template: "ghost", image: "ghost", version: "6.0.0-alpine", port: 2368 });
    expect(created.status).toBe(201);
    expect(created.body.service).toMatchObject({ slug: "ghost-edge", description: "", isActive: true, plans: [] });
    const id = created.body.service.id;

    const plan = await ctx.api
      .post(`/api/admin/services/${id}/plans`)
      .set(admin.auth)
      .send({ slug: "tiny", name: "Tiny", cpuMilli: 100, memoryMb: 256, storageGb: 1, monthlyPriceCredits: 99 });
    expect(plan.status).toBe(201);
    expect(plan.body.plan).toMatchObject({ serviceId: id, slug: "tiny", monthlyPriceCredits: 99, isActive: true });

    const dupPlan = await ctx.api
      .post(`/api/admin/services/${id}/plans`)
      .set(admin.auth)
      .send({ slug: "tiny", name: "Tiny 2", cpuMilli: 100, memoryMb: 256, storageGb: 1, monthlyPriceCredits: 99 });
    expect(dupPlan.status).toBe(409);

    expect((await ctx.api.get("/api/services/ghost-edge")).body.service.plans).toHaveLength(1);
    const off = await ctx.api.patch(`/api/admin/plans/${plan.body.plan.id}`).set(admin.auth).send({ isActive: false });
    expect(off.status).toBe(200);
    expect(off.body.plan.isActive).toBe(false);
    expect((await ctx.api.get("/api/services/ghost-edge")).body.service.plans).toEqual([]);

    const hidden = await ctx.api.patch(`/api/admin/services/${id}`).set(admin.auth).send({ isActive: false });
    expect(hidden.status).toBe(200);
    expect((await ctx.api.get("/api/services/ghost-edge")).status).toBe(404);
    const adminList = await ctx.api.get("/api/admin/services").set(admin.auth);
    expect(adminList.body.data.map((s: { slug: string }) => s.slug)).toContain("ghost-edge");
  });

  it("rejects a duplicate slug with 409 and bad input with 400, writing nothing", async () => {
    const before = await ctx.container.db.prisma.service.count();
    const dup = await ctx.api
      .post("/api/admin/services")
      .set(admin.auth)
      .send({ slug: "n8n", name: "Again", template: "n8n", image: "n8n", version: "1", port: 5678 });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(errorShape("CONFLICT", { message: "A service with slug 'n8n' already exists" }));
    const bad = await ctx.api
      .post("/api/admin/services")
      .set(admin.auth)
      .send({ slug: "Bad Slug", name: "", template: "wordpress", image: "x", version: "1", port: 70000 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      "body.name",
      "body.port",
      "body.slug",
      "body.template",
    ]);
    expect(await ctx.container.db.prisma.service.count()).toBe(before);
  });

  it("404s patching an unknown service or plan, and 400s an empty patch", async () => {
    expect((await ctx.api.patch("/api/admin/services/nope").set(admin.auth).send({ name: "x" })).status).toBe(404);
    expect((await ctx.api.patch("/api/admin/plans/nope").set(admin.auth).send({ name: "x" })).status).toBe(404);
    const empty = await ctx.api.patch("/api/admin/plans/nope").set(admin.auth).send({});
    expect(empty.status).toBe(400);
  });
});

describe("admin catalog patches", () => {
  it("changes only the fields given", async () => {
    const svc = (await ctx.api.get("/api/admin/services").set(admin.auth)).body.data.find((s: { slug: string }) => s.slug === "postgresql");
    const plan = svc.plans[0];
    await ctx.api.patch(`/api/admin/plans/${plan.id}`).set(admin.auth).send({ isActive: false }).expect(200);
    const renamed = await ctx.api.patch(`/api/admin/plans/${plan.id}`).set(admin.auth).send({ name: "Renamed" });
    expect(renamed.body.plan).toMatchObject({ name: "Renamed", isActive: false, monthlyPriceCredits: plan.monthlyPriceCredits });
    await ctx.api.patch(`/api/admin/plans/${plan.id}`).set(admin.auth).send({ isActive: true, name: plan.name }).expect(200);
  });
});

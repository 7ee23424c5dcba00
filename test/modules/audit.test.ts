/**
 * The audit log: each listed action leaves one event with its actor, object, IP and request id;
 * the table is append-only in the database (UPDATE, DELETE and TRUNCATE refused; retention deletes
 * only old rows, through audit_events_prune()); GET /api/admin/audit filters and paginates; no
 * secret (password, token, generated credential) is ever in it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser, uniqueEmail } from "../helpers/app.js";

let ctx: TestContext;
let admin: TestUser;

beforeAll(async () => {
  ctx = await createTestContext();
  admin = await buildAdmin(ctx);
});
afterAll(async () => {
  await ctx.close();
});

async function events(query: string) {
  const res = await ctx.api.get(`/api/admin/audit?${query}`).set(admin.auth);
  expect(res.status).toBe(200);
  return res.body as { data: Array<Record<string, unknown>>; page: Record<string, number> };
}

describe("the audit log records", () => {
  const secrets: string[] = [];

  it("security events, admin actions and instance lifecycle actions, with actor, object, IP and request id", async () => {
    const prisma = ctx.container.db.prisma;
    const started = new Date(Date.now() - 1).toISOString();
    const email = uniqueEmail("audited");
    const password = "audit-secret-password-1";
    const reg = await ctx.api.post("/api/auth/register").set("X-Request-Id", "req-register-1").send({ email, password, name: "Audited" });
    expect(reg.status).toBe(201);
    const userId = reg.body.user.id as string;
    secrets.push(password, reg.body.accessToken, reg.body.refreshToken);
    expect((await ctx.api.post("/api/auth/login").send({ email, password: "wrong-password-xyz" })).status).toBe(401);
    expect((await ctx.api.post("/api/auth/login").send({ email: uniqueEmail("nobody"), password: "whatever-123" })).status).toBe(401);
    const login = await ctx.api.post("/api/auth/login").send({ email, password });
    secrets.push(login.body.accessToken, login.body.refreshToken);
    const rotated = await ctx.api.post("/api/auth/refresh").send({ refreshToken: login.body.refreshToken });
    secrets.push(rotated.body.accessToken, rotated.body.refreshToken);
    expect((await ctx.api.post("/api/auth/refresh").send({ refreshToken: login.body.refreshToken })).status).toBe(401); // reuse
    const auth = { Authorization: `Bearer ${reg.body.accessToken}` };
    const changed = await ctx.api
      .post("/api/auth/password")
      .set(auth)
      .send({ currentPassword: password, newPassword: "audit-new-password-2" });
    expect(changed.status).toBe(200);
    secrets.push("audit-new-password-2", changed.body.accessToken, changed.body.refreshToken);
    const userAuth = { Authorization: `Bearer ${changed.body.accessToken}` };

    // Admin actions.
    const grant = await ctx.api
      .post(`/api/admin/users/${userId}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", "audit-grant")
      .send({ amount: 5000, reason: "audit test" });
    expect(grant.status).toBe(201);
    const quota = { maxInstances: 4, cpuMilli: 4000, memoryMb: 8192, storageGb: 50 };
    expect((await ctx.api.put(`/api/admin/users/${userId}/quota`).set(admin.auth).send(quota)).status).toBe(200);
    const svc = await ctx.api
      .post("/api/admin/services")
      .set(admin.auth)
      .send({
        slug: `audit-${Date.now()}`,
        name: "Audit",
        template: "n8n",
        image: "n8nio/n8n",
        version: "1.0.0",
        port: 5678,
      });
    expect(svc.status).toBe(201);
    expect(
      (
        await ctx.api
          .patch(`/api/admin/services/${svc.body.service.id}`)
          .set(admin.auth)
          .set("X-Request-Id", "req-service-2")
          .send({ name: "Audit 2" })
      ).status,
    ).toBe(200);

    // Instance lifecycle.
    const plan = await prisma.plan.findFirstOrThrow({ where: { slug: "small", service: { slug: "postgresql" } } });
    const sub = await ctx.api.post("/api/subscriptions").set(userAuth).send({ planId: plan.id, instanceName: "audited db" });
    expect(sub.status).toBe(201);
    const instanceId = sub.body.instance.id as string;
    await ctx.container.loops.reconciler.runUntilIdle();
    const creds = await ctx.api.get(`/api/instances/${instanceId}/credentials`).set(userAuth);
    expect(creds.status).toBe(200);
    const generated = Object.entries(creds.body.credentials as Record<string, unknown>).filter(([k]) => /password|key|secret/i.test(k));
    expect(generated.length).toBeGreaterThan(0);
    secrets.push(...generated.map(([, v]) => String(v)));
    expect((await ctx.api.post(`/api/instances/${instanceId}/restart`).set(userAuth).set("X-Request-Id", "req-restart-1")).status).toBe(
      202,
    );
    await ctx.container.loops.reconciler.runUntilIdle();
    expect((await ctx.api.delete(`/api/instances/${instanceId}`).set(userAuth)).status).toBe(202);
    expect((await ctx.api.patch(`/api/admin/users/${userId}`).set(admin.auth).send({ disabled: true })).status).toBe(200);

    const mine = await events(`objectId=${userId}&pageSize=100`);
    const actions = mine.data.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        "auth.register",
        "auth.login.failed",
        "auth.login",
        "auth.password.change",
        "admin.credits.grant",
        "admin.quota.set",
        "admin.user.disable",
      ]),
    );
    const register = mine.data.find((e) => e.action === "auth.register");
    expect(register).toEqual({
      id: expect.any(String),
      createdAt: expect.stringMatching(/Z$/),
      actorId: userId,
      actorRole: "USER",
      action: "auth.register",
      objectType: "user",
      objectId: userId,
      ip: expect.stringMatching(/127\.0\.0\.1/),
      requestId: "req-register-1",
      details: null,
    });
    const grantEvent = mine.data.find((e) => e.action === "admin.credits.grant");
    expect(grantEvent).toMatchObject({
      actorId: admin.id,
      actorRole: "ADMIN",
      objectType: "user",
      details: { amount: 5000, reason: "audit test" },
    });
    expect(mine.data.find((e) => e.action === "auth.login.failed")).toMatchObject({
      actorId: null,
      details: { email, reason: "wrong password" },
    });

    const unknown = await events("action=auth.login.failed&pageSize=100");
    expect(unknown.data.some((e) => (e.details as { reason?: string }).reason === "unknown email")).toBe(true);
    expect((await events("action=auth.refresh.reuse")).data[0]).toMatchObject({ objectType: "session", details: { userId } });
    expect((await events(`action=auth.logout`)).data).toEqual([]); // nobody logged out yet
    expect((await events(`objectType=service&objectId=${svc.body.service.id}`)).data.map((e) => e.action)).toEqual([
      "admin.catalog.service.update",
      "admin.catalog.service.create",
    ]);
    const lifecycle = await events(`objectType=instance&objectId=${instanceId}`);
    expect(lifecycle.data.map((e) => e.action)).toEqual(["instance.delete", "instance.restart", "instance.create"]);
    for (const e of lifecycle.data) expect(e.actorId).toBe(userId);
    expect((await events("action=subscription.cancel")).data[0]).toMatchObject({ objectId: sub.body.subscription.id, actorId: userId });

    // Logout, then the prefix filter and the actor filter.
    expect((await ctx.api.post("/api/auth/logout").send({ refreshToken: changed.body.refreshToken })).status).toBe(204);
    expect((await events("action=auth.logout")).data[0]).toMatchObject({ actorId: userId, objectType: "session" });
    const adminActions = await events(`actorId=${admin.id}&action=admin.&pageSize=100`);
    expect(adminActions.data.length).toBeGreaterThanOrEqual(5);
    for (const e of adminActions.data) expect(String(e.action).startsWith("admin.")).toBe(true);

    // Every event above came from an HTTP request: each carries that request's id and the client's address,
    // whichever way the service got it (the caller's identity, or the request context handed down).
    expect(lifecycle.data.find((e) => e.action === "instance.restart")).toMatchObject({ requestId: "req-restart-1", actorId: userId });
    expect((await events(`objectType=service&objectId=${svc.body.service.id}`)).data[0]).toMatchObject({
      action: "admin.catalog.service.update",
      requestId: "req-service-2",
      actorId: admin.id,
      actorRole: "ADMIN",
    });
    const all = await events(`pageSize=100&from=${encodeURIComponent(started)}`);
    expect(all.page.total).toBeLessThanOrEqual(100);
    expect(new Set(all.data.map((e) => e.action))).toEqual(
      new Set([
        "auth.register",
        "auth.login.failed",
        "auth.login",
        "auth.refresh.reuse",
        "auth.password.change",
        "auth.logout",
        "admin.credits.grant",
        "admin.quota.set",
        "admin.catalog.service.create",
        "admin.catalog.service.update",
        "instance.create",
        "instance.restart",
        "instance.delete",
        "subscription.cancel",
        "admin.user.disable",
      ]),
    );
    for (const e of all.data) {
      expect(e.requestId, String(e.action)).toEqual(expect.any(String));
      expect(e.ip, String(e.action)).toEqual(expect.stringMatching(/127\.0\.0\.1/));
    }
  });

  it("holds no secret: passwords, tokens, refresh tokens, generated credentials", async () => {
    const rows = await ctx.container.db.prisma.auditEvent.findMany();
    const dump = JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    for (const s of secrets) expect(dump).not.toContain(s);
    expect(dump).not.toMatch(/"[A-Za-z]*(password|token|secret)[A-Za-z]*":/i); // no secret-looking keys
  });
});

describe("GET /api/admin/audit", () => {
  it("paginates newest first and filters by time", async () => {
    const page1 = await events("pageSize=2&page=1");
    const page2 = await events("pageSize=2&page=2");
    expect(page1.data).toHaveLength(2);
    expect(page1.page).toEqual({ page: 1, pageSize: 2, total: expect.any(Number), totalPages: Math.ceil(page1.page.total / 2) });
    expect(Number(page1.data[0]?.id)).toBeGreaterThan(Number(page2.data[0]?.id));
    const future = await events(`from=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`);
    expect(future.data).toEqual([]);
    const bad = await ctx.api.get("/api/admin/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z").set(admin.auth);
    expect(bad.status).toBe(400);
    expect((await ctx.api.get("/api/admin/audit?bogus=1").set(admin.auth)).status).toBe(400);
  });

  it("is for admins only", async () => {
    const u = await buildUser(ctx);
    expect((await ctx.api.get("/api/admin/audit").set(u.auth)).body).toEqual(errorShape("FORBIDDEN"));
    expect((await ctx.api.get("/api/admin/audit")).status).toBe(401);
  });

  it("is documented with its response schema", async () => {
    const doc = (await ctx.api.get("/openapi.json")).body;
    const op = doc.paths["/api/admin/audit"].get;
    const schema = op.responses["200"].content["application/json"].schema;
    expect(schema.properties.data.items.required).toEqual(
      expect.arrayContaining(["id", "createdAt", "actorId", "action", "objectType", "objectId", "ip", "details"]),
    );
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(["actorId", "objectType", "objectId", "action", "from", "to", "page", "pageSize"]),
    );
  });
});

describe("append-only in the database", () => {
  it("refuses UPDATE, DELETE and TRUNCATE", async () => {
    const prisma = ctx.container.db.prisma;
    const one = await prisma.auditEvent.findFirstOrThrow();
    await expect(prisma.$executeRaw`UPDATE "audit_events" SET "action" = 'forged' WHERE "id" = ${one.id}`).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRaw`DELETE FROM "audit_events" WHERE "id" = ${one.id}`).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRaw`TRUNCATE "audit_events"`).rejects.toThrow(/append-only/);
    // A session setting alone does not open the door to recent rows.
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT set_config('minispod.audit_prune_before', '2000-01-01T00:00:00Z', true)`;
        await tx.$executeRaw`DELETE FROM "audit_events" WHERE "id" = ${one.id}`;
      }),
    ).rejects.toThrow(/append-only/);
    expect((await prisma.auditEvent.findUniqueOrThrow({ where: { id: one.id } })).action).toBe(one.action);
  });

  it("retention: audit_events_prune deletes only rows older than the cutoff, never younger than a day", async () => {
    const prisma = ctx.container.db.prisma;
    // Rows "from the past" can only be inserted (inserts are allowed); pruning must remove exactly those.
    await prisma.auditEvent.create({
      data: { action: "test.old", objectType: "test", createdAt: new Date(Date.now() - 400 * 86_400_000) },
    });
    await prisma.auditEvent.create({
      data: { action: "test.recent", objectType: "test", createdAt: new Date(Date.now() - 2 * 86_400_000) },
    });
    const before = await prisma.auditEvent.count();
    const deleted = await ctx.container.services.audit.pruneOlderThan(new Date(Date.now() - 365 * 86_400_000));
    expect(deleted).toBe(1);
    expect(await prisma.auditEvent.count()).toBe(before - 1);
    expect(await prisma.auditEvent.count({ where: { action: "test.old" } })).toBe(0);
    // A cutoff in the future is bounded to a day ago: the recent rows and today's stay.
    await ctx.container.services.audit.pruneOlderThan(new Date(Date.now() + 86_400_000));
    expect(await prisma.auditEvent.count({ where: { action: "test.recent" } })).toBe(0);
    expect(await prisma.auditEvent.count({ where: { action: "auth.register" } })).toBeGreaterThan(0);
  });
});

/**
 * Session revocation (logout, password change, an admin disabling an account or changing its role)
 * across replicas, Cache-Control: no-store on responses carrying tokens or credentials, the
 * registration answer for an existing email and its rate limit, and the Idempotency-Key limits.
 */
import type { Express } from "express";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { Container } from "../../src/container.js";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser, uniqueEmail } from "../helpers/app.js";
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

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const revoked = () => errorShape("UNAUTHORIZED", { message: "Access token revoked; please log in again" });

/** Waits (bounded) until `app` refuses the token: the replica's own poll picked the revocation up. */
async function untilRefused(app: Express, token: string): Promise<number> {
  let status = 0;
  for (let i = 0; i < 50; i++) {
    status = (await supertest(app).get("/api/auth/me").set(bearer(token))).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}

describe("revocation in one process (also PGlite local mode)", () => {
  it("logout: the session's access token is refused at once; other sessions keep working", async () => {
    const u = await buildUser(ctx);
    const other = await ctx.api.post("/api/auth/login").send({ email: u.email, password: u.password });
    expect((await ctx.api.get("/api/auth/me").set(u.auth)).status).toBe(200);
    const out = await ctx.api.post("/api/auth/logout").send({ refreshToken: u.refreshToken });
    expect(out.status).toBe(204);
    const me = await ctx.api.get("/api/auth/me").set(u.auth);
    expect(me.status).toBe(401);
    expect(me.body).toEqual(revoked());
    expect((await ctx.api.get("/api/auth/me").set(bearer(other.body.accessToken))).status).toBe(200);
    expect((await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken })).status).toBe(401);
  });

  it("refresh-token reuse revokes the session's access tokens too", async () => {
    const u = await buildUser(ctx);
    const rotated = await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken });
    expect(rotated.status).toBe(200);
    expect((await ctx.api.get("/api/auth/me").set(bearer(rotated.body.accessToken))).status).toBe(200);
    const replay = await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken });
    expect(replay.status).toBe(401);
    expect((await ctx.api.get("/api/auth/me").set(bearer(rotated.body.accessToken))).body).toEqual(revoked());
  });

  it("POST /api/auth/password: wrong current password is 400 and changes nothing; right one revokes every session and returns a new one", async () => {
    const u = await buildUser(ctx);
    const second = await ctx.api.post("/api/auth/login").send({ email: u.email, password: u.password });
    const wrong = await ctx.api
      .post("/api/auth/password")
      .set(u.auth)
      .send({ currentPassword: "not it at all", newPassword: "new password 123" });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual(
      errorShape("VALIDATION_ERROR", {
        details: [{ path: "body.currentPassword", message: "is not the current password", code: "invalid_value" }],
      }),
    );
    expect((await ctx.api.get("/api/auth/me").set(u.auth)).status).toBe(200);

    const res = await ctx.api.post("/api/auth/password").set(u.auth).send({ currentPassword: u.password, newPassword: "new password 123" });
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toEqual({
      user: expect.objectContaining({ id: u.id }),
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
    });
    expect((await ctx.api.get("/api/auth/me").set(u.auth)).body).toEqual(revoked());
    expect((await ctx.api.get("/api/auth/me").set(bearer(second.body.accessToken))).body).toEqual(revoked());
    expect((await ctx.api.post("/api/auth/refresh").send({ refreshToken: second.body.refreshToken })).status).toBe(401);
    expect((await ctx.api.get("/api/auth/me").set(bearer(res.body.accessToken))).status).toBe(200);
    expect((await ctx.api.post("/api/auth/login").send({ email: u.email, password: u.password })).status).toBe(401);
    expect((await ctx.api.post("/api/auth/login").send({ email: u.email, password: "new password 123" })).status).toBe(200);
  });

  it("PATCH /api/admin/users/:id {disabled}: tokens refused, no login or refresh; enabling allows login again", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.patch(`/api/admin/users/${u.id}`).set(admin.auth).send({ disabled: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: {
        id: u.id,
        email: u.email,
        name: "Test User",
        role: "USER",
        creditBalance: 0,
        disabledAt: expect.stringMatching(/Z$/),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    });
    expect((await ctx.api.get("/api/auth/me").set(u.auth)).body).toEqual(revoked());
    const login = await ctx.api.post("/api/auth/login").send({ email: u.email, password: u.password });
    expect(login.status).toBe(401);
    expect(login.body).toEqual(errorShape("UNAUTHORIZED", { message: "This account is disabled" }));
    expect((await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken })).status).toBe(401);

    const enabled = await ctx.api.patch(`/api/admin/users/${u.id}`).set(admin.auth).send({ disabled: false });
    expect(enabled.body.user.disabledAt).toBeNull();
    expect((await ctx.api.post("/api/auth/login").send({ email: u.email, password: u.password })).status).toBe(200);
  });

  it("a role change revokes the user's sessions (tokens carry the role); an admin cannot change their own account", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.patch(`/api/admin/users/${u.id}`).set(admin.auth).send({ role: "ADMIN" });
    expect(res.status).toBe(200);
    expect(res.body.user.role).toBe("ADMIN");
    expect((await ctx.api.get("/api/auth/me").set(u.auth)).body).toEqual(revoked());
    const self = await ctx.api.patch(`/api/admin/users/${admin.id}`).set(admin.auth).send({ disabled: true });
    expect(self.status).toBe(409);
    expect(self.body).toEqual(errorShape("CONFLICT", { message: "An admin cannot disable or change the role of their own account" }));
    expect((await ctx.api.patch(`/api/admin/users/${u.id}`).set(admin.auth).send({})).status).toBe(400);
    expect(
      (
        await ctx.api
          .patch(`/api/admin/users/${u.id}`)
          .set((await buildUser(ctx)).auth)
          .send({ disabled: true })
      ).status,
    ).toBe(403);
    expect((await ctx.api.patch("/api/admin/users/nope").set(admin.auth).send({ disabled: true })).status).toBe(404);
  });
});

describe.skipIf(!usingPostgres)("revocation across replicas on real PostgreSQL (replicas need TEST_DATABASE_URL)", () => {
  let replica: Container;
  let replicaApp: Express;
  beforeAll(async () => {
    replica = await ctx.replica();
    replicaApp = createApp(replica);
  });

  it("logout on replica A: replica B refuses the access token after its poll, without a query per request", async () => {
    const u = await buildUser(ctx);
    expect((await supertest(replicaApp).get("/api/auth/me").set(u.auth)).status).toBe(200);
    expect((await ctx.api.post("/api/auth/logout").send({ refreshToken: u.refreshToken })).status).toBe(204);
    expect(await untilRefused(replicaApp, u.token)).toBe(401);
    expect((await supertest(replicaApp).get("/api/auth/me").set(u.auth)).body).toEqual(revoked());
  });

  it("a password change on B and an admin disabling on A reach the other replica", async () => {
    const u = await buildUser(ctx);
    const changed = await supertest(replicaApp)
      .post("/api/auth/password")
      .set(u.auth)
      .send({ currentPassword: u.password, newPassword: "changed on B 123" });
    expect(changed.status).toBe(200);
    expect(await untilRefused(ctx.app, u.token)).toBe(401);
    expect((await ctx.api.get("/api/auth/me").set(bearer(changed.body.accessToken))).status).toBe(200);

    expect((await ctx.api.patch(`/api/admin/users/${u.id}`).set(admin.auth).send({ disabled: true })).status).toBe(200);
    expect(await untilRefused(replicaApp, changed.body.accessToken)).toBe(401);
  });
});

describe("Cache-Control: no-store on every response carrying a token or a credential", () => {
  it("register, login, refresh, password change, logout and their errors", async () => {
    const email = uniqueEmail("nostore");
    const reg = await ctx.api.post("/api/auth/register").send({ email, password: "0123456789", name: "N" });
    expect(reg.status).toBe(201);
    expect(reg.headers["cache-control"]).toBe("no-store");
    const login = await ctx.api.post("/api/auth/login").send({ email, password: "0123456789" });
    expect(login.headers["cache-control"]).toBe("no-store");
    const refreshed = await ctx.api.post("/api/auth/refresh").send({ refreshToken: login.body.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers["cache-control"]).toBe("no-store");
    const bad = await ctx.api.post("/api/auth/login").send({ email, password: "wrong password" });
    expect(bad.status).toBe(401);
    expect(bad.headers["cache-control"]).toBe("no-store");
    expect((await ctx.api.post("/api/auth/logout").send({ refreshToken: refreshed.body.refreshToken })).headers["cache-control"]).toBe(
      "no-store",
    );
  });

  it("instance credentials", async () => {
    const u = await buildUser(ctx);
    await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 5000, reason: "t" });
    const plan = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "small", service: { slug: "postgresql" } } });
    const sub = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan.id, instanceName: "nostore" });
    expect(sub.status).toBe(201);
    await ctx.container.loops.reconciler.runUntilIdle();
    const creds = await ctx.api.get(`/api/instances/${sub.body.instance.id}/credentials`).set(u.auth);
    expect(creds.status).toBe(200);
    expect(creds.headers["cache-control"]).toBe("no-store");
  });
});

describe("registration and account enumeration", () => {
  it("an existing email is a 409 (documented trade-off), and registrations are rate-limited per IP", async () => {
    const limited = await createTestContext({ env: { REGISTER_RATE_LIMIT_PER_HOUR: "2" } });
    try {
      const email = uniqueEmail("enum");
      expect((await limited.api.post("/api/auth/register").send({ email, password: "0123456789", name: "A" })).status).toBe(201);
      const dup = await limited.api.post("/api/auth/register").send({ email, password: "0123456789", name: "B" });
      expect(dup.status).toBe(409);
      expect(dup.body).toEqual(errorShape("CONFLICT", { message: "An account with this email already exists" }));
      const third = await limited.api.post("/api/auth/register").send({ email: uniqueEmail("enum"), password: "0123456789", name: "C" });
      expect(third.status).toBe(429);
      expect(third.body).toEqual(errorShape("RATE_LIMITED", { message: "Too many registrations for this address; try again later" }));
    } finally {
      await limited.close();
    }
  });
});

describe("Idempotency-Key limits", () => {
  it("the document and the server agree: 255 printable ASCII characters", async () => {
    const doc = (await ctx.api.get("/openapi.json")).body;
    for (const [path, method] of [
      ["/api/subscriptions", "post"],
      ["/api/admin/users/{id}/credits", "post"],
    ] as const) {
      const header = doc.paths[path][method].parameters.find((p: { name: string }) => p.name === "Idempotency-Key");
      expect(header.schema).toMatchObject({ type: "string", minLength: 1, maxLength: 255 });
    }
    const u = await buildUser(ctx);
    const grant = (key: string) =>
      ctx.api.post(`/api/admin/users/${u.id}/credits`).set(admin.auth).set("Idempotency-Key", key).send({ amount: 1, reason: "limits" });
    expect((await grant("k".repeat(255))).status).toBe(201);
    const tooLong = await grant("k".repeat(256));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe("VALIDATION_ERROR");
  });
});

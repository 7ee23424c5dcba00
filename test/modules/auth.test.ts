import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUser, createTestContext, errorShape, TEST_ADMIN, TEST_JWT_SECRET, type TestContext, uniqueEmail } from "../helpers/app.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

const userShape = (email: string, name: string, role = "USER") => ({
  id: expect.any(String),
  email,
  name,
  role,
  createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
  updatedAt: expect.stringMatching(/Z$/),
});

describe("POST /api/auth/register", () => {
  it("creates a user with a lowercased email and returns tokens", async () => {
    const email = uniqueEmail("Reg");
    const res = await ctx.api.post("/api/auth/register").send({ email, password: "0123456789", name: "Reg" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      user: userShape(email.toLowerCase(), "Reg"),
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toContain("passwordHash");
    const claims = jwt.verify(res.body.accessToken, TEST_JWT_SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: res.body.user.id, role: "USER", iss: "minispod", aud: "minispod-api" });
  });

  it("rejects a duplicate email, case-insensitively, with 409", async () => {
    const email = uniqueEmail("dup");
    await ctx.api.post("/api/auth/register").send({ email, password: "0123456789", name: "A" }).expect(201);
    const res = await ctx.api.post("/api/auth/register").send({ email: email.toUpperCase(), password: "0123456789", name: "B" });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(errorShape("CONFLICT"));
    expect(await ctx.container.db.prisma.user.count({ where: { email: email.toLowerCase() } })).toBe(1);
  });

  it("rejects a short password with 400 and the reason, creating nothing", async () => {
    const email = uniqueEmail("short");
    const res = await ctx.api.post("/api/auth/register").send({ email, password: "123456789", name: "A" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      errorShape("VALIDATION_ERROR", {
        details: [{ path: "body.password", message: "must be at least 10 characters", code: "too_small" }],
      }),
    );
    expect(await ctx.container.db.prisma.user.count({ where: { email } })).toBe(0);
  });

  it("rejects unknown body keys", async () => {
    const res = await ctx.api.post("/api/auth/register").send({ email: uniqueEmail(), password: "0123456789", name: "A", role: "ADMIN" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_ERROR");
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: "body", code: "unrecognized_keys" })]);
  });

  it("answers malformed JSON with 400 VALIDATION_ERROR", async () => {
    const res = await ctx.api.post("/api/auth/register").set("content-type", "application/json").send('{"email": ');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorShape("VALIDATION_ERROR", { message: "Malformed JSON body" }));
  });
});

describe("login, me, refresh rotation, logout", () => {
  it("logs in with any casing of the email and reads /me", async () => {
    const u = await buildUser(ctx, { name: "Login" });
    const res = await ctx.api.post("/api/auth/login").send({ email: u.email.toUpperCase(), password: u.password });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: userShape(u.email, "Login"), accessToken: expect.any(String), refreshToken: expect.any(String) });
    const me = await ctx.api.get("/api/auth/me").set("Authorization", `Bearer ${res.body.accessToken}`);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: userShape(u.email, "Login") });
  });

  it("rejects a wrong password and an unknown email with the same 401", async () => {
    const u = await buildUser(ctx);
    const wrong = await ctx.api.post("/api/auth/login").send({ email: u.email, password: "not-the-password" });
    const unknown = await ctx.api.post("/api/auth/login").send({ email: uniqueEmail("ghost"), password: "whatever-123" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(errorShape("UNAUTHORIZED", { message: "Invalid email or password" }));
    expect(unknown.body.error.message).toBe(wrong.body.error.message);
  });

  it("401s without a token, with a bad token, with another algorithm, and with a wrong audience", async () => {
    expect((await ctx.api.get("/api/auth/me")).body).toEqual(errorShape("UNAUTHORIZED", { message: "Missing bearer token" }));
    expect((await ctx.api.get("/api/auth/me").set("Authorization", "Bearer nope")).status).toBe(401);
    const u = await buildUser(ctx);
    const none = jwt.sign({ role: "ADMIN" }, "", { algorithm: "none", subject: u.id, issuer: "minispod", audience: "minispod-api" });
    expect((await ctx.api.get("/api/auth/me").set("Authorization", `Bearer ${none}`)).status).toBe(401);
    const wrongAud = jwt.sign({ role: "USER" }, TEST_JWT_SECRET, {
      algorithm: "HS256",
      subject: u.id,
      issuer: "minispod",
      audience: "other",
    });
    expect((await ctx.api.get("/api/auth/me").set("Authorization", `Bearer ${wrongAud}`)).status).toBe(401);
  });

  it("rotates refresh tokens and revokes the family when a rotated token is reused", async () => {
    const u = await buildUser(ctx);
    const r1 = await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken });
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(r1.body.refreshToken).not.toBe(u.refreshToken);
    const r2 = await ctx.api.post("/api/auth/refresh").send({ refreshToken: r1.body.refreshToken });
    expect(r2.status).toBe(200);
    // Replay of the first (rotated) token: the whole family is revoked, including the newest token.
    const replay = await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken });
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual(errorShape("UNAUTHORIZED", { message: "Refresh token reuse detected; please log in again" }));
    const newest = await ctx.api.post("/api/auth/refresh").send({ refreshToken: r2.body.refreshToken });
    expect(newest.status).toBe(401);
    const rows = await ctx.container.db.prisma.refreshToken.findMany({ where: { userId: u.id } });
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
    expect(rows.every((r) => !Object.values(r).includes(u.refreshToken))).toBe(true);
  });

  it("lets only one of two concurrent refreshes with the same token win", async () => {
    const u = await buildUser(ctx);
    const results = await Promise.all([
      ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken }),
      ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it("logout revokes the session: 204, then the refresh token is refused", async () => {
    const u = await buildUser(ctx);
    const out = await ctx.api.post("/api/auth/logout").send({ refreshToken: u.refreshToken });
    expect(out.status).toBe(204);
    expect(out.text).toBe("");
    const r = await ctx.api.post("/api/auth/refresh").send({ refreshToken: u.refreshToken });
    expect(r.status).toBe(401);
  });

  it("has a first admin from ADMIN_EMAIL / ADMIN_PASSWORD", async () => {
    const res = await ctx.api.post("/api/auth/login").send(TEST_ADMIN);
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual(userShape(TEST_ADMIN.email, "Administrator", "ADMIN"));
  });
});

describe("login rate limiting", () => {
  it("answers 429 in the one error shape once an email exceeds its limit", async () => {
    const limited = await createTestContext({ env: { LOGIN_RATE_LIMIT_PER_MINUTE: "3" } });
    try {
      const u = await buildUser(limited);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await limited.api.post("/api/auth/login").send({ email: u.email, password: "wrong-password" })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      const res = await limited.api.post("/api/auth/login").send({ email: u.email, password: u.password });
      expect(res.status).toBe(429);
      expect(res.body).toEqual(errorShape("RATE_LIMITED"));
      // Another account from the same address is still allowed (per-IP limit is 3x higher).
      const other = await buildUser(limited);
      expect((await limited.api.post("/api/auth/login").send({ email: other.email, password: other.password })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

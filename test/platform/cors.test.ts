/**
 * CORS for browser dashboards: CORS_ORIGINS (none by default in production, the usual dev-server
 * origins in local mode), preflights, allowed and refused origins, and the exposed headers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, LOCAL_DEV_ORIGINS, loadConfig } from "../../src/config/index.js";
import { buildUser, createTestContext, errorShape, type TestContext } from "../helpers/app.js";

const DASHBOARD = "https://dash.example.com";

describe("CORS_ORIGINS", () => {
  const base = {
    DATABASE_URL: "postgresql://x@127.0.0.1/db",
    JWT_SECRET: "x".repeat(40),
    K8S_MODE: "cluster",
    CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
  };

  it("defaults to no origin in production and to the local dev-server origins otherwise", () => {
    expect(loadConfig({ ...base, NODE_ENV: "production" }).http.corsOrigins).toEqual([]);
    const local = loadConfig({ NODE_ENV: "development" }).http.corsOrigins;
    expect(local).toEqual(LOCAL_DEV_ORIGINS);
    expect(local).toEqual(
      expect.arrayContaining([
        "http://localhost:3000",
        "http://localhost:5173",
        "http://127.0.0.1:5173",
        "http://localhost:4200",
        "http://localhost:8080",
      ]),
    );
  });

  it("takes a comma-separated list, * or none", () => {
    expect(loadConfig({ ...base, NODE_ENV: "production", CORS_ORIGINS: `${DASHBOARD}, http://localhost:5173/` }).http.corsOrigins).toEqual([
      DASHBOARD,
      "http://localhost:5173",
    ]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).http.corsOrigins).toBe("*");
    expect(loadConfig({ CORS_ORIGINS: "none" }).http.corsOrigins).toEqual([]);
  });

  it("rejects what is not an origin, listing each", () => {
    let err: unknown;
    try {
      loadConfig({ CORS_ORIGINS: "https://ok.example.com,dash.example.com,https://x.example.com/app,ftp://f.example.com" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'CORS_ORIGINS: "dash.example.com" is not an origin (scheme://host[:port], no path), "*" or "none"',
      'CORS_ORIGINS: "https://x.example.com/app" is not an origin (scheme://host[:port], no path), "*" or "none"',
      'CORS_ORIGINS: "ftp://f.example.com" is not an origin (scheme://host[:port], no path), "*" or "none"',
    ]);
  });
});

describe("CORS on the API", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ env: { CORS_ORIGINS: `${DASHBOARD},http://localhost:5173` } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it("answers an allowed origin's preflight with 204 and the methods, headers and max-age", async () => {
    const res = await ctx.api
      .options("/api/subscriptions")
      .set("Origin", DASHBOARD)
      .set("Access-Control-Request-Method", "POST")
      .set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key");
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(res.headers["access-control-allow-origin"]).toBe(DASHBOARD);
    expect(res.headers["access-control-allow-methods"]).toBe("GET,HEAD,POST,PUT,PATCH,DELETE");
    expect(res.headers["access-control-allow-headers"]).toBe("Authorization,Content-Type,Idempotency-Key,X-Request-Id,Last-Event-ID");
    expect(res.headers["access-control-max-age"]).toBe("600");
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
    expect(res.headers.vary).toMatch(/Origin/);
  });

  it("lets an allowed origin read responses and the headers a dashboard needs", async () => {
    const u = await buildUser(ctx);
    const res = await ctx.api.get("/api/credits").set(u.auth).set("Origin", "http://localhost:5173").set("X-Request-Id", "dash-req-1");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ balance: 0 });
    expect(res.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
    expect(res.headers["access-control-expose-headers"]).toBe("X-Request-Id,Retry-After,Idempotent-Replayed,RateLimit,RateLimit-Policy");
    expect(res.headers["x-request-id"]).toBe("dash-req-1");
    expect(res.headers.vary).toMatch(/Origin/);
    // Errors carry the CORS headers too, so the dashboard can read the error body.
    const denied = await ctx.api.get("/api/credits").set("Origin", DASHBOARD);
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual(errorShape("UNAUTHORIZED"));
    expect(denied.headers["access-control-allow-origin"]).toBe(DASHBOARD);
  });

  it("refuses another origin's preflight with 403 and gives its requests no CORS headers", async () => {
    const pre = await ctx.api
      .options("/api/subscriptions")
      .set("Origin", "https://evil.example.com")
      .set("Access-Control-Request-Method", "POST");
    expect(pre.status).toBe(403);
    expect(pre.body).toEqual(
      errorShape("FORBIDDEN", { message: "Origin https://evil.example.com may not call this API from a browser; add it to CORS_ORIGINS" }),
    );
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
    // The dev-server defaults are replaced by CORS_ORIGINS.
    const dev = await ctx.api.options("/api/services").set("Origin", "http://localhost:3000").set("Access-Control-Request-Method", "GET");
    expect(dev.status).toBe(403);
    const simple = await ctx.api.get("/api/services").set("Origin", "https://evil.example.com");
    expect(simple.status).toBe(200);
    expect(simple.headers["access-control-allow-origin"]).toBeUndefined();
    expect(simple.headers["access-control-expose-headers"]).toBeUndefined();
    expect(simple.headers.vary).toMatch(/Origin/);
  });

  it("leaves requests without an Origin (curl, servers, same-origin GETs) alone", async () => {
    const res = await ctx.api.get("/api/services");
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("CORS with no origins configured", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ env: { CORS_ORIGINS: "none" } });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it("refuses every cross-origin preflight, the dev-server ones included", async () => {
    const res = await ctx.api.options("/api/services").set("Origin", "http://localhost:5173").set("Access-Control-Request-Method", "GET");
    expect(res.status).toBe(403);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

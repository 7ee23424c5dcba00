/**
 * Malformed client input is a 400 in the one error shape, never a 5xx, and it is logged at warn
 * without a stack (an anonymous client must not be able to flood the logs with error stacks):
 * NUL characters anywhere (path, query, body), malformed percent-encoding in a path parameter,
 * and a body whose Content-Encoding does not match its bytes.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { REDACT_PATHS } from "../../src/platform/logger.js";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let user: TestUser;
let lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[REDACTED]" } }, sink);
  ctx = await createTestContext({ overrides: { logger } });
  user = await buildUser(ctx);
});
afterAll(async () => {
  await ctx.close();
});
beforeEach(() => {
  lines = [];
});

function logEntries(): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** No entry at error level, no stack anywhere, and the request logged at warn. */
function expectQuietWarn(): void {
  const entries = logEntries();
  expect(entries.filter((e) => (e.level as number) >= 50)).toEqual([]);
  expect(lines.join("")).not.toContain('"stack"');
  expect(entries.some((e) => e.level === 40 && (e.res as { statusCode?: number } | undefined)?.statusCode === 400)).toBe(true);
}

/** The one error shape with VALIDATION_ERROR (details optional), and nothing else in the body. */
const validation = () => ({
  error: expect.toSatisfy(
    (e: Record<string, unknown>) =>
      e.code === "VALIDATION_ERROR" &&
      typeof e.message === "string" &&
      typeof e.requestId === "string" &&
      Object.keys(e).every((k) => ["code", "message", "details", "requestId"].includes(k)),
  ),
});

/** A raw POST (supertest would JSON-encode a Buffer sent with a JSON content type). */
async function rawPost(path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: unknown }> {
  const server = ctx.app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, method: "POST", path, headers: { ...headers, "content-length": String(body.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  } finally {
    server.close();
  }
}

describe("NUL characters", () => {
  it("in a path parameter (anonymous): 400", async () => {
    const res = await ctx.api.get("/api/services/%00");
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
    expectQuietWarn();
  });

  it("in an authenticated path parameter: 400", async () => {
    const res = await ctx.api.get("/api/instances/ab%00cd").set(user.auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
    expectQuietWarn();
  });

  it("in a register body field: 400, and no account is created", async () => {
    const res = await ctx.api
      .post("/api/auth/register")
      .send({ email: "nul@example.com", password: "long enough password", name: "a\u0000b" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
    expect(await ctx.container.db.prisma.user.count({ where: { email: "nul@example.com" } })).toBe(0);
    expectQuietWarn();
  });

  it("in a login email: 400", async () => {
    const res = await ctx.api.post("/api/auth/login").send({ email: "a\u0000@example.com", password: "x" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
  });

  it("in a query filter: 400", async () => {
    const res = await ctx.api.get("/api/instances?service=n8n%00").set(user.auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
    expectQuietWarn();
  });

  it("in an object key of the body: 400", async () => {
    const res = await ctx.api.post("/api/auth/refresh").send({ "refresh\u0000Token": "x" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
  });

  it("in a refresh token: 400", async () => {
    const res = await ctx.api.post("/api/auth/refresh").send({ refreshToken: "\u0000" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
  });
});

describe("malformed percent-encoding in a path parameter", () => {
  for (const bad of ["%", "%E0%A4%A", "%FF", "abc%zz"]) {
    it(`GET /api/services/${bad}: 400`, async () => {
      const res = await ctx.api.get(`/api/services/${bad}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(validation());
      expectQuietWarn();
    });
  }

  it("authenticated DELETE /api/instances/%FF: 400", async () => {
    const res = await ctx.api.delete("/api/instances/%FF").set(user.auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
  });
});

describe("compressed bodies", () => {
  it("Content-Encoding: gzip with bytes that are not gzip: 400", async () => {
    const res = await rawPost(
      "/api/auth/login",
      { "content-type": "application/json", "content-encoding": "gzip" },
      Buffer.from('{"email":"a@example.com","password":"x"}'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
    expectQuietWarn();
  });

  it("truncated gzip: 400", async () => {
    const gz = gzipSync(Buffer.from(JSON.stringify({ email: "a@example.com", password: "x" })));
    const res = await rawPost(
      "/api/auth/login",
      { "content-type": "application/json", "content-encoding": "gzip" },
      gz.subarray(0, gz.length - 6),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(validation());
  });

  it("an unknown Content-Encoding: 415 in the error shape", async () => {
    const res = await rawPost(
      "/api/auth/login",
      { "content-type": "application/json", "content-encoding": "zstd-nonsense" },
      Buffer.from("{}"),
    );
    expect(res.status).toBe(415);
    expect(res.body).toEqual(errorShape("UNSUPPORTED_MEDIA_TYPE"));
  });

  it("valid gzip still works", async () => {
    const gz = gzipSync(Buffer.from(JSON.stringify({ email: user.email, password: user.password })));
    const res = await rawPost("/api/auth/login", { "content-type": "application/json", "content-encoding": "gzip" }, gz);
    expect(res.status).toBe(200);
    expect((res.body as { user: { id: string } }).user.id).toBe(user.id);
  });
});

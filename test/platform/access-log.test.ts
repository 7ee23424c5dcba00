/**
 * The access log (src/platform/http/access-log.ts): one line per request with the request id, method,
 * URL (stream tickets redacted), route pattern, client address, status and duration; warn for a 4xx,
 * error for a 5xx; probes not logged; every request gets an id, echoed as X-Request-Id.
 */
import { Writable } from "node:stream";
import express from "express";
import { pino } from "pino";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { accessLog } from "../../src/platform/http/access-log.js";
import { listAppRoutes, routePatternMatcher } from "../../src/platform/http/routes.js";

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const logger = pino({ level: "info", base: null, timestamp: false }, sink);
  const app = express();
  let routeOf: ReturnType<typeof routePatternMatcher> | undefined;
  app.use(
    accessLog({
      logger,
      ignore: (req) => req.url === "/healthz",
      routeOf: (method, path) => {
        routeOf ??= routePatternMatcher(listAppRoutes(app));
        return routeOf(method, path);
      },
    }),
  );
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/ok", (req, res) => {
    res.json({ id: req.id });
  });
  app.get("/items/:id", (req, res) => {
    res.json({ id: req.params.id });
  });
  app.get("/missing", (_req, res) => {
    res.status(404).json({});
  });
  app.get("/broken", (_req, res) => {
    res.status(500).json({});
  });
  return { app, lines };
}

describe("access log", () => {
  it("logs each request once with id, method, redacted URL, address, status and duration", async () => {
    const { app, lines } = setup();
    const res = await request(app).get("/ok?a=1&ticket=secret-ticket&b=2").set("X-Request-Id", "client-id-1");
    expect(res.status).toBe(200);
    expect(res.headers["x-request-id"]).toBe("client-id-1");
    expect(res.body).toEqual({ id: "client-id-1" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual({
      level: 30,
      req: { id: "client-id-1", method: "GET", url: "/ok?a=1&ticket=[redacted]&b=2", route: "/ok", remoteAddress: expect.any(String) },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
      msg: "request completed",
    });
  });

  it("logs the matched route pattern, never the ids in the path; 'unmatched' where no route matches", async () => {
    const { app, lines } = setup();
    expect((await request(app).get("/items/42?expand=1")).status).toBe(200);
    expect((await request(app).get("/items/43/")).status).toBe(200);
    expect((await request(app).get("/no/such/path")).status).toBe(404);
    expect(lines.map((l) => [(l.req as { url: string }).url, (l.req as { route: string }).route, l.msg])).toEqual([
      ["/items/42?expand=1", "/items/:id", "request completed"],
      ["/items/43/", "/items/:id", "request completed"],
      ["/no/such/path", "unmatched", "request completed"],
    ]);
  });

  it("generates an id for a missing or malformed X-Request-Id", async () => {
    const { app, lines } = setup();
    const a = await request(app).get("/ok");
    const b = await request(app).get("/ok").set("X-Request-Id", "bad id with spaces");
    for (const r of [a, b]) expect(r.headers["x-request-id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
    expect(lines.map((l) => (l.req as { id: string }).id)).toEqual([a.headers["x-request-id"], b.headers["x-request-id"]]);
  });

  it("warns for a 4xx, errors for a 5xx, and leaves probes out", async () => {
    const { app, lines } = setup();
    await request(app).get("/healthz");
    expect((await request(app).get("/healthz")).headers["x-request-id"]).toEqual(expect.any(String));
    await request(app).get("/missing");
    await request(app).get("/broken");
    expect(lines.map((l) => [l.level, (l.res as { statusCode: number }).statusCode, l.msg])).toEqual([
      [40, 404, "request completed"],
      [50, 500, "request errored"],
    ]);
    expect(lines[1]?.err).toMatchObject({ message: "failed with status code 500" });
  });
});

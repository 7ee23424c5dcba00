/**
 * GET /readyz: ready means the database answered within READY_DB_TIMEOUT_MS (one try). The cluster is
 * reported from the last Kubernetes call's outcome and never makes the replica unready. The body
 * (unauthenticated) carries states and times only: no addresses, no error texts.
 */
import type { Express } from "express";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { buildContainer, type Container } from "../../src/container.js";
import { KINDS } from "../../src/kube/client.js";
import { ManualClock } from "../../src/platform/clock.js";
import { ClusterContact, pingWithin } from "../../src/platform/readiness.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { testConfig } from "../helpers/app.js";

const T0 = "2026-11-30T12:00:00.000Z";
const clock = new ManualClock(T0);
let testDb: TestDatabase;
let container: Container;
let app: Express;
/** What the container's database ping does (the real one unless a test replaces it). */
let ping: () => Promise<void>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  const realPing = testDb.db.ping;
  ping = realPing;
  container = await buildContainer(testConfig({ K8S_REQUEST_TIMEOUT: "1s" }), {
    db: { ...testDb.db, ping: () => ping() },
    clock,
  });
  app = createApp(container);
});
afterAll(async () => {
  await container.close();
  await testDb.drop();
});

describe("GET /readyz", () => {
  it("ready, cluster unknown before any Kubernetes call", async () => {
    const res = await supertest(app).get("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ready", checks: { database: { ok: true }, cluster: { status: "unknown", lastContactAt: null } } });
  });

  it("reports the cluster from the last call: an answer (even a 404) is contact; a refused connection is not, and stays ready", async () => {
    await container.kube.client.ping();
    clock.set("2026-11-30T12:01:00.000Z");
    expect(await container.kube.client.find({ ...KINDS.ConfigMap, namespace: "default", name: "no-such-map" })).toBeUndefined();
    clock.set("2026-11-30T12:02:00.000Z");
    let res = await supertest(app).get("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: "ready",
      checks: { database: { ok: true }, cluster: { status: "reachable", lastContactAt: "2026-11-30T12:01:00.000Z" } },
    });

    const emulator = container.kube.emulator;
    if (!emulator) throw new Error("the test container runs the emulator");
    await emulator.faults.outage("refuse");
    try {
      await expect(container.kube.client.ping()).rejects.toThrow();
      res = await supertest(app).get("/readyz");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: "ready",
        checks: { database: { ok: true }, cluster: { status: "unreachable", lastContactAt: "2026-11-30T12:01:00.000Z" } },
      });
      expect(res.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await emulator.faults.restore();
    }
  });

  it("a failing database makes the replica unready, without the error's text or address in the body", async () => {
    const before = (await supertest(app).get("/readyz")).body.checks.cluster;
    ping = () => Promise.reject(new Error("connect ECONNREFUSED 10.1.2.3:5432 (password authentication failed for user minispod)"));
    try {
      const res = await supertest(app).get("/readyz");
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        error: {
          code: "DEPENDENCY_UNAVAILABLE",
          message: "Not ready: the database did not answer",
          details: { checks: { database: { ok: false }, cluster: before } },
          requestId: res.headers["x-request-id"],
        },
      });
      expect(res.text).not.toMatch(/10\.1\.2\.3|ECONNREFUSED|password|minispod/);
    } finally {
      ping = testDb.db.ping;
    }
  });

  it("a database that does not answer is given one bounded try (no hanging probe)", async () => {
    let calls = 0;
    ping = () => {
      calls += 1;
      return new Promise<void>(() => {});
    };
    try {
      const res = await supertest(app).get("/readyz");
      expect(res.status).toBe(503);
      expect(res.body.error.details.checks.database).toEqual({ ok: false });
      expect(calls).toBe(1);
    } finally {
      ping = testDb.db.ping;
    }
    expect((await supertest(app).get("/readyz")).status).toBe(200);
  });
  it("is documented in the OpenAPI document: the 200 body's schema, and the 503 in the one error shape", async () => {
    const doc = (await supertest(app).get("/openapi.json")).body;
    const op = doc.paths["/readyz"].get;
    expect(op.security).toEqual([]);
    // 400 is documented on every route: any URL can be malformed (NUL, bad percent-encoding).
    expect(Object.keys(op.responses)).toEqual(["200", "400", "500", "503"]);
    expect(op.responses["503"]).toEqual({ $ref: "#/components/responses/E503" });
    const schema = op.responses["200"].content["application/json"].schema;
    expect(schema.required).toEqual(["status", "checks"]);
    expect(schema.properties.status).toEqual({ type: "string", const: "ready" });
    expect(schema.properties.checks.properties.database.properties.ok.type).toBe("boolean");
    expect(schema.properties.checks.properties.cluster.properties.status.enum).toEqual(["reachable", "unreachable", "unknown"]);
    expect(schema.properties.checks.properties.cluster.properties.lastContactAt.anyOf).toEqual([
      { type: "string", format: "date-time", pattern: expect.any(String) },
      { type: "null" },
    ]);
  });
});

describe("ClusterContact and pingWithin", () => {
  it("a 5xx is no contact; a 4xx is", () => {
    const c = new ClusterContact(new ManualClock(T0));
    c.record({ ok: false, statusCode: 503 });
    expect(c.state()).toEqual({ status: "unreachable", lastContactAt: null });
    c.record({ ok: false, statusCode: 409 });
    expect(c.state()).toEqual({ status: "reachable", lastContactAt: T0 });
    c.record({ ok: false });
    expect(c.state()).toEqual({ status: "unreachable", lastContactAt: T0 });
  });

  it("pingWithin: answers, failures and timeouts, each once", async () => {
    expect(await pingWithin(async () => {}, 50)).toEqual({ ok: true });
    const boom = new Error("boom");
    expect(await pingWithin(() => Promise.reject(boom), 50)).toEqual({ ok: false, error: boom });
    const late = await pingWithin(() => new Promise<void>(() => {}), 20);
    expect(late.ok).toBe(false);
    expect(late.ok === false && (late.error as Error).message).toBe("no answer within 20 ms");
  });
});

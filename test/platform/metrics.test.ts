/**
 * GET /metrics: after real requests and a real provisioning (API -> reconciler -> emulator), the
 * scrape has the exact series: request durations by route pattern (never raw ids) and status,
 * instances by status and health from the database, provisioning duration, reconciler errors,
 * sweep duration and cluster API calls by verb and result. Each app has its own registry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../src/platform/metrics.js";
import { buildUser, createTestContext, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let u: TestUser;
let instanceId: string;

/** `name{labels} value` lines of one metric family, as {labels: value}. */
function series(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out[m[2] ?? "{}"] = Number(m[3]);
  }
  return out;
}

beforeAll(async () => {
  ctx = await createTestContext();
  u = await buildUser(ctx);
  await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 5000, reason: "test" });
  const plan = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } });
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan.id, instanceName: "metrics" });
  expect(res.status).toBe(201);
  instanceId = res.body.instance.id;
  await ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 20_000 });
  await ctx.api.get(`/api/instances/${instanceId}`).set(u.auth).expect(200);
  await ctx.api.get("/api/instances/no-such-instance").set(u.auth).expect(404);
  await ctx.api.get("/api/instances/whatever").expect(401);
  await ctx.api.get("/no/such/route/123").expect(404);
});
afterAll(async () => {
  await ctx?.close();
});

describe("GET /metrics", () => {
  let text: string;
  beforeAll(async () => {
    const res = await ctx.api.get("/metrics").expect(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    text = res.text;
  });

  it("observes request durations by method, route pattern and status — never raw ids", () => {
    const counts = series(text, "minispod_http_request_duration_seconds_count");
    expect(counts).toMatchObject({
      '{method="POST",route="/api/subscriptions",status="201"}': 1,
      '{method="GET",route="/api/instances/:id",status="200"}': 1,
      '{method="GET",route="/api/instances/:id",status="404"}': 1,
      '{method="GET",route="/api/instances/:id",status="401"}': 1,
      '{method="GET",route="unmatched",status="404"}': 1,
    });
    expect(Object.keys(counts).filter((k) => k.includes(instanceId) || k.includes("no-such") || k.includes("123"))).toEqual([]);
    expect(text).toContain("# TYPE minispod_http_request_duration_seconds histogram");
  });

  it("counts instances by status and by health from the database", () => {
    expect(series(text, "minispod_instances_by_status")).toEqual({
      '{status="PENDING"}': 0,
      '{status="PROVISIONING"}': 0,
      '{status="RUNNING"}': 1,
      '{status="UPDATING"}': 0,
      '{status="RESTARTING"}': 0,
      '{status="SUSPENDED"}': 0,
      '{status="STOPPED"}': 0,
      '{status="RESTORING"}': 0,
      '{status="UPGRADING"}': 0,
      '{status="FAILED"}': 0,
      '{status="TERMINATING"}': 0,
      '{status="TERMINATED"}': 0,
    });
    // No sweep has run: the RUNNING instance's first observation came from its rollout.
    expect(series(text, "minispod_instances_by_health")).toEqual({
      '{health="HEALTHY"}': 1,
      '{health="DEGRADED"}': 0,
      '{health="UNHEALTHY"}': 0,
      '{health="UNKNOWN"}': 0,
    });
  });

  it("observes the provisioning duration once, when the instance first reached RUNNING", () => {
    expect(series(text, "minispod_provisioning_duration_seconds_count")).toEqual({ '{service="n8n"}': 1 });
    expect(series(text, "minispod_provisioning_duration_seconds_bucket")['{le="+Inf",service="n8n"}']).toBe(1);
  });

  it("counts cluster API calls by verb, resource and result", () => {
    const calls = series(text, "minispod_kube_api_calls_total");
    expect(calls['{verb="apply",resource="Namespace",result="ok"}']).toBe(1);
    expect(calls['{verb="apply",resource="Deployment",result="ok"}']).toBe(1);
    expect(calls['{verb="get",resource="Deployment",result="ok"}']).toBeGreaterThanOrEqual(1);
    // Credentials come from the database: the Secret is applied, never read.
    expect(calls['{verb="apply",resource="Secret",result="ok"}']).toBe(1);
    expect(Object.keys(calls).filter((k) => k.startsWith('{verb="get",resource="Secret"'))).toEqual([]);
    expect(Object.keys(calls).every((k) => /^\{verb="[a-z]+",resource="[A-Za-z]+",result="(ok|error)"\}$/.test(k))).toBe(true);
  });

  it("declares the reconciler error counter and the sweep histogram", async () => {
    expect(text).toContain("# TYPE minispod_reconciler_errors_total counter");
    expect(text).toContain("# TYPE minispod_health_sweep_duration_seconds histogram");
    ctx.container.metrics.reconcileError("transient");
    ctx.container.metrics.observeSweep(1500, true);
    ctx.container.metrics.observeSweep(20, false);
    const again = (await ctx.api.get("/metrics").expect(200)).text;
    expect(series(again, "minispod_reconciler_errors_total")).toEqual({ '{kind="transient"}': 1 });
    expect(series(again, "minispod_health_sweep_duration_seconds_count")).toEqual({ '{result="ok"}': 1, '{result="error"}': 1 });
    expect(series(again, "minispod_health_sweep_duration_seconds_sum")['{result="ok"}']).toBe(1.5);
  });

  it("counts the database's hot-path statements and the writes that carried them (PostgreSQL), or none (PGlite)", async () => {
    const reads = () => series(text, "minispod_db_reads_total")["{}"];
    const writes = () => series(text, "minispod_db_read_writes_total")["{}"];
    if (ctx.container.db.kind === "pglite") {
      expect([reads(), writes()]).toEqual([0, 0]);
      return;
    }
    // The instance read above went through Database.read; background loops may add more of their own.
    expect(reads()).toBeGreaterThanOrEqual(1);
    expect(writes()).toBeGreaterThanOrEqual(1);
    expect(writes()).toBeLessThanOrEqual(reads());
    const before = reads();
    await ctx.api.get("/api/credits").set(u.auth).expect(200);
    const after = (await ctx.api.get("/metrics").expect(200)).text;
    expect(series(after, "minispod_db_reads_total")["{}"]).toBeGreaterThanOrEqual(before + 1);
  });

  it("exposes Node.js process metrics on the same registry", () => {
    expect(text).toMatch(/^minispod_process_resident_memory_bytes \d+/m);
  });
});

describe("Metrics", () => {
  it("keeps a registry per instance, so two apps in one process do not collide", async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.reconcileError("permanent");
    expect(series(await a.text(), "minispod_reconciler_errors_total")).toEqual({ '{kind="permanent"}': 1 });
    expect(series(await b.text(), "minispod_reconciler_errors_total")).toEqual({});
  });

  it("copies the database's read counts at scrape time", async () => {
    let counts: { reads: number; writes: number } | undefined = { reads: 7, writes: 3 };
    const m = new Metrics({ processMetrics: false, readCounts: () => counts });
    expect(series(await m.text(), "minispod_db_reads_total")).toEqual({ "{}": 7 });
    expect(series(await m.text(), "minispod_db_read_writes_total")).toEqual({ "{}": 3 });
    counts = { reads: 12, writes: 4 };
    const text = await m.text();
    expect([series(text, "minispod_db_reads_total"), series(text, "minispod_db_read_writes_total")]).toEqual([{ "{}": 12 }, { "{}": 4 }]);
    counts = undefined;
    expect(series(await m.text(), "minispod_db_reads_total")).toEqual({ "{}": 0 });
    // Without the option there is no such series.
    expect(series(await new Metrics({ processMetrics: false }).text(), "minispod_db_reads_total")).toEqual({});
  });

  it("reads instance counts once per scrape for both gauges", async () => {
    let queries = 0;
    const m = new Metrics({
      processMetrics: false,
      countInstances: async () => {
        queries++;
        return [
          { status: "RUNNING", health: "HEALTHY", count: 3 },
          { status: "RUNNING", health: "DEGRADED", count: 1 },
          { status: "TERMINATED", health: "UNKNOWN", count: 7 },
        ];
      },
    });
    const text = await m.text();
    expect(queries).toBe(1);
    expect(series(text, "minispod_instances_by_status")['{status="RUNNING"}']).toBe(4);
    expect(series(text, "minispod_instances_by_status")['{status="TERMINATED"}']).toBe(7);
    expect(series(text, "minispod_instances_by_health")).toEqual({
      '{health="HEALTHY"}': 3,
      '{health="DEGRADED"}': 1,
      '{health="UNHEALTHY"}': 0,
      '{health="UNKNOWN"}': 0,
    });
  });
});

describe("METRICS_TOKEN", () => {
  it("when configured, a scrape without the bearer token gets 401 and one with it gets the metrics", async () => {
    const guarded = await createTestContext({ env: { METRICS_TOKEN: "scrape-token-0123456789" } });
    try {
      const none = await guarded.api.get("/metrics");
      expect(none.status).toBe(401);
      expect(none.body).toEqual({
        error: { code: "UNAUTHORIZED", message: "Metrics require the configured bearer token", requestId: expect.any(String) },
      });
      expect((await guarded.api.get("/metrics").set("Authorization", "Bearer wrong-token-0123456789")).status).toBe(401);
      const ok = await guarded.api.get("/metrics").set("Authorization", "Bearer scrape-token-0123456789");
      expect(ok.status).toBe(200);
      expect(ok.text).toContain("minispod_http_request_duration_seconds");
    } finally {
      await guarded.close();
    }
  });
});

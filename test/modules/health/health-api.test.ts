/**
 * The admin health API: authn/authz, exact bodies, validation of ranges, and statistics computed
 * over seeded history with known values (so every number below is checked by hand).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedHealthFleet } from "../../../bench/lib/health-fleet.js";
import { ManualClock } from "../../../src/platform/clock.js";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../../helpers/app.js";

const NOW = "2026-03-01T12:00:00.000Z";
let ctx: TestContext;
let admin: TestUser;
let user: TestUser;
let x: string;
let y: string;

beforeAll(async () => {
  ctx = await createTestContext({ clock: new ManualClock(NOW) });
  admin = await buildAdmin(ctx);
  user = await buildUser(ctx);
  const emulator = ctx.container.kube.emulator;
  if (!emulator) throw new Error("tests run against the emulator");
  const fleet = await seedHealthFleet(ctx.container.db.prisma, emulator, 2, { prefix: "api-" });
  [x, y] = fleet.instanceIds as [string, string];

  const at = (hms: string) => new Date(`2026-03-01T${hms}Z`);
  const rows: Array<[string, string, "HEALTHY" | "DEGRADED" | "UNHEALTHY" | "UNKNOWN", number | null, number | null]> = [
    [x, "11:01:00", "HEALTHY", 100, 200],
    [x, "11:02:00", "UNHEALTHY", null, null], // incident (after HEALTHY)
    [x, "11:07:00", "UNHEALTHY", null, null],
    [x, "11:08:00", "UNKNOWN", null, null],
    [x, "11:09:00", "UNHEALTHY", null, null], // not an incident: the previous *known* check was UNHEALTHY
    [x, "11:20:00", "DEGRADED", 300, 400],
    [y, "10:30:00", "UNHEALTHY", null, null], // before the range
    [y, "11:03:00", "UNHEALTHY", null, null], // not an incident: UNHEALTHY since before the range
    [y, "11:04:00", "HEALTHY", 50, 100],
    [y, "11:59:59.999", "UNHEALTHY", null, null], // incident, in the last bucket
    [y, "12:00:00", "HEALTHY", 10, 10], // `to` is exclusive
  ];
  await ctx.container.db.prisma.healthCheck.createMany({
    data: rows.map(([instanceId, hms, status, cpuMilli, memoryMb]) => ({
      instanceId,
      status,
      cpuMilli,
      memoryMb,
      podPhase: status === "UNKNOWN" ? null : "Running",
      readyReplicas: status === "HEALTHY" || status === "DEGRADED" ? 1 : 0,
      desiredReplicas: 1,
      restartCount: status === "DEGRADED" ? 2 : 0,
      reason: `seeded ${status}`,
      checkedAt: at(hms),
    })),
  });
});
afterAll(async () => {
  await ctx?.close();
});

const ENDPOINTS = [
  ["get", "/api/admin/health/summary"],
  ["post", "/api/admin/health/check"],
  ["get", "/api/admin/health/instances/whatever"],
  ["get", "/api/admin/health/stats?range=1h"],
] as const;

describe("access", () => {
  it.each(ENDPOINTS)("%s %s: 401 without a token, 403 for a user", async (method, path) => {
    const anon = await ctx.api[method](path);
    expect(anon.status).toBe(401);
    expect(anon.body).toEqual(errorShape("UNAUTHORIZED"));
    const res = await ctx.api[method](path).set(user.auth).send({});
    expect(res.status).toBe(403);
    expect(res.body).toEqual(errorShape("FORBIDDEN"));
  });
});

const empty = {
  checks: 0,
  healthy: 0,
  degraded: 0,
  unhealthy: 0,
  unknown: 0,
  uptimePercent: null,
  avgCpuMilli: null,
  peakCpuMilli: null,
  avgMemoryMb: null,
  peakMemoryMb: null,
  incidents: 0,
};

describe("GET /api/admin/health/stats", () => {
  it("range=1h: 12 five-minute buckets with exact counts, uptime, usage and incidents", async () => {
    const res = await ctx.api.get("/api/admin/health/stats?range=1h").set(admin.auth);
    expect(res.status).toBe(200);
    const { stats } = res.body;
    expect(stats.from).toBe("2026-03-01T11:00:00.000Z");
    expect(stats.to).toBe(NOW);
    expect(stats.bucketSeconds).toBe(300);
    expect(stats.totals).toEqual({
      checks: 9,
      healthy: 2,
      degraded: 1,
      unhealthy: 5,
      unknown: 1,
      uptimePercent: 37.5,
      avgCpuMilli: 150,
      peakCpuMilli: 300,
      avgMemoryMb: 233.33,
      peakMemoryMb: 400,
      incidents: 2,
    });
    expect(stats.buckets).toHaveLength(12);
    const b = (i: number) => {
      const start = new Date(Date.parse("2026-03-01T11:00:00Z") + i * 300_000);
      return { start: start.toISOString(), end: new Date(start.getTime() + 300_000).toISOString() };
    };
    expect(stats.buckets[0]).toEqual({
      ...b(0),
      checks: 4,
      healthy: 2,
      degraded: 0,
      unhealthy: 2,
      unknown: 0,
      uptimePercent: 50,
      avgCpuMilli: 75,
      peakCpuMilli: 100,
      avgMemoryMb: 150,
      peakMemoryMb: 200,
      incidents: 1,
    });
    expect(stats.buckets[1]).toEqual({ ...b(1), ...empty, checks: 3, unhealthy: 2, unknown: 1, uptimePercent: 0 });
    expect(stats.buckets[2]).toEqual({ ...b(2), ...empty });
    expect(stats.buckets[4]).toEqual({
      ...b(4),
      ...empty,
      checks: 1,
      degraded: 1,
      uptimePercent: 100,
      avgCpuMilli: 300,
      peakCpuMilli: 300,
      avgMemoryMb: 400,
      peakMemoryMb: 400,
    });
    expect(stats.buckets[11]).toEqual({ ...b(11), ...empty, checks: 1, unhealthy: 1, uptimePercent: 0, incidents: 1 });
  });

  it("from/to: buckets sized to the span (10 minutes -> 1-minute buckets)", async () => {
    const res = await ctx.api.get("/api/admin/health/stats?from=2026-03-01T11:00:00Z&to=2026-03-01T11:10:00Z").set(admin.auth);
    expect(res.status).toBe(200);
    expect(res.body.stats).toMatchObject({ from: "2026-03-01T11:00:00.000Z", to: "2026-03-01T11:10:00.000Z", bucketSeconds: 60 });
    expect(res.body.stats.buckets).toHaveLength(10);
    expect(res.body.stats.totals).toMatchObject({ checks: 7, healthy: 2, unhealthy: 4, unknown: 1, incidents: 1, uptimePercent: 33.33 });
  });

  it("24h, 7d and 30d have 24, 28 and 30 buckets; no range means 24h", async () => {
    for (const [q, n, w] of [
      ["?range=24h", 24, 3600],
      ["?range=7d", 28, 21_600],
      ["?range=30d", 30, 86_400],
      ["", 24, 3600],
    ] as const) {
      const res = await ctx.api.get(`/api/admin/health/stats${q}`).set(admin.auth);
      expect(res.status, q).toBe(200);
      expect(res.body.stats.buckets, q).toHaveLength(n);
      expect(res.body.stats.bucketSeconds, q).toBe(w);
      expect(res.body.stats.totals.checks, q).toBe(10); // everything seeded except 12:00 (to is exclusive)
    }
  });

  it.each([
    ["range=2h", "query.range"],
    ["range=1h&from=2026-03-01T11:00:00Z&to=2026-03-01T12:00:00Z", "query.range"],
    ["from=2026-03-01T12:00:00Z&to=2026-03-01T11:00:00Z", "query.from"],
    ["from=2026-03-01T12:00:00Z&to=2026-03-01T12:00:00Z", "query.from"],
    ["from=2026-01-01T00:00:00Z&to=2026-02-02T00:00:01Z", "query.to"],
    ["from=2026-03-01T11:00:00Z", "query.to"],
    ["from=yesterday&to=2026-03-01T11:00:00Z", "query.from"],
    ["range=1h&bucket=5m", "query"],
  ])("400 for %s", async (q, path) => {
    const res = await ctx.api.get(`/api/admin/health/stats?${q}`).set(admin.auth);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorShape("VALIDATION_ERROR", { details: expect.arrayContaining([expect.objectContaining({ path })]) }));
  });
});

describe("GET /api/admin/health/instances/:id", () => {
  it("latest plus recent history, newest first", async () => {
    const res = await ctx.api.get(`/api/admin/health/instances/${x}?limit=2`).set(admin.auth);
    expect(res.status).toBe(200);
    const degraded = {
      id: expect.stringMatching(/^\d+$/),
      sweepId: null,
      status: "DEGRADED",
      podPhase: "Running",
      readyReplicas: 1,
      desiredReplicas: 1,
      restartCount: 2,
      cpuMilli: 300,
      memoryMb: 400,
      reason: "seeded DEGRADED",
      checkedAt: "2026-03-01T11:20:00.000Z",
    };
    expect(res.body).toEqual({
      health: {
        instanceId: x,
        name: x,
        namespace: "api-0",
        status: "RUNNING",
        healthStatus: "UNKNOWN",
        healthReason: null,
        healthCheckedAt: null,
        candidate: null,
        candidateCount: 0,
        latest: degraded,
        history: [
          degraded,
          {
            ...degraded,
            id: expect.stringMatching(/^\d+$/),
            status: "UNHEALTHY",
            readyReplicas: 0,
            restartCount: 0,
            cpuMilli: null,
            memoryMb: null,
            reason: "seeded UNHEALTHY",
            checkedAt: "2026-03-01T11:09:00.000Z",
          },
        ],
      },
    });
  });

  it("404 for an unknown instance, 400 for a bad limit", async () => {
    const res = await ctx.api.get("/api/admin/health/instances/nope").set(admin.auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorShape("NOT_FOUND", { message: "Instance not found" }));
    expect((await ctx.api.get(`/api/admin/health/instances/${x}?limit=0`).set(admin.auth)).status).toBe(400);
  });
});

describe("POST /api/admin/health/check and GET /api/admin/health/summary", () => {
  it("summary before any sweep: no last sweep, reachability unknown", async () => {
    const res = await ctx.api.get("/api/admin/health/summary").set(admin.auth);
    expect(res.status).toBe(200);
    expect(res.body.summary).toMatchObject({
      lastSweep: null,
      clusterReachable: null,
      health: { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, UNKNOWN: 2 },
    });
  });

  it("checks the given instances now and returns that sweep's results", async () => {
    const res = await ctx.api
      .post("/api/admin/health/check")
      .set(admin.auth)
      .send({ instanceIds: [x] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      sweep: {
        id: expect.any(String),
        trigger: "manual",
        startedAt: NOW,
        finishedAt: expect.any(String),
        durationMs: expect.any(Number),
        instanceCount: 1,
        clusterReachable: true,
        metricsAvailable: true,
        apiCalls: 13,
        error: null,
      },
      results: [
        {
          instanceId: x,
          name: x,
          namespace: "api-0",
          observed: "HEALTHY",
          healthStatus: "HEALTHY",
          previousHealthStatus: "UNKNOWN",
          candidate: null,
          candidateCount: 0,
          reason: "1/1 ready",
          podPhase: "Running",
          readyReplicas: 1,
          desiredReplicas: 1,
          restartCount: 0,
          cpuMilli: expect.any(Number),
          memoryMb: expect.any(Number),
          missing: [],
          drifted: [],
          volumeLost: false,
        },
      ],
      repaired: [],
      skipped: [],
    });

    const summary = await ctx.api.get("/api/admin/health/summary").set(admin.auth);
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual({
      summary: {
        instances: {
          total: 2,
          byStatus: {
            PENDING: 0,
            PROVISIONING: 0,
            RUNNING: 2,
            UPDATING: 0,
            UPGRADING: 0,
            RESTARTING: 0,
            SUSPENDED: 0,
            STOPPED: 0,
            RESTORING: 0,
            FAILED: 0,
            TERMINATING: 0,
            TERMINATED: 0,
          },
        },
        health: { HEALTHY: 1, DEGRADED: 0, UNHEALTHY: 0, UNKNOWN: 1 },
        lastSweep: res.body.sweep,
        clusterReachable: true,
        backups: { withoutGoodBackup48h: 0 },
      },
    });
  });

  it("instances that are not RUNNING are skipped; unknown ids are 404; bad bodies are 400 and change nothing", async () => {
    await ctx.container.db.prisma.instance.update({ where: { id: y }, data: { status: "SUSPENDED", desiredState: "SUSPENDED" } });
    const res = await ctx.api
      .post("/api/admin/health/check")
      .set(admin.auth)
      .send({ instanceIds: [y] });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
    expect(res.body.skipped).toEqual([{ instanceId: y, status: "SUSPENDED", reason: "only RUNNING instances are judged" }]);

    const sweeps = await ctx.container.db.prisma.healthSweep.count();
    const missing = await ctx.api
      .post("/api/admin/health/check")
      .set(admin.auth)
      .send({ instanceIds: [x, "nope"] });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual(errorShape("NOT_FOUND", { message: "instances not found: nope", details: { instanceIds: ["nope"] } }));
    for (const body of [{ instanceIds: [] }, { instanceIds: [x, x] }, { instanceIds: "x" }, { all: true }]) {
      const bad = await ctx.api.post("/api/admin/health/check").set(admin.auth).send(body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body).toEqual(errorShape("VALIDATION_ERROR", { details: expect.any(Array) }));
    }
    expect(await ctx.container.db.prisma.healthSweep.count()).toBe(sweeps);
  });

  it("with no body, sweeps every RUNNING instance", async () => {
    const res = await ctx.api.post("/api/admin/health/check").set(admin.auth);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { instanceId: string }) => r.instanceId)).toEqual([x]);
    expect(res.body.sweep.instanceCount).toBe(1);
  });
});

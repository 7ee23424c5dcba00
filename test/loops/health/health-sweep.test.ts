/**
 * The health sweep against the emulator: every rule through the emulator's fault modes, the
 * hysteresis, outages, missing metrics, missing objects (event + reconciler), one sweep across
 * replicas, retention, and a constant number of cluster calls whatever the fleet size.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { seedHealthFleet } from "../../../bench/lib/health-fleet.js";
import { KINDS } from "../../../src/kube/client.js";
import type { FleetCache } from "../../../src/modules/health/kube-fleet-reader.js";
import { judgeAbsent } from "../../../src/kube/ownership.js";
import { LABELS } from "../../../src/kube/templates/labels.js";
import type { RecordingInstanceSignal } from "../../helpers/recording-signal.js";
import { buildUser, createTestContext, type TestContext } from "../../helpers/app.js";
import { usingPostgres } from "../../helpers/db.js";

let ctx: TestContext;
let planId: string;
let plan: { cpuMilli: number; memoryMb: number };

beforeAll(async () => {
  ctx = await createTestContext({ env: { K8S_REQUEST_TIMEOUT: "2s", HEALTH_CONSECUTIVE_OBSERVATIONS: "2" } });
  const p = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "ghost" } } });
  planId = p.id;
  plan = { cpuMilli: p.cpuMilli, memoryMb: p.memoryMb };
});
afterAll(async () => {
  await ctx?.close();
});
afterEach(async () => {
  const e = emulator();
  await e.faults.reset();
  e.setMetricsAvailable(true);
});

const emulator = () => {
  const e = ctx.container.kube.emulator;
  if (!e) throw new Error("tests run against the emulator");
  return e;
};
const prisma = () => ctx.container.db.prisma;
const sweep = (ids?: string[]) => ctx.container.loops.health.runNow(ids);

interface Inst {
  id: string;
  namespace: string;
  name: string;
}

async function runningInstance(name: string): Promise<Inst> {
  const u = await buildUser(ctx);
  await ctx.container.services.ledger.post(prisma(), { userId: u.id, type: "TOPUP", amount: 10_000, reason: "test" });
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: name });
  expect(res.status).toBe(201);
  await ctx.container.loops.reconciler.runUntilIdle();
  const row = await prisma().instance.findUniqueOrThrow({ where: { id: res.body.instance.id } });
  expect(row.status).toBe("RUNNING");
  return { id: row.id, namespace: row.namespace, name: row.k8sName };
}

function podOf(inst: Inst) {
  const pods = emulator().listObjects("v1", "Pod", { namespace: inst.namespace, labelSelector: `${LABELS.instanceId}=${inst.id}` });
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  expect(live).toHaveLength(1);
  return live[0] as (typeof live)[number];
}

async function health(id: string) {
  return prisma().instance.findUniqueOrThrow({
    where: { id },
    select: {
      healthStatus: true,
      healthCandidate: true,
      healthCandidateCount: true,
      healthReason: true,
      lastRestartCount: true,
      generation: true,
    },
  });
}

function resultFor(r: Awaited<ReturnType<typeof sweep>>, id: string) {
  const found = r.results.find((x) => x.instanceId === id);
  if (!found) throw new Error(`no result for ${id}`);
  return found;
}

describe("the rules, through the emulator's fault modes", () => {
  let a: Inst;
  beforeAll(async () => {
    a = await runningInstance("rules one");
  });

  it("a ready instance is HEALTHY at once (leaving UNKNOWN needs no second look); one record per instance per sweep", async () => {
    // The rollout the reconciler watched gave the instance its first observation already...
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: a.id }, select: { healthStatus: true, healthReason: true } })).toEqual({
      healthStatus: "HEALTHY",
      healthReason: "rollout complete: all replicas ready",
    });
    // ...so make it unjudged again (as after a suspension) to see the sweep leave UNKNOWN in one look.
    await prisma().instance.update({ where: { id: a.id }, data: { healthStatus: "UNKNOWN", healthReason: null } });
    const r = await sweep([a.id]);
    const res = resultFor(r, a.id);
    expect(res).toMatchObject({
      observed: "HEALTHY",
      healthStatus: "HEALTHY",
      previousHealthStatus: "UNKNOWN",
      podPhase: "Running",
      readyReplicas: 1,
      desiredReplicas: 1,
      restartCount: 0,
      reason: "1/1 ready",
      missing: [],
    });
    expect(res.cpuMilli).toEqual(expect.any(Number));
    expect(res.memoryMb).toEqual(expect.any(Number));
    expect(r.sweep).toMatchObject({ trigger: "manual", instanceCount: 1, clusterReachable: true, metricsAvailable: true, error: null });
    const records = await prisma().healthCheck.findMany({ where: { sweepId: r.sweep.id } });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      instanceId: a.id,
      status: "HEALTHY",
      podPhase: "Running",
      readyReplicas: 1,
      restartCount: 0,
      cpuMilli: res.cpuMilli,
    });
    expect(await health(a.id)).toMatchObject({ healthStatus: "HEALTHY", healthCandidate: null, healthCandidateCount: 0 });
  });

  it("CPU above 90% of the plan's limit: DEGRADED after two observations (hysteresis)", async () => {
    const pod = podOf(a);
    emulator().setPodUsage(a.namespace, pod.metadata.name, { cpuMilli: Math.ceil(plan.cpuMilli * 0.95), memoryMb: 50 });
    try {
      const first = resultFor(await sweep([a.id]), a.id);
      expect(first).toMatchObject({ observed: "DEGRADED", healthStatus: "HEALTHY", candidate: "DEGRADED", candidateCount: 1 });
      expect(first.reason).toMatch(/^CPU \d+m of \d+m limit \(95%\)$/);
      const second = resultFor(await sweep([a.id]), a.id);
      expect(second).toMatchObject({ observed: "DEGRADED", healthStatus: "DEGRADED", candidate: null });
      expect(await health(a.id)).toMatchObject({ healthStatus: "DEGRADED", healthReason: first.reason });
    } finally {
      emulator().setPodUsage(a.namespace, pod.metadata.name, undefined);
    }
    // Memory too; and one good observation in between cancels the pending change.
    emulator().setPodUsage(a.namespace, pod.metadata.name, { cpuMilli: 10, memoryMb: plan.memoryMb });
    try {
      expect(resultFor(await sweep([a.id]), a.id)).toMatchObject({ observed: "DEGRADED", healthStatus: "DEGRADED" });
    } finally {
      emulator().setPodUsage(a.namespace, pod.metadata.name, undefined);
    }
    expect(resultFor(await sweep([a.id]), a.id)).toMatchObject({
      observed: "HEALTHY",
      healthStatus: "DEGRADED",
      candidate: "HEALTHY",
      candidateCount: 1,
    });
    emulator().setPodUsage(a.namespace, pod.metadata.name, { cpuMilli: plan.cpuMilli, memoryMb: 10 });
    expect(resultFor(await sweep([a.id]), a.id)).toMatchObject({
      observed: "DEGRADED",
      healthStatus: "DEGRADED",
      candidate: null,
      candidateCount: 0,
    });
    emulator().setPodUsage(a.namespace, pod.metadata.name, undefined);
    await sweep([a.id]);
    expect(resultFor(await sweep([a.id]), a.id)).toMatchObject({ observed: "HEALTHY", healthStatus: "HEALTHY" });
  });

  it("restarts rising since the last sweep while ready: DEGRADED; then steady: HEALTHY", async () => {
    emulator().setCrash(a.namespace, a.name, true);
    await emulator().settle();
    emulator().setCrash(a.namespace, a.name, false);
    await emulator().settle();
    const restarts = Number((podOf(a).status as { containerStatuses: Array<{ restartCount: number }> }).containerStatuses[0]?.restartCount);
    expect(restarts).toBeGreaterThan(0);
    const r1 = resultFor(await sweep([a.id]), a.id);
    expect(r1).toMatchObject({
      observed: "DEGRADED",
      reason: `restarts rising (0 -> ${restarts})`,
      restartCount: restarts,
      readyReplicas: 1,
    });
    expect((await health(a.id)).lastRestartCount).toBe(restarts);
    // Same count next time: not rising any more.
    expect(resultFor(await sweep([a.id]), a.id)).toMatchObject({ observed: "HEALTHY", healthStatus: "HEALTHY" });
  });

  it("CrashLoopBackOff: UNHEALTHY after two observations", async () => {
    emulator().setCrash(a.namespace, a.name, true);
    try {
      await emulator().settle();
      const r1 = resultFor(await sweep([a.id]), a.id);
      expect(r1).toMatchObject({
        observed: "UNHEALTHY",
        reason: "pod waiting in CrashLoopBackOff",
        readyReplicas: 0,
        healthStatus: "HEALTHY",
        candidateCount: 1,
      });
      const r2 = resultFor(await sweep([a.id]), a.id);
      expect(r2).toMatchObject({ observed: "UNHEALTHY", healthStatus: "UNHEALTHY" });
    } finally {
      emulator().setCrash(a.namespace, a.name, false);
      await emulator().settle();
    }
    // The recovered pod kept its restart count, and a crash loop raised it since the last sweep.
    await sweep([a.id]);
    await sweep([a.id]);
    expect((await health(a.id)).healthStatus).toBe("HEALTHY");
    // The timeline records both judged changes, not every observation.
    const changes = await ctx.container.db.prisma.instanceEvent.findMany({
      where: { instanceId: a.id, type: "HEALTH_CHANGED" },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
    expect(changes.map((e) => [e.level, (e.data as { from: string; to: string }).from, (e.data as { to: string }).to]).slice(-2)).toEqual([
      ["WARN", "HEALTHY", "UNHEALTHY"],
      ["INFO", "UNHEALTHY", "HEALTHY"],
    ]);
    expect(changes.at(-2)?.message).toBe("Health HEALTHY -> UNHEALTHY: pod waiting in CrashLoopBackOff");
  });

  it("ImagePullBackOff (bad image on a replaced pod): UNHEALTHY", async () => {
    const pod = podOf(a);
    const image = (pod.spec as { containers: Array<{ image: string }> }).containers[0]?.image as string;
    emulator().markImageBad(image);
    try {
      emulator().deleteObject("v1", "Pod", a.namespace, pod.metadata.name);
      await emulator().settle();
      await emulator().fastForward();
      const r = resultFor(await sweep([a.id]), a.id);
      expect(r).toMatchObject({
        observed: "UNHEALTHY",
        reason: "pod waiting in ImagePullBackOff",
        podPhase: "Pending",
        readyReplicas: 0,
        cpuMilli: null,
      });
    } finally {
      emulator().markImageGood(image);
      await emulator().settle();
    }
    await sweep([a.id]);
    await sweep([a.id]);
    expect((await health(a.id)).healthStatus).toBe("HEALTHY");
  });

  it("metrics API absent: no usage data, not an error", async () => {
    emulator().setMetricsAvailable(false);
    const r = await sweep([a.id]);
    expect(r.sweep).toMatchObject({ clusterReachable: true, metricsAvailable: false, error: null });
    expect(resultFor(r, a.id)).toMatchObject({ observed: "HEALTHY", cpuMilli: null, memoryMb: null });
    const rec = await prisma().healthCheck.findFirstOrThrow({ where: { sweepId: r.sweep.id } });
    expect(rec).toMatchObject({ cpuMilli: null, memoryMb: null, status: "HEALTHY" });
  });

  it("cluster outage: records UNKNOWN; one blip keeps the status, two make it UNKNOWN; recovery is immediate", async () => {
    expect((await health(a.id)).healthStatus).toBe("HEALTHY");
    // A known restart baseline: unreadable sweeps must leave it alone.
    await prisma().instance.update({ where: { id: a.id }, data: { lastRestartCount: 7 } });
    await emulator().faults.outage("unavailable");
    const r1 = await sweep([a.id]);
    expect(r1.sweep).toMatchObject({ clusterReachable: false, metricsAvailable: null, error: expect.any(String) });
    expect(resultFor(r1, a.id)).toMatchObject({
      observed: "UNKNOWN",
      healthStatus: "HEALTHY",
      candidate: "UNKNOWN",
      candidateCount: 1,
      missing: [],
    });

    expect(r1.repaired).toEqual([]);
    const r2 = await sweep([a.id]);
    expect(resultFor(r2, a.id)).toMatchObject({ observed: "UNKNOWN", healthStatus: "UNKNOWN" });
    expect((await health(a.id)).lastRestartCount).toBe(7);
    await emulator().faults.restore();
    const r3 = await sweep([a.id]);
    expect(resultFor(r3, a.id)).toMatchObject({ observed: "HEALTHY", healthStatus: "HEALTHY", previousHealthStatus: "UNKNOWN" });
    const records = await prisma().healthCheck.findMany({ where: { sweepId: { in: [r1.sweep.id, r2.sweep.id] } } });
    expect(records.map((x) => x.status)).toEqual(["UNKNOWN", "UNKNOWN"]);
  });

  it("a refused connection (listener down) is UNKNOWN too, never UNHEALTHY", async () => {
    await emulator().faults.outage("refuse");
    const r = await sweep([a.id]);
    expect(r.sweep.clusterReachable).toBe(false);
    expect(resultFor(r, a.id)).toMatchObject({ observed: "UNKNOWN", healthStatus: "HEALTHY" });
    await emulator().faults.restore();
    expect(resultFor(await sweep([a.id]), a.id)).toMatchObject({ observed: "HEALTHY", healthStatus: "HEALTHY", candidate: null });
  });
});

describe("missing objects", () => {
  it("records an event, bumps the generation and signals the reconciler, which re-creates them", async () => {
    const b = await runningInstance("rules two");
    await sweep([b.id]);
    const gen = (await health(b.id)).generation;
    const signal = ctx.container.signal as RecordingInstanceSignal;
    const signalled = signal.changed.length;
    emulator().deleteObject("apps/v1", "Deployment", b.namespace, b.name);
    emulator().deleteObject("v1", "Service", b.namespace, `${b.name}-svc`);
    await emulator().settle();

    const r = await sweep([b.id]);
    expect(resultFor(r, b.id)).toMatchObject({
      observed: "UNHEALTHY",
      reason: `objects missing: Deployment/${b.name}, Service/${b.name}-svc`,
      missing: [`Deployment/${b.name}`, `Service/${b.name}-svc`],
    });
    expect(r.repaired).toEqual([b.id]);
    expect(signal.changed.slice(signalled)).toEqual([b.id]);
    expect((await health(b.id)).generation).toBe(gen + 1);
    const events = await prisma().instanceEvent.findMany({ where: { instanceId: b.id, type: "HEALTH_OBJECTS_MISSING" } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ level: "WARN", data: { missing: [`Deployment/${b.name}`, `Service/${b.name}-svc`] } });

    await ctx.container.loops.reconciler.runUntilIdle();
    const row = await prisma().instance.findUniqueOrThrow({ where: { id: b.id } });
    expect(row).toMatchObject({ status: "RUNNING", observedGeneration: gen + 1, appliedGeneration: gen + 1 });
    expect(await ctx.container.kube.client.find({ ...KINDS.Deployment, name: b.name, namespace: b.namespace })).toBeDefined();
    expect(await ctx.container.kube.client.find({ ...KINDS.Service, name: `${b.name}-svc`, namespace: b.namespace })).toBeDefined();
    expect(resultFor(await sweep([b.id]), b.id)).toMatchObject({ observed: "HEALTHY", missing: [] });
  });

  it("instances that are not RUNNING are not judged: no record; SUSPENDED/FAILED/TERMINATED get UNKNOWN on a full sweep", async () => {
    const c = await runningInstance("rules three");
    await sweep([c.id]);
    expect((await health(c.id)).healthStatus).toBe("HEALTHY");
    await prisma().instance.update({ where: { id: c.id }, data: { status: "SUSPENDED", desiredState: "SUSPENDED" } });
    const r = await sweep();
    expect(r.results.find((x) => x.instanceId === c.id)).toBeUndefined();
    expect(await prisma().healthCheck.count({ where: { sweepId: r.sweep.id, instanceId: c.id } })).toBe(0);
    expect(await health(c.id)).toMatchObject({
      healthStatus: "UNKNOWN",
      healthReason: "not judged: instance is SUSPENDED",
      healthCandidate: null,
    });
  });
});

describe("the loop", () => {
  it("a scheduled run skips when a scheduled sweep ran less than half an interval ago, and prunes old records", async () => {
    const loop = ctx.container.loops.health;
    const first = await loop.runScheduled();
    // Another replica's sweep may have just run in the shared database; either way the next one is skipped.
    const second = await loop.runScheduled();
    expect(second).toEqual({ skipped: "recently-swept", pruned: 0 });
    expect(first.skipped === undefined || first.skipped === "recently-swept").toBe(true);

    const inst = await prisma().instance.findFirstOrThrow({ where: { status: "RUNNING" } });
    const old = new Date(Date.now() - 31 * 86_400_000);
    await prisma().healthCheck.createMany({
      data: Array.from({ length: 7 }, (_, i) => ({
        instanceId: inst.id,
        status: "HEALTHY" as const,
        checkedAt: new Date(old.getTime() - i * 1000),
      })),
    });
    const kept = await prisma().healthCheck.count({ where: { checkedAt: { gte: new Date(Date.now() - 30 * 86_400_000) } } });
    expect(await loop.prune()).toBe(7);
    expect(await prisma().healthCheck.count()).toBe(kept);
  });

  it("HEALTH_INTERVAL becomes a cron schedule when it can, else a timer", () => {
    expect(ctx.container.loops.health.schedule).toEqual({ cron: "*/5 * * * *" });
  });
});

describe("cluster calls per sweep are constant", () => {
  it("10 and 100 instances cost the same thirteen LISTs (one page each), every owned kind included", async () => {
    const e = emulator();
    const calls: Record<number, { list: number; total: number }> = {};
    for (const n of [10, 100]) {
      const fleet = await seedHealthFleet(prisma(), e, n, { prefix: `calls${n}-` });
      e.recorder.reset();
      const r = await sweep(fleet.instanceIds);
      // Requests, not attempts: on a loaded machine a LIST can outlive this file's 2 s request timeout and
      // be retried, reaching the emulator twice with the same URL (r.sweep.apiCalls counts requests too).
      const requests = (c: { method: string; path: string; query: Record<string, string> }) =>
        `${c.method} ${c.path}?${new URLSearchParams(c.query)}`;
      const lists = e.recorder.calls({ verb: "list" });
      expect(lists.filter((c) => c.query.continue)).toEqual([]); // one page each
      calls[n] = { list: new Set(lists.map(requests)).size, total: new Set(e.recorder.calls().map(requests)).size };
      expect(r.results).toHaveLength(n);
      expect(r.results.every((x) => x.observed === "HEALTHY" && x.drifted.length === 0 && x.missing.length === 0)).toBe(true);
      expect(r.sweep.apiCalls).toBe(13);
    }
    // Deployments, StatefulSets, Pods, PodMetrics, and metadata-only: Services, ConfigMaps, Secrets,
    // PVCs, Ingresses, NetworkPolicies, ResourceQuotas, LimitRanges, ServiceAccounts.
    expect(calls[10]).toEqual({ list: 13, total: 13 });
    expect(calls[100]).toEqual(calls[10]);
  });
});

describe("the sweep's informers (HEALTH_CACHE=all)", () => {
  it("synced, a sweep reads every kind from memory (one call: PodMetrics); an unsynced informer's kind is LISTed instead", async () => {
    const e = emulator();
    const fleet = await seedHealthFleet(prisma(), e, 20, { prefix: "cached-" });
    const cache = ctx.container.loops.health.cache as FleetCache;
    cache.start();
    try {
      await cache.untilSynced();
      e.recorder.reset();
      const r = await sweep(fleet.instanceIds);
      expect(r.results).toHaveLength(20);
      expect(r.results.every((x) => x.observed === "HEALTHY" && x.drifted.length === 0 && x.missing.length === 0)).toBe(true);
      expect(r.sweep.apiCalls).toBe(1);
      expect(e.recorder.calls({ verb: "list" }).map((c) => `${c.verb} ${c.resource}`)).toEqual(["list pods.metrics.k8s.io"]);

      // The ConfigMap informer stops (as while it reconnects or is broken): never trusted, its kind is LISTed.
      await cache.owned.get("ConfigMap")?.stop();
      e.recorder.reset();
      const fallback = await sweep(fleet.instanceIds);
      expect(fallback.sweep.apiCalls).toBe(2);
      // (The stopped informer's watch is recorded as it ends: only LISTs are the sweep's.)
      expect(
        e.recorder
          .calls({ verb: "list" })
          .map((c) => `${c.verb} ${c.resource}`)
          .sort(),
      ).toEqual(["list configmaps", "list pods.metrics.k8s.io"]);
      expect(fallback.results.every((x) => x.drifted.length === 0 && x.missing.length === 0)).toBe(true);

      // A deleted object reaches the cache by its DELETED event and is reported by the next sweep.
      const victim = fleet.instanceIds[0] as string;
      const row = await prisma().instance.findUniqueOrThrow({ where: { id: victim } });
      const ingress = cache.owned.get("Ingress");
      e.deleteObject("networking.k8s.io/v1", "Ingress", row.namespace, `${row.k8sName}-ingress`);
      await ingress?.until(() => ingress.get(row.namespace, `${row.k8sName}-ingress`) === undefined);
      const seen = await sweep([victim]);
      expect(seen.results[0]?.missing).toEqual([`Ingress/${row.k8sName}-ingress`]);
      expect(seen.repaired).toEqual([victim]);
    } finally {
      await cache.stop();
    }
  });

  it("an object changed after the observation point (its informer is read live) is not judged by that observation; the next one judges it", async () => {
    const e = emulator();
    const fleet = await seedHealthFleet(prisma(), e, 2, { prefix: "live-" });
    const [id] = fleet.instanceIds as [string];
    const row = await prisma().instance.findUniqueOrThrow({ where: { id } });
    const key = `ConfigMap/${row.k8sName}-config`;
    const stamp = (row.appliedFields as Record<string, string>)[key] as string;
    const cache = ctx.container.loops.health.cache as FleetCache;
    const { HealthSweeper } = await import("../../../src/modules/health/health.sweeper.js");
    const loop = ctx.container.loops.health as unknown as { o: { sweeper: InstanceType<typeof HealthSweeper> } };
    const reader = (loop.o.sweeper as unknown as { o: ConstructorParameters<typeof HealthSweeper>[0] }).o.fleet;
    cache.start();
    try {
      await cache.untilSynced();
      const before = await reader.read();
      expect(before.sources.cached).toContain("ConfigMap");
      expect(before.owned(row.namespace, key, id)?.verdict(stamp)).toBe("holds");
      // kubectl edits a field we applied: the informer sees it after `before` was taken.
      const configMaps = cache.owned.get("ConfigMap");
      const rv = configMaps?.get(row.namespace, `${row.k8sName}-config`)?.resourceVersion;
      const res = await fetch(`${e.url}/api/v1/namespaces/${row.namespace}/configmaps/${row.k8sName}-config?fieldManager=kubectl-edit`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${e.token}`, "content-type": "application/strategic-merge-patch+json" },
        body: JSON.stringify({ data: { url: "https://edited.invalid" } }),
      });
      expect(res.status).toBe(200);
      await configMaps?.until(() => configMaps.get(row.namespace, `${row.k8sName}-config`)?.resourceVersion !== rv);
      expect(before.owned(row.namespace, key, id)?.verdict(stamp)).toBe("behind");
      expect((await reader.read()).owned(row.namespace, key, id)?.verdict(stamp)).toBe("changed");
    } finally {
      await cache.stop();
    }
  });
});

describe("an observation behind the reconciler's last apply", () => {
  it("reports nothing missing or drifted and requests no repair (a cache that has not yet seen a re-created object)", async () => {
    const e = emulator();
    const fleet = await seedHealthFleet(prisma(), e, 2, { prefix: "behind-" });
    const [id] = fleet.instanceIds as [string];
    const row = await prisma().instance.findUniqueOrThrow({ where: { id } });
    // As after a repair: the reconciler recorded the re-created Deployment at a resourceVersion.
    const applied = { ...(row.appliedFields as Record<string, string>), [`Deployment/${row.k8sName}`]: "999999 h" };
    await prisma().instance.update({ where: { id }, data: { appliedFields: applied } });
    const { HealthSweeper } = await import("../../../src/modules/health/health.sweeper.js");
    const loop = ctx.container.loops.health as unknown as { o: { sweeper: InstanceType<typeof HealthSweeper> } };
    const real = (loop.o.sweeper as unknown as { o: ConstructorParameters<typeof HealthSweeper>[0] }).o;
    // The cluster as a lagging cache would show it: the instance's Deployment and ConfigMap absent,
    // and every kind observed only up to a resourceVersion older than the reconciler's applies.
    const lagging = {
      async read() {
        const obs = await real.fleet.read();
        obs.workloads.delete(id);
        const hidden = new Set([`Deployment/${row.k8sName}`, `ConfigMap/${row.k8sName}-config`]);
        return {
          ...obs,
          owned: (namespace: string, key: string, instanceId: string) =>
            instanceId === id && hidden.has(key) ? undefined : obs.owned(namespace, key, instanceId),
          absent: (_key: string, stamp: string) => judgeAbsent(stamp, "1"),
        };
      },
    };
    const sweeper = new HealthSweeper({ ...real, fleet: lagging });
    const r = await sweeper.sweep({ trigger: "manual", instanceIds: [id] });
    expect(r.results[0]).toMatchObject({
      instanceId: id,
      observed: "UNKNOWN",
      missing: [],
      drifted: [],
      volumeLost: false,
      reason: `not judged: the cluster cache has not yet seen the last apply of Deployment/${row.k8sName}`,
    });
    expect(r.repaired).toEqual([]);
    // The same gaps in an observation as new as the applies are missing objects, and repaired.
    const current = new HealthSweeper({
      ...real,
      fleet: { read: async () => ({ ...(await lagging.read()), absent: (_key: string, stamp: string) => judgeAbsent(stamp, undefined) }) },
    });
    const m = await current.sweep({ trigger: "manual", instanceIds: [id] });
    expect(m.results[0]?.missing).toEqual([`Deployment/${row.k8sName}`, `ConfigMap/${row.k8sName}-config`]);
    expect(m.repaired).toEqual([id]);
  });
});

describe.skipIf(!usingPostgres)("two replicas on one PostgreSQL (needs TEST_DATABASE_URL: row locks and leases across connections)", () => {
  it("scheduled runs at the same moment sweep once", async () => {
    const other = await ctx.replica();
    await prisma().healthSweep.deleteMany({ where: { trigger: "scheduled" } });
    const [x, y] = await Promise.all([ctx.container.loops.health.runScheduled(), other.loops.health.runScheduled()]);
    const swept = [x, y].filter((r) => r.result);
    expect(swept).toHaveLength(1);
    expect([x, y].filter((r) => r.skipped).map((r) => r.skipped)).toEqual([expect.stringMatching(/^(lease-held|recently-swept)$/)]);
    expect(await prisma().healthSweep.count({ where: { trigger: "scheduled" } })).toBe(1);
    // One record per instance: no instance was observed twice.
    const dupes = await prisma().$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM (SELECT "instance_id" FROM "health_checks" h JOIN "health_sweeps" s ON s."id" = h."sweep_id"
        WHERE s."trigger" = 'scheduled' GROUP BY 1 HAVING count(*) > 1) d`;
    expect(dupes[0]?.n).toBe(0);
  });

  it("a sweep whose lease was taken over is abandoned without writing anything", async () => {
    const loop = ctx.container.loops.health;
    const before = await prisma().healthSweep.count();
    const checks = await prisma().healthCheck.count();
    // Simulate losing the lease mid-sweep: another holder owns it when the sweep comes to write.
    const { HealthSweeper, SweepAbandonedError } = await import("../../../src/modules/health/health.sweeper.js");
    const sweeper = (loop as unknown as { o: { sweeper: InstanceType<typeof HealthSweeper> } }).o.sweeper;
    await expect(sweeper.sweep({ trigger: "manual", stillOwner: async () => false })).rejects.toBeInstanceOf(SweepAbandonedError);
    expect(await prisma().healthSweep.count()).toBe(before);
    expect(await prisma().healthCheck.count()).toBe(checks);
  });
});

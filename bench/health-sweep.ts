/**
 * Health-sweep time and Kubernetes API calls per sweep as the fleet grows, on real PostgreSQL and the
 * Kubernetes API emulator — and, in the same run, the same fleets checked the naive way.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:health
 *
 * For each fleet size (BENCH_SIZES, default 100,1000,10000) and each informer setting (BENCH_CACHE,
 * a comma-separated list of HEALTH_CACHE values, default "all"): a fresh database next to the one
 * DATABASE_URL names (dropped afterwards) and a fresh emulator; N RUNNING instance rows inserted in
 * bulk (bench/lib/health-fleet.ts) and their ready Deployments, pods and Services seeded straight
 * into the emulator's store. Then:
 *  - the sweep's informers (HEALTH_CACHE: all = Deployments, StatefulSets, Pods and the nine
 *    metadata-only kinds; metadata = the nine; off = none) are started after seeding and awaited
 *    until synced (their LIST time, calls and heap are reported; not part of any sweep's time);
 *  - the real sweep (HealthLoop.runNow -> HealthSweeper: every kind from a synced informer, the
 *    others with one label-selected, paginated LIST across all namespaces — four full
 *    (Deployments, StatefulSets, Pods, PodMetrics), nine metadata-only (Services, ConfigMaps,
 *    Secrets, PVCs, Ingresses, NetworkPolicies, ResourceQuotas, LimitRanges, ServiceAccounts) —,
 *    rules, drift check of every owned object, one transaction with batched writes): a first sweep (every
 *    instance goes UNKNOWN -> HEALTHY) and BENCH_REPEAT more (default 3); wall time per sweep and
 *    calls per sweep counted by the emulator's recorder;
 *  - the naive way: per instance, one GET of its Deployment and one LIST of its pods in its
 *    namespace, and one INSERT of its health record (one database round trip per instance), with
 *    10 instances in flight at a time. Bounded to BENCH_NAIVE_MAX instances (default 10000);
 *    larger fleets are reported as not run.
 * Results are printed as a Markdown section for bench/RESULTS.md.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { LiveDeployment, LivePod } from "../src/kube/objects.js";
import pg from "pg";
import { loadConfig } from "../src/config/index.js";
import { buildContainer } from "../src/container.js";
import { KINDS } from "../src/kube/client.js";
import { instanceSelector } from "../src/kube/templates/labels.js";
import { seedHealthFleet } from "./lib/health-fleet.js";

const SIZES = (process.env.BENCH_SIZES ?? "100,1000,10000").split(",").map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const NAIVE_MAX = Number(process.env.BENCH_NAIVE_MAX ?? 10_000);
const NAIVE_CONCURRENCY = 10;
const CACHES = (process.env.BENCH_CACHE ?? "all").split(",") as Array<"all" | "metadata" | "off">;
const adminUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

interface Row {
  n: number;
  cache: string;
  /** Informers: time to sync after seeding, the calls that took, heap after, per-kind status. */
  informers?: { syncMs: number; calls: number; heapMb: number; kinds: string };
  /** Load average (1 min) before and after this fleet's measurement. */
  load: [number, number];
  seedMs: number;
  firstMs: number;
  firstCalls: number;
  sweepMs: number[];
  /** CPU time of this process per later sweep (the control plane and the in-process emulator serving it). */
  sweepCpuMs: number[];
  calls: number[];
  callsByResource: string;
  phases: string;
  naive?: { ms: number; calls: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(n: number, cache: "all" | "metadata" | "off"): Promise<Row> {
  const load0 = os.loadavg()[0] as number;
  const dbName = `minispod_bench_health_${n}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const config = loadConfig({
    NODE_ENV: "development",
    LOG_LEVEL: "silent",
    DATABASE_URL: url.toString(),
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "minispod-bench-")),
    JWT_SECRET: "bench-secret-bench-secret-bench-secret-00",
    ADMIN_PASSWORD: "bench-admin-password",
    K8S_MODE: "emulated",
    K8S_EMULATOR_POD_READY_DELAY: "0",
    BACKGROUND_LOOPS: "false",
    HEALTH_CACHE: cache,
  });
  const c = await buildContainer(config);
  try {
    const emulator = c.kube.emulator;
    if (!emulator) throw new Error("the benchmark runs against the emulator");
    const prisma = c.db.prisma;
    const seedStart = performance.now();
    const fleet = await seedHealthFleet(prisma, emulator, n, { prefix: "bench-" });
    const seedMs = performance.now() - seedStart;

    // The informers start with the health loop; here (no background loops) by hand, after seeding.
    let informers: Row["informers"];
    const fleetCache = c.loops.health.cache as
      | { start(): void; untilSynced(): Promise<void>; status(): Array<{ kind: string; objects: number; lists: number }> }
      | undefined;
    if (fleetCache) {
      emulator.recorder.reset();
      const t = performance.now();
      fleetCache.start();
      await fleetCache.untilSynced();
      const syncMs = performance.now() - t;
      const kinds = fleetCache
        .status()
        .map((k) => `${k.kind} ${k.objects}`)
        .join(", ");
      informers = { syncMs, calls: emulator.recorder.count(), heapMb: process.memoryUsage().heapUsed / 2 ** 20, kinds };
      process.stderr.write(`  informers synced in ${syncMs.toFixed(0)} ms (${informers.calls} calls): ${kinds}\n`);
    }

    const sweepOnce = async () => {
      emulator.recorder.reset();
      const t = performance.now();
      const cpu0 = process.cpuUsage();
      const r = await c.loops.health.runNow();
      const ms = performance.now() - t;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (r.results.length !== n) throw new Error(`swept ${r.results.length} of ${n}`);
      const bad = r.results.filter((x) => x.observed !== "HEALTHY" || x.drifted.length > 0 || x.missing.length > 0);
      if (bad.length) throw new Error(`${bad.length} instances not HEALTHY, e.g. ${bad[0]?.reason}`);
      // LISTs only: the informers' watches are open meanwhile (and recorded when they end).
      return { ms, cpuMs, calls: emulator.recorder.count({ verb: "list" }), phases: c.loops.health.sweeper.lastPhasesMs };
    };
    const first = await sweepOnce();
    process.stderr.write(`  first sweep ${first.ms.toFixed(0)} ms ${JSON.stringify(first.phases)}\n`);
    const runs = [];
    for (let i = 0; i < REPEAT; i++) {
      runs.push(await sweepOnce());
      process.stderr.write(
        `  sweep ${runs.at(-1)?.ms.toFixed(0)} ms (cpu ${runs.at(-1)?.cpuMs.toFixed(0)} ms) ${JSON.stringify(runs.at(-1)?.phases)}\n`,
      );
    }
    const calls = runs.map((r) => r.calls);
    // The first sweep of a process also makes the cluster client's one-time API discovery GETs (cached after).
    // A LIST whose continue token expired mid-way (410) restarts once: one more call, reported as such.
    if (Math.max(...calls) - Math.min(...calls) > 13) throw new Error(`calls per sweep varied beyond one restart per LIST: ${calls}`);
    const byResource = new Map<string, number>();
    for (const call of emulator.recorder.calls({ verb: "list" }))
      byResource.set(call.resource ?? "?", (byResource.get(call.resource ?? "?") ?? 0) + 1);
    const callsByResource = [...byResource].map(([k, v]) => `${k} ${v}`).join(", ");
    if ((await prisma.healthCheck.count()) !== n * (REPEAT + 1)) throw new Error("unexpected number of health records");

    let naive: Row["naive"];
    if (n <= NAIVE_MAX) {
      const rows = await prisma.instance.findMany({ where: { status: "RUNNING" }, select: { id: true, namespace: true, k8sName: true } });
      emulator.recorder.reset();
      const t = performance.now();
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < rows.length; i = next++) {
          const r = rows[i] as (typeof rows)[number];
          const d = await c.kube.client.get<LiveDeployment>({ ...KINDS.Deployment, name: r.k8sName, namespace: r.namespace });
          const pods = await c.kube.client.listAll<LivePod>("Pod", instanceSelector(r.id), { namespace: r.namespace });
          const ready = pods.items.filter((p) => p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True")).length;
          const status = ready >= (d.spec?.replicas ?? 1) ? "HEALTHY" : "UNHEALTHY";
          await prisma.$executeRaw`INSERT INTO "health_checks" ("instance_id","status","ready_replicas","desired_replicas")
            VALUES (${r.id}, ${status}::"HealthStatus", ${ready}, ${d.spec?.replicas ?? 1})`;
        }
      };
      await Promise.all(Array.from({ length: NAIVE_CONCURRENCY }, worker));
      naive = { ms: performance.now() - t, calls: emulator.recorder.count() };
    }
    void fleet;
    const phases = JSON.stringify(runs.at(-1)?.phases ?? {});
    return {
      n,
      cache,
      informers,
      load: [load0, os.loadavg()[0] as number],
      phases,
      seedMs,
      firstMs: first.ms,
      firstCalls: first.calls,
      sweepMs: runs.map((r) => r.ms),
      sweepCpuMs: runs.map((r) => r.cpuMs),
      calls,
      callsByResource,
      naive,
    };
  } finally {
    await c.close();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const n of SIZES) {
    for (const cache of CACHES) {
      process.stderr.write(`fleet of ${n}, HEALTH_CACHE=${cache}...\n`);
      rows.push(await measure(n, cache));
    }
  }
  const f = (ms: number) => ms.toFixed(0);
  const out = [
    "## Health sweep: time and cluster calls per sweep",
    "",
    `- date: ${new Date().toISOString()}; machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`,
    `- command: \`DATABASE_URL=${adminUrl} npm run bench:health\` (BENCH_SIZES=${SIZES.join(",")}, BENCH_REPEAT=${REPEAT}, BENCH_NAIVE_MAX=${NAIVE_MAX}, BENCH_CACHE=${CACHES.join(",")})`,
    "- PostgreSQL (a fresh database per fleet size), Kubernetes API emulator on loopback (real HTTP through the cluster client, src/kube/client.ts), LIST page size 500",
    "- fleet: per instance a ready Deployment + pod, ConfigMap, Secret, PVC, Service and Ingress (server-side applied, their applied-fields hashes recorded), per namespace of 10 instances a tenant baseline (ServiceAccount, ResourceQuota, LimitRange, 6 NetworkPolicies): 5 owned objects + workload per instance, 9 per namespace",
    "- sweep = `HealthLoop.runNow()`: lease, every kind from its synced informer or else one label-selected LIST across all namespaces (full: Deployments, StatefulSets, Pods, PodMetrics; metadata-only: Services, ConfigMaps, Secrets, PVCs, Ingresses, NetworkPolicies, ResourceQuotas, LimitRanges, ServiceAccounts; PodMetrics is always a LIST), rules + drift check of every owned object, one transaction (one INSERT of N records, one UPDATE of N instances, the sweep row)",
    "- HEALTH_CACHE: `all` = informers (LIST then WATCH, started after seeding and synced before the first sweep) for the 12 watchable kinds, `metadata` = for the 9 metadata-only kinds, `off` = none (every kind LISTed each sweep); LISTs per sweep counts only LIST requests (the informers' open watches are not per-sweep calls)",
    `- naive = per instance one GET of its Deployment + one LIST of its pods + one INSERT, ${NAIVE_CONCURRENCY} instances in flight`,
    "",
    `| instances | HEALTH_CACHE | informers synced ms (calls) | first sweep ms (LISTs) | later sweeps ms, median of ${REPEAT} | their CPU ms (this process), median | LISTs per sweep | load avg 1m (before, after) | naive ms | naive calls |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.n.toLocaleString("en-US")} | ${r.cache} | ${r.informers ? `${f(r.informers.syncMs)} (${r.informers.calls})` : "-"} | ${f(r.firstMs)} (${r.firstCalls}) | ${f(median(r.sweepMs))} | ${f(median(r.sweepCpuMs))} | ${new Set(r.calls).size === 1 ? r.calls[0] : r.calls.join(", ")} | ${r.load.map((l) => l.toFixed(2)).join(", ")} | ${r.naive ? f(r.naive.ms) : "not run"} | ${r.naive ? r.naive.calls : "-"} |`,
    ),
    "- the first sweep's extra calls are the cluster client's one-time API discovery (cached for the process); it also moves every instance from UNKNOWN to HEALTHY",
    ...rows.map(
      (r) =>
        `- ${r.n.toLocaleString("en-US")}, HEALTH_CACHE=${r.cache}: ${r.informers ? `informers (objects per kind: ${r.informers.kinds}; heap after sync ${f(r.informers.heapMb)} MiB); ` : ""}LISTs of one sweep by resource: ${r.callsByResource}; later sweeps ${r.sweepMs.map(f).join(", ")} ms, CPU ${r.sweepCpuMs.map(f).join(", ")} ms (last one by phase: ${r.phases}); seeding ${f(r.seedMs)} ms`,
    ),
    "",
  ].join("\n");
  process.stdout.write(`${out}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

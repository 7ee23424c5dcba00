/**
 * Control-plane time from `POST /api/subscriptions` to RUNNING, on real PostgreSQL and the Kubernetes
 * API emulator with a pod-ready delay of 0 (so the numbers are the control plane's own cost, not a
 * simulated image pull). The emulator runs in its own process (bench/lib/emulator-process.ts) and the
 * control plane in cluster mode against it, as against a real API server: the API server's work is not
 * the control plane's, and it no longer shares the control plane's one JavaScript thread.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:provisioning
 *
 * A fresh database is created next to the one DATABASE_URL names and dropped afterwards.
 * Phase 1: N sequential subscriptions (default 100), each timed from the POST to the instance's
 *          provisionedAt; cluster API calls per provisioning from the emulator's call recorder.
 * Phase 2: C concurrent subscriptions (default 50) from C users; throughput = C / wall time until
 *          the last one is RUNNING.
 * Results are printed as a Markdown section to paste into bench/RESULTS.md.
 * Settings: BENCH_SEQUENTIAL, BENCH_CONCURRENT, BENCH_STATEMENTS=1 (the statements by text), BENCH_POOL_SIZE
 * (the control plane's DATABASE_POOL_SIZE; default 10), and
 * BENCH_EMULATOR_NODE_ARGS (extra node flags for the emulator's process, e.g. "--cpu-prof --cpu-prof-dir=<dir>";
 * for this process's own profile, run `node --cpu-prof --import tsx bench/provisioning.ts`).
 */
import type { AddressInfo } from "node:net";
import os from "node:os";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import {
  ADMIN_DATABASE_URL,
  BENCH_POOL_SIZE,
  coresAllow,
  cpuMeter,
  cpuMs,
  createBenchDatabase,
  inProcessBenchEnv,
  machineLine,
  percentile,
  runMain,
} from "./lib/common.js";
import { startEmulatorProcess } from "./lib/processes.js";
import { createApp } from "../src/app.js";
import { createHttpServer } from "../src/platform/http/server.js";
import { loadConfig } from "../src/config/index.js";
import { buildContainer } from "../src/container.js";

const N = Number(process.env.BENCH_SEQUENTIAL ?? 100);
const C = Number(process.env.BENCH_CONCURRENT ?? 50);
/** BENCH_STATEMENTS=1: also list the statements of the concurrent phases, by text (first 110 characters). */
const STATEMENTS = Boolean(process.env.BENCH_STATEMENTS);
const statementTexts = new Map<string, number>();
const adminUrl = ADMIN_DATABASE_URL;

async function main(): Promise<void> {
  const benchDb = await createBenchDatabase("minispod_bench");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "minispod-bench-"));
  const kubeconfig = path.join(tmp, "kubeconfig");
  const emulator = startEmulatorProcess(kubeconfig);
  await emulator.ask(undefined, "ready");
  const emulatorPid = emulator.child.pid as number;

  const config = loadConfig({
    ...inProcessBenchEnv({ databaseUrl: benchDb.url, dataDir: path.join(tmp, "data") }),
    // The emulator's kubeconfig is plain http: allowed outside production.
    K8S_MODE: "cluster",
    KUBECONFIG_PATH: kubeconfig,
    RECONCILE_CONCURRENCY: "16",
    ...(BENCH_POOL_SIZE !== undefined ? { DATABASE_POOL_SIZE: String(BENCH_POOL_SIZE) } : {}),
  });
  const container = await buildContainer(config);
  const app = createApp(container);
  // The server src/index.ts serves the app with (the app's prototypes on every request and response).
  const server = createHttpServer(app).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await container.startLoops();
  const prisma = container.db.prisma;

  const plan = await prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } });
  // SQL statements per instance: every query the pg driver sends during phases 2 and 3 (Prisma's adapter
  // and the raw pools alike), counted by wrapping pg.Client#query — minus this driver's own polling.
  let statements = 0;
  let counting = false;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (counting) {
      statements += 1;
      if (STATEMENTS) {
        const a = args[0] as string | { text?: string };
        const text = (typeof a === "string" ? a : (a?.text ?? "?")).replace(/\s+/g, " ").trim().slice(0, 110);
        statementTexts.set(text, (statementTexts.get(text) ?? 0) + 1);
      }
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  // The driver's own statements (its polling, the CPU meter's) are counted apart and subtracted.
  let driverStatements = 0;
  const driverQuery = async <T>(f: () => Promise<T>): Promise<T> => {
    const before = statements;
    try {
      return await f();
    } finally {
      driverStatements += statements - before;
    }
  };

  async function newUser(i: number): Promise<{ id: string; token: string }> {
    const r = await container.services.auth.register(
      { email: `bench-${i}-${Date.now()}@example.com`, password: "bench-password-1", name: "Bench" },
      undefined,
    );
    await container.services.ledger.post(prisma, { userId: r.user.id, type: "TOPUP", amount: 1_000_000, reason: "bench" });
    return { id: r.user.id, token: r.accessToken };
  }
  async function subscribe(token: string, name: string): Promise<string> {
    const res = await fetch(`${base}/api/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ planId: plan.id, instanceName: name }),
    });
    if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { instance: { id: string } }).instance.id;
  }
  // The driver polls through its own connection, one cheap statement every 25 ms: polling as fast as it
  // could through the app's pool (as before) took pool connections and CPU from the control plane it
  // measures (on a busy machine most of the "per instance" CPU was the poll). Latencies and wall times
  // come from the rows' provisionedAt, so the poll interval does not change them.
  const pollPool = new pg.Pool({ connectionString: benchDb.url, max: 1 });
  async function waitRunning(ids: string[], timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await driverQuery(() =>
        pollPool.query<{ not_done: number; failed: string | null }>(
          `SELECT count(*) FILTER (WHERE "status" <> 'RUNNING')::int AS not_done,
                max("status_message") FILTER (WHERE "status" = 'FAILED') AS failed
           FROM "instances" WHERE "id" = ANY($1::text[])`,
          [ids],
        ),
      );
      const r = rows[0];
      if (r?.failed) throw new Error(`provisioning failed: ${r.failed}`);
      if (r?.not_done === 0) return;
      if (Date.now() > deadline) throw new Error(`${r?.not_done} instances not RUNNING in time`);
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  // Warm-up: first requests compile code paths, fill connection pools and the cluster client's discovery cache.
  const warm = await newUser(-1);
  await waitRunning([await subscribe(warm.token, "warm up")]);

  // Phase 1: sequential.
  const seqUser = await newUser(0);
  const latencies: number[] = [];
  const callsPer: number[] = [];
  let lastCalls: Record<string, number> = {};
  for (let i = 0; i < N; i++) {
    await emulator.ask({ type: "reset" }, "reset");
    const t0 = Date.now();
    const id = await subscribe(seqUser.token, `seq ${i}`);
    await waitRunning([id]);
    const row = await prisma.instance.findUniqueOrThrow({ where: { id } });
    latencies.push((row.provisionedAt as Date).getTime() - t0);
    const counts = await emulator.ask({ type: "counts" }, "counts");
    callsPer.push(counts.total);
    lastCalls = counts.byCall;
  }

  // CPU per instance: this process (API, reconciler, emulator and this driver) and the database's backends.
  const meterPool = new pg.Pool({ connectionString: benchDb.url, max: 1 });
  const meter = cpuMeter(process.pid, meterPool);
  let emulator0 = 0;
  const startMeters = async () => {
    await meter.start();
    emulator0 = cpuMs(emulatorPid);
  };
  const perInstance = async (n: number) => {
    const { apiMs, dbMs } = await meter.stop();
    const emulatorMs = cpuMs(emulatorPid) - emulator0;
    return { app: (apiMs / n).toFixed(1), db: (dbMs / n).toFixed(1), emulator: (emulatorMs / n).toFixed(1) };
  };

  // Phase 2: concurrent.
  const users = await Promise.all(Array.from({ length: C }, (_, i) => newUser(i + 1)));
  await startMeters();
  counting = true;
  const t0 = Date.now();
  const ids = await Promise.all(users.map((u, i) => subscribe(u.token, `burst ${i}`)));
  const acceptedMs = Date.now() - t0;
  await waitRunning(ids);
  const cpu1 = await driverQuery(() => perInstance(C));
  const burst = await prisma.instance.findMany({ where: { id: { in: ids } }, select: { provisionedAt: true } });
  const burstLat = burst.map((r) => (r.provisionedAt as Date).getTime() - t0).sort((a, b) => a - b);
  const wallMs = burstLat.at(-1) as number;

  // Phase 3: the same users' second instances, concurrently (their tenant baselines are in place).
  await driverQuery(() => startMeters());
  const t1 = Date.now();
  const ids2 = await Promise.all(users.map((u, i) => subscribe(u.token, `second ${i}`)));
  const acceptedMs2 = Date.now() - t1;
  await waitRunning(ids2);
  counting = false;
  const cpu2 = await perInstance(C);
  await meterPool.end();
  await pollPool.end();
  const burst2 = await prisma.instance.findMany({ where: { id: { in: ids2 } }, select: { provisionedAt: true } });
  const burstLat2 = burst2.map((r) => (r.provisionedAt as Date).getTime() - t1).sort((a, b) => a - b);
  const wallMs2 = burstLat2.at(-1) as number;

  // The throughput the machine's cores allow at the measured CPU per instance (all three processes).
  const ceiling = (c: { app: string; db: string; emulator: string }) =>
    Math.round(coresAllow(Number(c.app) + Number(c.db) + Number(c.emulator)));
  const firstCalls = callsPer[0];
  latencies.sort((a, b) => a - b);
  callsPer.sort((a, b) => a - b);
  const out = [
    `## Provisioning: POST /api/subscriptions -> RUNNING`,
    "",
    machineLine(),
    `- command: \`DATABASE_URL=${adminUrl} npm run bench:provisioning\` (BENCH_SEQUENTIAL=${N}, BENCH_CONCURRENT=${C})`,
    "- PostgreSQL (fresh database), the Kubernetes API emulator in its own process (pod-ready delay 0; the control plane in cluster mode against it), reconciler concurrency 16, real HTTP on loopback",
    "",
    "| run | n | p50 ms | p95 ms | p99 ms | max ms |",
    "| --- | --- | --- | --- | --- | --- |",
    `| sequential | ${N} | ${percentile(latencies, 50)} | ${percentile(latencies, 95)} | ${percentile(latencies, 99)} | ${latencies.at(-1)} |`,
    `| ${C} concurrent, new users (first instances) | ${C} | ${percentile(burstLat, 50)} | ${percentile(burstLat, 95)} | ${percentile(burstLat, 99)} | ${burstLat.at(-1)} |`,
    `| ${C} concurrent, the same users' second instances | ${C} | ${percentile(burstLat2, 50)} | ${percentile(burstLat2, 95)} | ${percentile(burstLat2, 99)} | ${burstLat2.at(-1)} |`,
    "",
    `- ${C} concurrent subscriptions of new users: all accepted (201) in ${acceptedMs} ms, all RUNNING after ${wallMs} ms (the last provisionedAt): ${(C / (wallMs / 1000)).toFixed(1)} instances/s`,
    `- ${C} concurrent second subscriptions: all accepted (201) in ${acceptedMs2} ms, all RUNNING after ${wallMs2} ms (the last provisionedAt): ${(C / (wallMs2 / 1000)).toFixed(1)} instances/s`,
    `- CPU per instance (user + system, /proc; the load a busy machine does not change): new users ${cpu1.app} ms in this process (API, reconciler, this driver's requests and polling) + ${cpu1.db} ms in PostgreSQL (+ ${cpu1.emulator} ms in the emulator's process); second instances ${cpu2.app} ms + ${cpu2.db} ms (+ ${cpu2.emulator} ms); load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
    `- what the CPU allows: with ${os.availableParallelism()} cores and the three processes' CPU per instance above, at most ${ceiling(cpu1)} instances/s for new users and ${ceiling(cpu2)} for second instances, were every core busy with nothing else (measured: ${Math.round((100 * C) / (wallMs / 1000) / ceiling(cpu1))}% and ${Math.round((100 * C) / (wallMs2 / 1000) / ceiling(cpu2))}% of that)`,
    `- SQL statements per instance in the concurrent phases (every query sent through the pg driver, less this driver's polling): ${((statements - driverStatements) / (2 * C)).toFixed(1)}`,
    `- cluster API calls per provisioning (sequential, one user): the user's first ${firstCalls}; median ${percentile(callsPer, 50)}, min ${callsPer[0]}, max ${callsPer.at(-1)}`,
    `- calls of the last (not the first) provisioning by verb and resource: ${Object.entries(lastCalls)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    ...(STATEMENTS
      ? [
          "",
          "| statements per instance | text |",
          "| --- | --- |",
          ...[...statementTexts]
            .sort((a, b) => b[1] - a[1])
            .map(([text, n]) => `| ${(n / (2 * C)).toFixed(2)} | \`${text.replaceAll("|", "\\|").replaceAll("`", "'")}\` |`),
        ]
      : []),
  ].join("\n");
  process.stdout.write(`${out}\n`);

  await new Promise((r) => server.close(r));
  await container.close();
  await emulator.stop();
  await benchDb.drop();
}

runMain(main);

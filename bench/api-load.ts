/**
 * API latency and throughput under concurrent load, side by side with a raw `pg` query of the same
 * rows at the same concurrency. The API runs as its own process (PostgreSQL, K8S_MODE=cluster with a
 * kubeconfig), the Kubernetes API emulator as another (bench/lib/emulator-process.ts); this process is
 * the load generator, on loopback, bounded in time.
 *
 * The fleet is converged, as production's would be: every fleet instance has its cluster objects in the
 * emulator, its applied-fields hashes and applied generation recorded on its row and its credentials
 * stored (bench/lib/health-fleet.ts, the health benchmark's fleet), so the API's background loops have
 * nothing to repair, apply or adopt while the benchmark measures. One health sweep through the API
 * (POST /api/admin/health/check) checks that before measuring; the cluster calls the API made during
 * the measurement (its minispod_kube_api_calls_total, and the emulator's own count) are printed.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:api                    # the API under tsx (npm start)
 *   npm run build && DATABASE_URL=... BENCH_SERVER=dist npm run bench:api                             # the compiled server (node dist/index.js)
 *
 * Each scenario runs an API phase and then a raw phase (a `pg.Pool` as large as the API's, the same
 * number of concurrent workers, a plain query of the same rows: the instances joined to their service
 * and plan, the user's balance, the summary's and the stats' own SQL) and prints the ratio
 * raw req/s : API req/s. Rounds are interleaved (API, raw, next scenario, ..., then the next round)
 * so load from other processes hits both sides alike; every number printed is the median of the rounds.
 *
 * Settings (environment):
 *   BENCH_SERVER        tsx (default: what `npm start` runs, `node ... --import tsx src/index.ts`) or dist (`npm run start:prod`)
 *                       (`npm run start:prod`'s node arguments: the compiled server as it ships; run `npm run build` first)
 *   BENCH_CONCURRENCY   workers for the user endpoints (default 50)
 *   BENCH_ADMIN_CONCURRENCY workers for the admin health endpoints (default 10)
 *   BENCH_SECONDS       seconds per phase (default 2)      BENCH_ROUNDS  rounds (default 3: median of three)
 *   BENCH_INSTANCES     the user's instances, provisioned through the API (default 20)
 *   BENCH_FLEET         other instances for the admin health endpoints, seeded converged (rows by SQL,
 *                       objects in the emulator's store; default 10000)
 *   BENCH_PER_NAMESPACE fleet instances per namespace, one user each (default 10; 1: single-instance users)
 *   BENCH_POOL_SIZE     the API's connections to PostgreSQL (its DATABASE_POOL_SIZE) and the raw side's (default 10)
 *   BENCH_RAW_PREPARED=1 the raw side's statements named (prepared once per connection, as the API's reads are)
 *                       instead of unnamed, as `pool.query(text, values)` sends them (parsed and planned every time)
 *   BENCH_HISTORY_DAYS / BENCH_SWEEPS_PER_DAY  health history of that fleet: one sweep (a health check of
 *                       every fleet instance, one INSERT like the sweeper's) every 24/N hours (default 30 / 4)
 *   BENCH_ONLY          comma-separated scenario names to run (default all)
 *   BENCH_IDLE_SECONDS  seconds of no load before the rounds, to measure the background loops' CPU (default 5)
 *   BENCH_ALLOC=1       the API's allocations per request, in all and promoted to the old generation, with
 *                       their sites (V8's sampling heap profiler over the API phases of rounds 1 and 2)
 * The server's RSS (VmRSS from /proc) is sampled every 100 ms while the loops run; the peak is printed, in all
 * and per phase.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import {
  ADMIN_DATABASE_URL,
  BENCH_PER_NAMESPACE,
  BENCH_POOL_SIZE,
  coresAllow,
  type CpuMeter,
  cpuMeter,
  createBenchDatabase,
  machineLine,
  median,
  percentile,
  runMain,
  serverArgv,
  serverNodeArgs,
} from "./lib/common.js";
import { healthStatsSql, healthSummarySql } from "../src/modules/health/health.sql.js";
import { newCredentialsKey } from "../src/platform/credentials-cipher.js";
import { seedHealthHistory } from "./lib/health-history.js";
import { loadClient } from "./lib/http-load.js";
import { type AllocationSample, allocSamplerArgs, sampleAllocations } from "./lib/alloc.js";
import { type AskEmulator, benchServerEnv, exitOf, freePort, rssMb, startEmulatorProcess, stopChild } from "./lib/processes.js";

const SERVER = process.env.BENCH_SERVER ?? "tsx";
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const ADMIN_CONCURRENCY = Number(process.env.BENCH_ADMIN_CONCURRENCY ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 20);
const FLEET = Number(process.env.BENCH_FLEET ?? 10_000);
const HISTORY_DAYS = Number(process.env.BENCH_HISTORY_DAYS ?? 30);
const SWEEPS_PER_DAY = Number(process.env.BENCH_SWEEPS_PER_DAY ?? 4);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const ONLY = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
/**
 * BENCH_ALLOC=1: V8's sampling heap profiler in the API (bench/lib/alloc-sampler.mjs) over each API
 * phase of round 1 (everything allocated) and round 2 (only what survived the young generation), per
 * request. The profiler costs CPU: those rounds' timings are not comparable with a run without it.
 */
const ALLOC = Boolean(process.env.BENCH_ALLOC);
/** The API's pool size (its DATABASE_POOL_SIZE, default 10): the raw side gets the same number of connections. */
const API_POOL_SIZE = BENCH_POOL_SIZE ?? 10;
/** The raw side's statements prepared (named) rather than unnamed. */
const RAW_PREPARED = process.env.BENCH_RAW_PREPARED === "1";
const ADMIN = { email: "bench-admin@example.com", password: "bench-admin-password" };

const progress = (msg: string) => process.stderr.write(`[bench:api ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// biome-ignore lint/suspicious/noExplicitAny: benchmark fixtures read a few known fields of API answers
async function json(res: Response): Promise<any> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

interface PhaseResult {
  n: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU ms per request: the API process's and the database's. */
  apiCpu: number;
  dbCpu: number;
  /** This load generator's own CPU ms per request (HTTP client or pg client, and the loop). */
  genCpu: number;
}

/** `workers` loops calling `op` back to back for SECONDS; op resolves to true when the answer is right. */
async function phase(workers: number, op: (i: number) => Promise<boolean>, meter: CpuMeter): Promise<PhaseResult> {
  await meter.start();
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + SECONDS * 1000;
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      let i = w;
      while (Date.now() < end) {
        const s = performance.now();
        const ok = await op(i++);
        latencies.push(performance.now() - s);
        if (!ok) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const gen = process.cpuUsage(gen0);
  const cpu = await meter.stop();
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  return {
    n,
    rps: n / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    apiCpu: cpu.apiMs / n,
    dbCpu: cpu.dbMs / n,
    genCpu: (gen.user + gen.system) / 1000 / n,
  };
}

/** HISTORY_DAYS of health history of the (already seeded) fleet (bench/lib/health-history.ts). */
async function seedHistory(pool: pg.Pool, prefix: string): Promise<{ ms: number; checks: number; sweeps: number }> {
  const t0 = performance.now();
  const ids = (await pool.query<{ id: string }>(`SELECT "id" FROM "instances" WHERE "id" LIKE $1 ORDER BY "id"`, [`${prefix}%`])).rows.map(
    (r) => r.id,
  );
  const seeded = await seedHealthHistory(pool, ids, { days: HISTORY_DAYS, sweepsPerDay: SWEEPS_PER_DAY });
  return { ms: performance.now() - t0, ...seeded };
}

/**
 * The API process's event loop and GC as its /metrics show them (prom-client's default metrics):
 * the longest event-loop delay since the previous scrape (the histogram is reset at each scrape) and
 * the total GC time so far by kind. Scraped around each API phase, so a tail latency can be told from
 * a stalled event loop or a long collection.
 */
async function runtimeProbe(base: string): Promise<{ lagMaxMs: number; gcMs: Record<string, number>; dbReads: number; dbWrites: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const lag = /^minispod_nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  const gcMs: Record<string, number> = {};
  for (const m of text.matchAll(/^minispod_nodejs_gc_duration_seconds_sum\{[^}]*kind="([^"]+)"[^}]*\} (\S+)$/gm)) {
    gcMs[m[1] as string] = Number(m[2]) * 1000;
  }
  const counter = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    lagMaxMs: lag ? Number(lag[1]) * 1000 : Number.NaN,
    gcMs,
    dbReads: counter("minispod_db_reads_total"),
    dbWrites: counter("minispod_db_read_writes_total"),
  };
}

/** minispod_kube_api_calls_total from the API's /metrics, summed by verb. */
async function kubeCallsByVerb(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^minispod_kube_api_calls_total\{([^}]*)\} (\S+)$/gm)) {
    const verb = /verb="([^"]*)"/.exec(m[1] as string)?.[1] ?? "?";
    out[verb] = (out[verb] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The API's V8 heap from its /metrics (prom-client's default metrics), in MB: used and total (reserved). */
async function heapMb(base: string): Promise<{ used: number; total: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^minispod_${name} (\\S+)$`, "m").exec(text)?.[1]) / 2 ** 20;
  return { used: gauge("nodejs_heap_size_used_bytes"), total: gauge("nodejs_heap_size_total_bytes") };
}

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([, v]) => v > 0);
const fmtCounts = (xs: ReadonlyArray<readonly [string, number]>) => (xs.length ? xs.map(([k, v]) => `${k} ${v}`).join(", ") : "none");

const FLEET_PREFIX = "fleet-";

async function main(): Promise<void> {
  const benchDb = await createBenchDatabase("minispod_bench_api");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let stopping = false;
  const tmp = mkdtempSync(path.join(os.tmpdir(), "minispod-bench-api-"));
  const kubeconfig = path.join(tmp, "kubeconfig");
  const credentialsKey = newCredentialsKey();

  // The emulator in its own process, so its work is not the API's.
  const emulator = startEmulatorProcess(kubeconfig);
  const { ask } = emulator;
  let server: ChildProcess | undefined;
  let raw: pg.Pool | undefined;
  try {
    await ask(undefined, "ready");
    // BENCH_SERVER_NODE_ARGS: extra node flags for the API process, e.g. "--cpu-prof --cpu-prof-dir=prof"
    // (after the shipped ones: a flag given again overrides them).
    const extraArgs = [...(ALLOC ? allocSamplerArgs() : []), ...(process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean)];
    // The compiled server as `npm run start:prod` runs it: plain node, no tsx loader (the emulator
    // package, TypeScript, is imported only in emulated mode; this API runs in cluster mode).
    server = spawn(process.execPath, serverArgv(SERVER, extraArgs), {
      env: {
        ...benchServerEnv({
          port,
          databaseUrl: benchDb.url,
          dataDir: path.join(tmp, "data"),
          credentialsKey,
          kubeconfig,
          admin: ADMIN,
        }),
        LOGIN_RATE_LIMIT_PER_MINUTE: "100000",
        DATABASE_POOL_SIZE: String(API_POOL_SIZE),
      },
      // The access log goes to /dev/null: the server still formats and writes every line.
      stdio: ["ignore", "ignore", "inherit", ...(ALLOC ? (["ipc"] as const) : [])],
    });
    const serverDied = exitOf(server, "API server", () => stopping);
    // Every wait below also ends, with an error, when either process dies (a fatal error at start, a crash).
    const guard = <T>(p: Promise<T>) => Promise.race([p, serverDied, emulator.died]);
    raw = new pg.Pool({ connectionString: benchDb.url, max: API_POOL_SIZE });
    await guard(measure(base, server, raw, ask, benchDb.url, credentialsKey));
  } finally {
    stopping = true;
    await raw?.end();
    if (server) await stopChild(server);
    await emulator.stop();
    await benchDb.drop();
  }
}

async function measure(
  base: string,
  server: ChildProcess,
  raw: pg.Pool,
  ask: AskEmulator,
  dbUrl: string,
  credentialsKey: string,
): Promise<void> {
  {
    const deadline = Date.now() + 180_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error("server did not become ready");
      await new Promise((r) => setTimeout(r, 200));
    }

    progress("server ready; provisioning the user's instances");
    // Fixture: a user with credits, a quota for INSTANCES instances, and INSTANCES RUNNING instances.
    const send = (method: string, p: string, body: unknown, token?: string, headers: Record<string, string> = {}) =>
      fetch(`${base}${p}`, {
        method,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        body: JSON.stringify(body),
      });
    const adminToken = (await json(await send("POST", "/api/auth/login", ADMIN))).accessToken as string;
    const user = await json(
      await send("POST", "/api/auth/register", { email: "bench-user@example.com", password: "bench-password-1", name: "Bench" }),
    );
    const token = user.accessToken as string;
    const userId = user.user.id as string;
    await json(
      await send("POST", `/api/admin/users/${userId}/credits`, { amount: 1_000_000, reason: "bench" }, adminToken, {
        "Idempotency-Key": "bench-1",
      }),
    );
    await json(
      await send(
        "PUT",
        `/api/admin/users/${userId}/quota`,
        { maxInstances: INSTANCES, cpuMilli: 1_000_000, memoryMb: 10_000_000, storageGb: 1_000_000 },
        adminToken,
      ),
    );
    const services = await json(await fetch(`${base}/api/services`));
    const planId = services.data.find((s: { slug: string }) => s.slug === "ghost").plans[0].id as string;
    const ids: string[] = [];
    for (let k = 0; k < INSTANCES; k++) {
      ids.push((await json(await send("POST", "/api/subscriptions", { planId, instanceName: `bench ${k}` }, token))).instance.id);
    }
    for (;;) {
      const list = await json(await fetch(`${base}/api/instances?status=RUNNING`, { headers: { authorization: `Bearer ${token}` } }));
      if (list.page.total === INSTANCES) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    progress(`${INSTANCES} instances RUNNING; seeding the fleet`);
    const fleet = await ask(
      { type: "seed", dbUrl, count: FLEET, prefix: FLEET_PREFIX, credentialsKey, perNamespace: BENCH_PER_NAMESPACE },
      "seeded",
    );
    progress(
      `fleet seeded in ${(fleet.ms / 1000).toFixed(1)} s (${fleet.instances} instances, ${fleet.namespaces} namespaces); seeding its history`,
    );
    const seeded = await seedHistory(raw, FLEET_PREFIX);
    await raw.query("ANALYZE");
    // Converged? One sweep of every RUNNING instance through the API: nothing missing, nothing drifted.
    const sweepStart = performance.now();
    const check = await json(await send("POST", "/api/admin/health/check", {}, adminToken));
    const sweepMs = performance.now() - sweepStart;
    type Checked = { observed: string; missing: string[]; drifted: unknown[] };
    const results = check.results as Checked[];
    const notConverged = results.filter((r) => r.missing.length || r.drifted.length).length;
    const unhealthy = results.filter((r) => r.observed !== "HEALTHY").length;
    if (results.length !== FLEET + INSTANCES || notConverged || check.repaired.length) {
      throw new Error(
        `the fleet is not converged: swept ${results.length} of ${FLEET + INSTANCES}, ${notConverged} with missing/drifted objects, ${check.repaired.length} repairs requested; e.g. ${JSON.stringify(results.find((r) => r.missing.length || r.drifted.length))}`,
      );
    }
    progress(
      `convergence sweep ${(sweepMs / 1000).toFixed(1)} s: ${results.length} instances, none missing or drifted, ${unhealthy} not HEALTHY; measuring`,
    );

    const auth = { authorization: `Bearer ${token}` };
    const adminAuth = { authorization: `Bearer ${adminToken}` };
    // The lean keep-alive client (bench/lib/http-load.ts): on two cores the load generator's CPU is taken
    // from the server it measures. With fetch (undici) GET /healthz measured 1,221 req/s where a
    // keep-alive node:http client measured 4,174 req/s on the same fixture; the lean client costs less
    // again than node:http (bench/RESULTS.md).
    const client = loadClient(base);
    const get = (p: string, headers?: Record<string, string>) => client.get(p, headers);
    // The raw side sends each statement as `pool.query(text, values)` does (unnamed: parsed and planned on
    // every execution), the plain driver use the issue measured against. BENCH_RAW_PREPARED=1 names them
    // instead (prepared once per connection, as the API's reads are: Database.read), the database's best.
    const statementNames = new Map<string, string>();
    const q = async (text: string, values: unknown[], expectRows = 1) => {
      if (!RAW_PREPARED) return (await raw.query(text, values)).rows.length >= expectRows;
      let name = statementNames.get(text);
      if (name === undefined) {
        name = `bench_raw_${statementNames.size}`;
        statementNames.set(text, name);
      }
      return (await raw.query({ name, text, values })).rows.length >= expectRows;
    };
    // The columns the body shows (toInstanceView's source), plain: not `i.*`, whose other columns (the
    // reconciler's bookkeeping, the applied fields' hashes) the endpoint never reads and the raw side
    // would pay to decode.
    const rowsSql = (where: string) =>
      `SELECT i."id", i."name", i."k8s_name", i."status", i."status_message", i."desired_state", i."url", i."subdomain", i."namespace",
              i."health_status", i."health_reason", i."health_checked_at", i."subscription_id", i."provisioned_at", i."terminated_at",
              i."created_at", i."updated_at", s."id" AS "s_id", s."slug" AS "s_slug", s."name" AS "s_name",
              p."id" AS "p_id", p."slug" AS "p_slug", p."name" AS "p_name", p."cpu_milli", p."memory_mb", p."storage_gb", p."monthly_price_credits"
         FROM "instances" i JOIN "services" s ON s."id" = i."service_id" JOIN "plans" p ON p."id" = i."plan_id"
        WHERE ${where} ORDER BY i."created_at" DESC, i."id" DESC LIMIT 20`;
    const stats = healthStatsSql(new Date(Date.now() - 30 * 86_400_000), new Date(), 86_400);
    type Scenario = {
      name: string;
      workers: number;
      api: (i: number) => Promise<boolean>;
      raw?: { label: string; op: (i: number) => Promise<boolean> };
    };
    const all: Scenario[] = [
      { name: "GET /healthz", workers: CONCURRENCY, api: () => get("/healthz") },
      {
        name: `GET /api/instances (${INSTANCES} rows)`,
        workers: CONCURRENCY,
        api: () => get("/api/instances", auth),
        raw: {
          label: "the columns the body shows, joined to service and plan",
          op: () => q(rowsSql(`i."user_id" = $1`), [userId], Math.min(INSTANCES, 20)),
        },
      },
      {
        name: "GET /api/instances/:id",
        workers: CONCURRENCY,
        api: (i) => get(`/api/instances/${ids[i % ids.length]}`, auth),
        raw: {
          label: "the columns the body shows, joined to service and plan (one row)",
          op: (i) => q(rowsSql(`i."id" = $1 AND i."user_id" = $2`), [ids[i % ids.length], userId]),
        },
      },
      {
        name: "GET /api/credits",
        workers: CONCURRENCY,
        api: () => get("/api/credits", auth),
        raw: { label: "the user's balance", op: () => q(`SELECT "credit_balance" FROM "users" WHERE "id" = $1`, [userId]) },
      },
      {
        name: `GET /api/admin/health/summary (${FLEET + INSTANCES} instances)`,
        workers: ADMIN_CONCURRENCY,
        api: () => get("/api/admin/health/summary", adminAuth),
        raw: {
          label: "the endpoint's own SQL",
          op: () => {
            const summary = healthSummarySql(new Date());
            return q(summary.text, summary.values);
          },
        },
      },
      {
        name: `GET /api/admin/health/stats?range=30d (${seeded.checks} checks)`,
        workers: ADMIN_CONCURRENCY,
        api: () => get("/api/admin/health/stats?range=30d", adminAuth),
        raw: { label: "the endpoint's own SQL", op: () => q(stats.text, stats.values, 30) },
      },
    ];
    const scenarios = all.filter((s) => !ONLY || ONLY.some((o) => s.name.includes(o)));

    // Sanity: the API answers 200 for every scenario before timing anything.
    for (const sc of scenarios) if (!(await sc.api(0))) throw new Error(`${sc.name} did not answer 200`);

    const measured = new Map<string, { api: PhaseResult[]; raw: PhaseResult[] }>();
    /** Per API phase: the longest event-loop delay, and GC ms per second of the phase by kind. */
    const runtime = new Map<
      string,
      Array<{ lagMaxMs: number; minor: number; major: number; incremental: number; readsPerWrite: number }>
    >();
    type Sampled = { perRequest: number; sites: AllocationSample["sites"]; n: number };
    const allocations = new Map<string, { allocated?: Sampled; promoted?: Sampled }>();
    const callsBefore = await kubeCallsByVerb(base);
    const emulatorBefore = await ask({ type: "counts" }, "counts");
    // Its heap still holds what the convergence sweep (10,000 results, 13 LISTs) grew it to: V8 keeps it.
    const startRss = rssMb(server.pid as number);
    const startHeap = await heapMb(base);
    let peakRss = 0;
    /** Which phase the sampler sees: an endpoint's API phase, its raw phase (the API idle), or the idle floor. */
    let phaseNow = "the idle seconds";
    const peakByPhase = new Map<string, number>();
    const sampler = setInterval(() => {
      const rss = rssMb(server.pid as number);
      peakRss = Math.max(peakRss, rss);
      peakByPhase.set(phaseNow, Math.max(peakByPhase.get(phaseNow) ?? 0, rss));
    }, 100);
    const loads: string[] = [];
    const meter = cpuMeter(server.pid as number, raw);
    // What the API's background loops (reconciler, renewal, backups, token revocation, informers) and
    // the database cost with no request at all: the floor under every CPU-per-request number below.
    await meter.start();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idle = await meter.stop();
    for (let r = 0; r < ROUNDS; r++) {
      progress(`round ${r + 1} of ${ROUNDS}`);
      loads.push(
        os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(" "),
      );
      for (const sc of scenarios) {
        const entry = measured.get(sc.name) ?? { api: [], raw: [] };
        measured.set(sc.name, entry);
        const before = await runtimeProbe(base);
        phaseNow = sc.name;
        const run = () => phase(sc.workers, sc.api, meter);
        let api: PhaseResult;
        if (ALLOC && r < 2) {
          const sampled = await sampleAllocations(server, run, { minor: r === 0, top: 6 });
          api = sampled.result;
          const a = allocations.get(sc.name) ?? {};
          a[r === 0 ? "allocated" : "promoted"] = { perRequest: sampled.sample.totalBytes / api.n, sites: sampled.sample.sites, n: api.n };
          allocations.set(sc.name, a);
        } else api = await run();
        const after = await runtimeProbe(base);
        entry.api.push(api);
        const rt = runtime.get(sc.name) ?? [];
        runtime.set(sc.name, rt);
        const gc = (kind: string) => ((after.gcMs[kind] ?? 0) - (before.gcMs[kind] ?? 0)) / SECONDS;
        // Statements on the driver's hot path per write to PostgreSQL (src/platform/db/pipelined-reads.ts).
        const readsPerWrite = (after.dbReads - before.dbReads) / (after.dbWrites - before.dbWrites);
        rt.push({ lagMaxMs: after.lagMaxMs, minor: gc("minor"), major: gc("major"), incremental: gc("incremental"), readsPerWrite });
        phaseNow = "raw phases (the API idle)";
        if (sc.raw) entry.raw.push(await phase(sc.workers, sc.raw.op, meter));
      }
    }
    clearInterval(sampler);
    client.close();
    const endRss = rssMb(server.pid as number);
    const endHeap = await heapMb(base);
    const apiCalls = diff(await kubeCallsByVerb(base), callsBefore);
    const emulatorAfter = await ask({ type: "counts" }, "counts");
    const emulatorCalls = diff(emulatorAfter.byVerb, emulatorBefore.byVerb);
    progress(
      `cluster calls since start: the API's ${fmtCounts(Object.entries(await kubeCallsByVerb(base)))}; the emulator served ${emulatorAfter.total}`,
    );
    const applies = apiCalls.filter(([verb]) => ["apply", "create", "update", "patch", "delete"].includes(verb));

    const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
    const rows = scenarios.map((sc) => {
      const e = measured.get(sc.name) as { api: PhaseResult[]; raw: PhaseResult[] };
      const m = (xs: PhaseResult[], k: keyof PhaseResult) => median(xs.map((x) => x[k]));
      const apiRps = m(e.api, "rps");
      const rawRps = e.raw.length ? m(e.raw, "rps") : Number.NaN;
      const ratios = e.raw.map((x, k) => x.rps / (e.api[k] as PhaseResult).rps);
      const errs = e.api.reduce((n, x) => n + x.errors, 0) + e.raw.reduce((n, x) => n + x.errors, 0);
      const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");
      const cpuApi = m(e.api, "apiCpu");
      const cpuApiDb = m(e.api, "dbCpu");
      const cpuRaw = e.raw.length ? m(e.raw, "dbCpu") : Number.NaN;
      const gen = `${f2(m(e.api, "genCpu"))} / ${e.raw.length ? f2(m(e.raw, "genCpu")) : "-"}`;
      // The req/s the machine's cores allow at this CPU per request (API, its database and the load
      // generator, all on this machine), and how much of it the phase reached.
      const ceiling = coresAllow(cpuApi + cpuApiDb + m(e.api, "genCpu"));
      // And what the API's one JavaScript thread allows at its CPU per request, whatever the cores: its
      // process's CPU includes V8's helper threads, so this is a lower bound of that ceiling.
      const oneThread = cpuApi > 0 ? 1000 / cpuApi : Number.NaN;
      const allowed = Number.isFinite(ceiling)
        ? `${ceiling.toFixed(0)} (${((100 * apiRps) / ceiling).toFixed(0)}%); ${Number.isFinite(oneThread) ? oneThread.toFixed(0) : "-"}`
        : "-";
      return `| ${sc.name} | ${sc.workers} | ${apiRps.toFixed(0)} | ${f1(m(e.api, "p50"))} | ${f1(m(e.api, "p99"))} | ${e.raw.length ? rawRps.toFixed(0) : "-"} | ${e.raw.length ? f1(m(e.raw, "p50")) : "-"} | ${e.raw.length ? f1(m(e.raw, "p99")) : "-"} | ${ratios.length ? `${median(ratios).toFixed(2)}x` : "-"} | ${f2(cpuApi)} | ${f2(cpuApiDb)} | ${f2(cpuRaw)} | ${gen} | ${allowed} | ${errs} |`;
    });
    const cmd =
      SERVER === "dist"
        ? `npm run build && DATABASE_URL=${ADMIN_DATABASE_URL} BENCH_SERVER=dist npm run bench:api`
        : `DATABASE_URL=${ADMIN_DATABASE_URL} npm run bench:api`;
    process.stdout.write(
      [
        `## API vs raw query, side by side (node ${serverNodeArgs(SERVER).join(" ")}, as ${SERVER === "dist" ? "npm run start:prod" : "npm start"})`,
        "",
        machineLine(),
        `- load average (1, 5, 15 min) at the start of each round: ${loads.join(" | ")}`,
        `- command: \`${cmd}\` (BENCH_SECONDS=${SECONDS} per phase, BENCH_ROUNDS=${ROUNDS}: medians of ${ROUNDS})`,
        `- fixture: one user with ${INSTANCES} RUNNING instances (provisioned through the API); a converged fleet of ${fleet.instances} more RUNNING instances in ${fleet.namespaces} namespaces (rows, credentials and applied-fields hashes in PostgreSQL, their objects in the emulator: bench/lib/health-fleet.ts) seeded in ${(fleet.ms / 1000).toFixed(1)} s, and ${HISTORY_DAYS} days of health history (${seeded.sweeps} sweeps, ${seeded.checks} checks) seeded by SQL in ${(seeded.ms / 1000).toFixed(1)} s`,
        `- the API in its own process (PostgreSQL, pool of ${API_POOL_SIZE}, K8S_MODE=cluster, log level ${process.env.BENCH_LOG_LEVEL ?? "info"} to /dev/null), the Kubernetes API emulator in another; raw = \`pg.Pool\` of ${API_POOL_SIZE} in the load generator, same workers, ${RAW_PREPARED ? "named statements (prepared once per connection)" : "unnamed statements (as `pool.query(text, values)` sends them)"}; ratio = raw req/s / API req/s`,
        `- converged before measuring: one health sweep through the API (POST /api/admin/health/check, ${(sweepMs / 1000).toFixed(1)} s) found ${results.length} instances, none with missing or drifted objects, ${check.repaired.length} repairs requested`,
        `- cluster calls during the measurement: the API's (minispod_kube_api_calls_total by verb) ${fmtCounts(apiCalls)}; writes (apply/create/update/patch/delete) ${applies.reduce((n, [, v]) => n + v, 0)}; served by the emulator ${fmtCounts(emulatorCalls)}`,
        `- API server (its process only) peak RSS while the loops ran: ${peakRss.toFixed(0)} MB (${startRss.toFixed(0)} MB when they started, right after the convergence sweep; ${endRss.toFixed(0)} MB at the end); its V8 heap (/metrics: nodejs_heap_size_used_bytes of nodejs_heap_size_total_bytes, garbage not yet collected included) ${startHeap.used.toFixed(0)} of ${startHeap.total.toFixed(0)} MB when they started, ${endHeap.used.toFixed(0)} of ${endHeap.total.toFixed(0)} MB at the end`,
        `- the API's peak RSS by phase (MB, over all rounds): ${[...peakByPhase].map(([name, mb]) => `${name} ${mb.toFixed(0)}`).join("; ")}`,
        `- with no requests at all (${IDLE_SECONDS} s before the rounds) the API process used ${(idle.apiMs / IDLE_SECONDS).toFixed(0)} ms of CPU per second and the bench database's backends ${(idle.dbMs / IDLE_SECONDS).toFixed(0)} ms/s: the background loops, included in the CPU ms/req columns below`,
        "- CPU ms/req: CPU time (user + system, /proc) of the API process, and of the PostgreSQL backends of the bench database, per request in the phase — the cost of a request, which a busy machine does not change the way it changes req/s",
        `- req/s the cores allow: ${os.availableParallelism()} cores × 1000 / (API + its DB + generator CPU ms per request), were they busy with nothing else; in brackets the share of it the phase reached; after the semicolon, 1000 / API CPU ms per request: what the API's one JavaScript thread allows at that cost (at least; the process's CPU includes V8's helper threads)`,
        "",
        "| request | workers | API req/s | API p50 ms | API p99 ms | raw q/s | raw p50 ms | raw p99 ms | raw/API | API CPU ms/req | its DB CPU ms/req | raw DB CPU ms/q | generator CPU ms/req (API / raw) | API req/s the cores allow (reached); one API thread | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ...rows,
        "",
        ...scenarios.filter((s) => s.raw).map((s) => `- raw for ${s.name}: ${s.raw?.label}`),
        "",
        "The API process during its phases (its /metrics, scraped before and after each phase; medians of the rounds, and the worst round's event-loop delay; statements per write: minispod_db_reads_total over minispod_db_read_writes_total, the reads that went to PostgreSQL together):",
        "",
        "| request | longest event-loop delay ms (median, worst) | GC ms per s: minor | major | incremental marking | statements per write to PostgreSQL (min-max) |",
        "| --- | --- | --- | --- | --- | --- |",
        ...scenarios.map((sc) => {
          const rt = runtime.get(sc.name) ?? [];
          const med = (k: "lagMaxMs" | "minor" | "major" | "incremental") => median(rt.map((x) => x[k]));
          const worst = Math.max(...rt.map((x) => x.lagMaxMs));
          // healthz sends none (NaN): only the background loops' statements, if any.
          const perWrite = rt.map((x) => x.readsPerWrite).filter((x) => Number.isFinite(x));
          const batching = perWrite.length ? `${Math.min(...perWrite).toFixed(2)}-${Math.max(...perWrite).toFixed(2)}` : "-";
          return `| ${sc.name} | ${f1(med("lagMaxMs"))}, ${f1(worst)} | ${f1(med("minor"))} | ${f1(med("major"))} | ${f1(med("incremental"))} | ${batching} |`;
        }),
        "",
        ...(ALLOC ? allocationReport(scenarios, allocations) : []),
      ].join("\n"),
    );
  }
}

/** BENCH_ALLOC's table: KB per request allocated (round 1) and promoted (round 2), and the sites of each. */
function allocationReport(
  scenarios: Array<{ name: string }>,
  allocations: Map<
    string,
    {
      allocated?: { perRequest: number; sites: AllocationSample["sites"]; n: number };
      promoted?: { perRequest: number; sites: AllocationSample["sites"]; n: number };
    }
  >,
): string[] {
  const kb = (b: number | undefined) => (b === undefined ? "-" : (b / 1024).toFixed(1));
  const sites = (x: { sites: AllocationSample["sites"]; n: number } | undefined) =>
    x ? x.sites.map((s) => `${(s.bytes / x.n / 1024).toFixed(1)} KB ${s.site}`).join("; ") : "-";
  return [
    "The API's allocations per request (BENCH_ALLOC=1: V8's sampling heap profiler, one sample per 32 KiB; round 1 counts every object, round 2 only those that survived the young generation, i.e. what grows the old one; those rounds ran slower):",
    "",
    "| request | KB allocated per request | KB promoted per request | sites that allocated most (KB per request) | sites whose objects were promoted most |",
    "| --- | --- | --- | --- | --- |",
    ...scenarios.map((sc) => {
      const a = allocations.get(sc.name);
      return `| ${sc.name} | ${kb(a?.allocated?.perRequest)} | ${kb(a?.promoted?.perRequest)} | ${sites(a?.allocated)} | ${sites(a?.promoted)} |`;
    }),
    "",
  ];
}

runMain(main);

/**
 * The API process's memory with a large converged fleet while its loops run: RSS (VmRSS, /proc) and
 * the V8 heap (prom-client's default metrics on /metrics: heap used and total, external memory, per
 * heap space) at each step — started, fleet seeded and absorbed by the informers, after a health sweep
 * of the whole fleet (POST /api/admin/health/check), and the peak over a few more sweeps. Processes as
 * in bench/api-load.ts: the emulator in its own process, the API in another (K8S_MODE=cluster).
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/api-memory.ts            # tsx, as npm start
 *   npm run build && DATABASE_URL=... BENCH_SERVER=dist npx tsx bench/api-memory.ts                    # node dist/index.js
 *
 * Settings: BENCH_SERVER (tsx | dist), BENCH_FLEET (default 10000), BENCH_PER_NAMESPACE (instances per
 * namespace, one user each; default 10, 1 for a fleet of single-instance users), BENCH_SWEEPS (more sweeps after the
 * first, default 3), BENCH_RESTART=1 (restart the API once the fleet is seeded, so that its informers LIST
 * the whole fleet, as when production starts), BENCH_SERVER_NODE_ARGS (extra node flags for the API, e.g.
 * "--heapsnapshot-signal=SIGUSR2"), BENCH_HEAPSNAPSHOT=1 (send SIGUSR2 after the first sweep and wait for
 * the snapshot, written in the working directory; needs that flag), BENCH_LOAD_SECONDS / BENCH_LOAD_WORKERS
 * (HTTP load after the sweeps: GET /healthz, the health summary and stats; default 5 s, 50 workers),
 * BENCH_ALLOC=1 (V8's sampling heap profiler in the API over the sweeps after the first: bytes allocated
 * per sweep, collected objects included, and the sites that allocated most; bench/lib/alloc-sampler.mjs).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { newCredentialsKey } from "../src/platform/credentials-cipher.js";
import { type AllocationSample, allocSamplerArgs, sampleAllocations } from "./lib/alloc.js";
import { BENCH_PER_NAMESPACE, createBenchDatabase, runMain, serverArgv } from "./lib/common.js";
import { benchServerEnv, freePort, rssMb, startEmulatorProcess, stopChild } from "./lib/processes.js";

const SERVER = process.env.BENCH_SERVER ?? "tsx";
const FLEET = Number(process.env.BENCH_FLEET ?? 10_000);
const SWEEPS = Number(process.env.BENCH_SWEEPS ?? 3);
/** BENCH_RESTART=1: restart the API once the fleet is seeded (its informers then LIST the whole fleet). */
const RESTART = Boolean(process.env.BENCH_RESTART);
/** Then HTTP load: BENCH_LOAD_SECONDS (default 5; 0: none) with BENCH_LOAD_WORKERS (default 50) concurrent loops. */
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);
const LOAD_WORKERS = Number(process.env.BENCH_LOAD_WORKERS ?? 50);
/** BENCH_ALLOC=1: allocation sampling over the sweeps after the first (bench/lib/alloc-sampler.mjs). */
const ALLOC = Boolean(process.env.BENCH_ALLOC);
const ADMIN = { email: "bench-admin@example.com", password: "bench-admin-password" };
const progress = (msg: string) => process.stderr.write(`[bench:memory ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** RSS by mapping (MB): anonymous, [heap] (malloc's brk), [stack], and the largest file-backed ones. */
function smaps(pid: number): string {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {
    return "";
  }
  const by = new Map<string, number>();
  const anon: number[] = [];
  let current = "anon";
  for (const line of text.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = head[1] ? path.basename(head[1] as string) : "anon";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      by.set(current, (by.get(current) ?? 0) + Number(rss[1]) / 1024);
      if (current === "anon") anon.push(Number(rss[1]) / 1024);
    }
  }
  const threads = /Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return `${[...by]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(", ")} (largest anon: ${anon
    .sort((a, b) => b - a)
    .slice(0, 6)
    .map((v) => v.toFixed(0))
    .join(", ")}; ${threads} threads)`;
}

/** The process and heap gauges of the API's /metrics, in MB. */
async function heapMb(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  const mb = (v: string) => Math.round((Number(v) / 2 ** 20) * 10) / 10;
  for (const m of text.matchAll(
    /^minispod_(nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes) (\S+)$/gm,
  )) {
    out[(m[1] as string).replace("nodejs_", "").replace("_bytes", "")] = mb(m[2] as string);
  }
  for (const m of text.matchAll(/^minispod_nodejs_heap_space_size_used_bytes\{space="([^"]+)"\} (\S+)$/gm)) {
    const v = mb(m[2] as string);
    if (v >= 1) out[`used.${m[1]}`] = v;
  }
  return out;
}

async function main(): Promise<void> {
  const db = await createBenchDatabase("minispod_bench_mem");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), "minispod-bench-mem-"));
  const kubeconfig = path.join(tmp, "kubeconfig");
  const credentialsKey = newCredentialsKey();
  const emulator = startEmulatorProcess(kubeconfig);
  const { ask } = emulator;
  let server: ChildProcess | undefined;
  try {
    await ask(undefined, "ready");
    const extraArgs = [...(ALLOC ? allocSamplerArgs() : []), ...(process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean)];
    const start = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, serverArgv(SERVER, extraArgs), {
        env: benchServerEnv({ port, databaseUrl: db.url, dataDir: path.join(tmp, "data"), credentialsKey, kubeconfig, admin: ADMIN }),
        stdio: ["ignore", process.env.BENCH_SERVER_LOG ? "inherit" : "ignore", "inherit", ...(ALLOC ? (["ipc"] as const) : [])],
      });
      for (const deadline = Date.now() + 180_000; ; ) {
        if (child.exitCode !== null) throw new Error(`the API exited (${child.exitCode})`);
        try {
          if ((await fetch(`${base}/readyz`)).ok) break;
        } catch {
          /* not yet */
        }
        if (Date.now() > deadline) throw new Error("server did not become ready");
        await new Promise((r) => setTimeout(r, 200));
      }
      return child;
    };
    server = await start();
    let pid = server.pid as number;
    const rows: string[] = [];
    /** "N instances in M namespaces", once the fleet is seeded. */
    let fleetShape = `${FLEET} instances`;
    const report = async (step: string) => {
      const h = await heapMb(base);
      const line = `| ${step} | ${rssMb(pid).toFixed(0)} | ${h.heap_size_used ?? "-"} | ${h.heap_size_total ?? "-"} | ${h.external_memory ?? "-"} | ${Object.entries(
        h,
      )
        .filter(([k]) => k.startsWith("used."))
        .map(([k, v]) => `${k.slice(5)} ${v}`)
        .join(", ")} | ${smaps(pid)} |`;
      rows.push(line);
      progress(line);
    };
    await report("ready");
    const token = (
      (await (
        await fetch(`${base}/api/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(ADMIN),
        })
      ).json()) as { accessToken: string }
    ).accessToken;
    const seeded = await ask(
      { type: "seed", dbUrl: db.url, count: FLEET, prefix: "fleet-", credentialsKey, perNamespace: BENCH_PER_NAMESPACE },
      "seeded",
    );
    fleetShape = `${seeded.instances} instances in ${seeded.namespaces} namespaces`;
    progress(`fleet of ${fleetShape} seeded in ${(seeded.ms / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 5000));
    await report("fleet seeded (+5 s)");
    if (RESTART) {
      // A restart with the fleet in place: the informers LIST all of it (production's start).
      await stopChild(server);
      server = await start();
      pid = server.pid as number;
      await new Promise((r) => setTimeout(r, 5000));
      await report("restarted with the fleet (+5 s)");
    }
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid));
    }, 50);
    const sweep = async () => {
      const t0 = performance.now();
      const res = await fetch(`${base}/api/admin/health/check`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      });
      const body = (await res.json()) as { results: unknown[] };
      if (!res.ok || body.results.length !== FLEET) throw new Error(`sweep: ${res.status} ${body.results?.length}`);
      return performance.now() - t0;
    };
    const first = await sweep();
    const peakFirst = peak;
    await report(`after sweep 1 (${(first / 1000).toFixed(1)} s)`);
    if (process.env.BENCH_HEAPSNAPSHOT) {
      const before = new Set(readdirSync("."));
      server.kill("SIGUSR2");
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const f = readdirSync(".").find((n) => n.endsWith(".heapsnapshot") && !before.has(n));
        if (f && statSync(f).size > 0) {
          await new Promise((r) => setTimeout(r, 3000));
          progress(`heap snapshot ${f}`);
          break;
        }
      }
    }
    const ms: number[] = [];
    const sweeps = async () => {
      for (let k = 0; k < SWEEPS; k++) ms.push(await sweep());
    };
    let alloc: AllocationSample | undefined;
    if (ALLOC) alloc = (await sampleAllocations(server, sweeps)).sample;
    else await sweeps();
    clearInterval(sampler);
    await report(`after ${SWEEPS} more sweeps`);
    // HTTP load: LOAD_WORKERS loops on GET /healthz, the health summary and a health stats range.
    let loadPeak = 0;
    let loadHeapPeak = 0;
    let requests = 0;
    if (LOAD_SECONDS > 0) {
      const paths = ["/healthz", "/api/admin/health/summary", "/api/admin/health/stats?range=24h"];
      const loadSampler = setInterval(() => {
        loadPeak = Math.max(loadPeak, rssMb(pid));
      }, 50);
      const heapSampler = setInterval(() => {
        void heapMb(base).then((h) => {
          loadHeapPeak = Math.max(loadHeapPeak, h.heap_size_total ?? 0);
        });
      }, 500);
      const end = Date.now() + LOAD_SECONDS * 1000;
      await Promise.all(
        Array.from({ length: LOAD_WORKERS }, async (_, w) => {
          for (let i = w; Date.now() < end; i++) {
            const res = await fetch(`${base}${paths[i % paths.length]}`, { headers: { authorization: `Bearer ${token}` } });
            await res.arrayBuffer();
            if (res.status !== 200) throw new Error(`${paths[i % paths.length]}: ${res.status}`);
            requests++;
          }
        }),
      );
      clearInterval(loadSampler);
      clearInterval(heapSampler);
      await report(`after ${LOAD_SECONDS} s of HTTP load (${requests} requests)`);
    }
    process.stdout.write(
      [
        `## API memory, ${fleetShape} (node ${serverArgv(SERVER, extraArgs).join(" ")})`,
        "",
        "| step | RSS MB | heap used MB | heap total MB | external MB | heap spaces used MB | RSS by mapping MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        ...rows,
        "",
        `- peak RSS: ${peakFirst.toFixed(0)} MB during the first sweep, ${peak.toFixed(0)} MB over all ${SWEEPS + 1}; sweeps took ${[first, ...ms].map((m) => (m / 1000).toFixed(1)).join(", ")} s`,
        ...(alloc
          ? [
              `- allocated by the API during the ${SWEEPS} sweeps after the first (V8's sampling heap profiler, collected objects included): ${(alloc.totalBytes / 2 ** 20).toFixed(0)} MB, ${(alloc.totalBytes / 2 ** 20 / Math.max(SWEEPS, 1)).toFixed(0)} MB per sweep; the sites that allocated most (MB per sweep):`,
              ...alloc.sites.map((x) => `  - ${(x.bytes / 2 ** 20 / Math.max(SWEEPS, 1)).toFixed(1)} ${x.site}`),
            ]
          : []),
        ...(LOAD_SECONDS > 0
          ? [
              `- HTTP load (${LOAD_WORKERS} workers, ${LOAD_SECONDS} s, ${requests} requests): peak RSS ${loadPeak.toFixed(0)} MB, peak V8 heap total (sampled every 0.5 s) ${loadHeapPeak} MB`,
            ]
          : []),
        "",
      ].join("\n"),
    );
  } finally {
    if (server) await stopChild(server);
    await emulator.stop();
    await db.drop();
  }
}

runMain(main);

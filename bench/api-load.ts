/**
 * API latency and throughput under concurrent load. The API runs as its own process (`src/index.ts`,
 * PostgreSQL, emulator); this process is the load generator, on loopback, bounded in time.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:api
 *
 * BENCH_CONCURRENCY (default 50) workers each send requests back to back for BENCH_SECONDS (default
 * 10) per scenario, over keep-alive connections. Results are printed as Markdown for bench/RESULTS.md.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { ADMIN_DATABASE_URL, createBenchDatabase, machineLine, percentile, runMain } from "./lib/common.js";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const adminUrl = ADMIN_DATABASE_URL;
const ADMIN = { email: "bench-admin@example.com", password: "bench-admin-password" };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function pct(sorted: number[], p: number): string {
  return sorted.length ? percentile(sorted, p).toFixed(1) : "-";
}

// biome-ignore lint/suspicious/noExplicitAny: benchmark fixtures read a few known fields of API answers
async function json(res: Response): Promise<any> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function main(): Promise<void> {
  const benchDb = await createBenchDatabase("minispod_bench_api");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  // BENCH_SERVER_NODE_ARGS: extra node flags for the API process, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const extraArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const server = spawn(process.execPath, [...extraArgs, "--import", "tsx", "src/index.ts"], {
    env: {
      ...process.env,
      NODE_ENV: "development",
      LOG_LEVEL: "warn",
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: benchDb.url,
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "minispod-bench-api-")),
      JWT_SECRET: "bench-secret-bench-secret-bench-secret-00",
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      K8S_MODE: "emulated",
      K8S_EMULATOR_POD_READY_DELAY: "0",
      LOGIN_RATE_LIMIT_PER_MINUTE: "100000",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error("server did not become ready");
      await new Promise((r) => setTimeout(r, 200));
    }

    // Fixture: a user with credits and three running instances.
    const post = (p: string, body: unknown, token?: string, headers: Record<string, string> = {}) =>
      fetch(`${base}${p}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        body: JSON.stringify(body),
      });
    const adminToken = (await json(await post("/api/auth/login", ADMIN))).accessToken as string;
    const user = await json(
      await post("/api/auth/register", { email: "bench-user@example.com", password: "bench-password-1", name: "Bench" }),
    );
    const token = user.accessToken as string;
    await json(
      await post(`/api/admin/users/${user.user.id}/credits`, { amount: 100_000, reason: "bench" }, adminToken, {
        "Idempotency-Key": "bench-1",
      }),
    );
    const services = await json(await fetch(`${base}/api/services`));
    const planId = services.data.find((s: { slug: string }) => s.slug === "ghost").plans[0].id as string;
    const ids: string[] = [];
    for (const name of ["one", "two", "three"]) {
      ids.push((await json(await post("/api/subscriptions", { planId, instanceName: name }, token))).instance.id);
    }
    for (;;) {
      const list = await json(await fetch(`${base}/api/instances?status=RUNNING`, { headers: { authorization: `Bearer ${token}` } }));
      if (list.page.total === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const auth = { authorization: `Bearer ${token}` };
    const scenarios: Array<{ name: string; request: (i: number) => Promise<Response> }> = [
      { name: "GET /healthz", request: () => fetch(`${base}/healthz`) },
      { name: "GET /api/services", request: () => fetch(`${base}/api/services`) },
      { name: "GET /api/credits", request: () => fetch(`${base}/api/credits`, { headers: auth }) },
      { name: "GET /api/instances", request: () => fetch(`${base}/api/instances`, { headers: auth }) },
      { name: "GET /api/instances/:id", request: (i) => fetch(`${base}/api/instances/${ids[i % ids.length]}`, { headers: auth }) },
    ];
    const rows: string[] = [];
    for (const sc of scenarios) {
      const latencies: number[] = [];
      let errors = 0;
      const end = Date.now() + SECONDS * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, w) => {
          let i = w;
          while (Date.now() < end) {
            const s = performance.now();
            const res = await sc.request(i++);
            await res.arrayBuffer();
            latencies.push(performance.now() - s);
            if (res.status !== 200) errors++;
          }
        }),
      );
      const elapsed = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      rows.push(
        `| ${sc.name} | ${latencies.length} | ${(latencies.length / elapsed).toFixed(0)} | ${pct(latencies, 50)} | ${pct(latencies, 95)} | ${pct(latencies, 99)} | ${errors} |`,
      );
    }
    process.stdout.write(
      [
        "## API latency and throughput under concurrent load",
        "",
        machineLine(),
        `- command: \`DATABASE_URL=${adminUrl} npm run bench:api\` (BENCH_CONCURRENCY=${CONCURRENCY}, BENCH_SECONDS=${SECONDS})`,
        "- the API in its own process (tsx, PostgreSQL, emulator, log level warn); this load generator in another, on loopback, keep-alive",
        "",
        "| request | requests | req/s | p50 ms | p95 ms | p99 ms | non-200 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        ...rows,
        "",
      ].join("\n"),
    );
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    await benchDb.drop();
  }
}

runMain(main);

/**
 * The purchase request alone: CPU per `POST /api/subscriptions` in the API process and in PostgreSQL,
 * with the background loops off (nothing provisions; the instance rows stay PENDING), so the number is
 * the request's own cost — HTTP, authentication, validation, and the one transaction that locks the
 * user, checks the quota, charges the first period and writes the subscription, the instance, its
 * event and the audit entry. bench/provisioning.ts measures the whole way to RUNNING, where the
 * emulator and the reconciler share the two cores with it and its CPU numbers move by up to 40% from
 * run to run on a busy host; this one isolates the request, so that two builds can be compared.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:subscriptions
 *
 * A fresh database is created next to the one DATABASE_URL names and dropped afterwards. USERS users
 * (default 20), each a concurrent client, buy PER subscriptions each (default 25) in each of ROUNDS rounds
 * (default 3), after a warm-up of 40. Settings: BENCH_USERS, BENCH_PER_USER, BENCH_ROUNDS.
 */
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { cpuMeter, createBenchDatabase, inProcessBenchEnv, machineLine, runMain } from "./lib/common.js";
import { createApp } from "../src/app.js";
import { createHttpServer } from "../src/platform/http/server.js";
import { loadConfig } from "../src/config/index.js";
import { buildContainer } from "../src/container.js";

const USERS = Number(process.env.BENCH_USERS ?? 20);
const PER_USER = Number(process.env.BENCH_PER_USER ?? 25);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARM_UP = 40;

async function main(): Promise<void> {
  const benchDb = await createBenchDatabase("minispod_bench_subs");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "minispod-bench-"));
  const config = loadConfig(inProcessBenchEnv({ databaseUrl: benchDb.url, dataDir: path.join(tmp, "data") }));
  // The loops are never started: only the requests run.
  const container = await buildContainer(config);
  // The server src/index.ts serves the app with (the app's prototypes on every request and response).
  const server = createHttpServer(createApp(container)).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const plan = await container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } });

  const tokens: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const r = await container.services.auth.register(
      { email: `bench-subs-${i}@example.com`, password: "bench-password-1", name: "Bench" },
      undefined,
    );
    await container.services.ledger.post(container.db.prisma, { userId: r.user.id, type: "TOPUP", amount: 100_000_000, reason: "bench" });
    tokens.push(r.accessToken);
  }
  let n = 0;
  const subscribe = async (token: string) => {
    const res = await fetch(`${base}/api/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ planId: plan.id, instanceName: `bench ${n++}` }),
    });
    if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < WARM_UP; i++) await subscribe(tokens[i % USERS] as string);

  const meterPool = new pg.Pool({ connectionString: benchDb.url, max: 1 });
  const rows: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const meter = cpuMeter(process.pid, meterPool);
    await meter.start();
    const t0 = performance.now();
    await Promise.all(
      tokens.map(async (token) => {
        for (let k = 0; k < PER_USER; k++) await subscribe(token);
      }),
    );
    const wallMs = performance.now() - t0;
    const { apiMs, dbMs } = await meter.stop();
    const total = USERS * PER_USER;
    rows.push(
      `| ${round} | ${total} | ${((apiMs / total) * 1000).toFixed(0)} | ${((dbMs / total) * 1000).toFixed(0)} | ${(total / (wallMs / 1000)).toFixed(0)} |`,
    );
  }
  await meterPool.end();

  const out = [
    "## The purchase request: POST /api/subscriptions (loops off)",
    "",
    machineLine(),
    `- command: \`DATABASE_URL=... npm run bench:subscriptions\` (BENCH_USERS=${USERS}, BENCH_PER_USER=${PER_USER}, BENCH_ROUNDS=${ROUNDS}); ${USERS} concurrent clients, one user each`,
    "- CPU (user + system, /proc) of this process (the API and this driver's requests) and of PostgreSQL's backends, per request",
    "",
    "| round | requests | API process us/request | PostgreSQL us/request | requests/s |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
  process.stdout.write(`${out}\n`);

  await new Promise((r) => server.close(r));
  await container.close();
  await benchDb.drop();
}

runMain(main);

/**
 * The HTTP stack's own floor: what one `GET /healthz` costs a server process that does nothing else,
 * for Node's bare http server (alone, and with the `Object.setPrototypeOf` Express does on every request
 * and response), an Express app on `http.createServer(app)` (what `app.listen` does), and
 * the same app on `createHttpServer(app)` (src/platform/http/server.ts: requests and responses built with
 * the app's prototypes, what src/index.ts runs). Each server runs in its own process with the server's
 * shipped node flags (`npm run start:prod`'s) plus `--trace-gc-nvp`, from which the bytes each young-
 * generation collection promoted to the old generation are read. This process is the load generator
 * (bench/lib/http-load.ts), on loopback, bounded in time.
 *
 *   npm run bench:http-floor
 *
 * Settings: BENCH_CONCURRENCY (default 50), BENCH_SECONDS per round (default 3), BENCH_ROUNDS (default 3;
 * the variants alternate within each round, medians are printed), BENCH_VARIANTS (default
 * "node,node-setprototype,express,served").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpuMs, machineLine, median, npmScriptNodeArgs, runMain } from "./lib/common.js";
import { loadClient } from "./lib/http-load.js";
import { stopChild } from "./lib/processes.js";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = (process.env.BENCH_VARIANTS ?? "node,node-setprototype,express,served").split(",").map((s) => s.trim());
const progress = (msg: string) => process.stderr.write(`[bench:http-floor ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Round {
  rps: number;
  cpuUsPerRequest: number;
  scavenges: number;
  promotedKbPerScavenge: number;
  promotedBytesPerRequest: number;
}

/** The shipped node flags (start:prod's, without its script). */
const shippedFlags = npmScriptNodeArgs("start:prod").slice(0, -1);

async function runOnce(variant: string): Promise<Round> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...shippedFlags, "--trace-gc-nvp", "--import", "tsx", "bench/lib/http-floor-server.ts", variant],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  try {
    let port = 0;
    while (!port) {
      if (child.exitCode !== null) throw new Error(`the ${variant} server exited: ${out}`);
      port = Number(/ready (\d+)/.exec(out)?.[1] ?? 0);
      if (!port) await new Promise((r) => setTimeout(r, 20));
    }
    const client = loadClient(`http://127.0.0.1:${port}`);
    // A short warm-up, so that the measured seconds run optimised code.
    const warmEnd = Date.now() + 500;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < warmEnd) await client.get("/healthz");
      }),
    );
    const gcFrom = out.length;
    const pid = child.pid as number;
    const cpu0 = cpuMs(pid);
    const t0 = Date.now();
    const end = t0 + SECONDS * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < end) {
          if (!(await client.get("/healthz"))) throw new Error(`${variant}: GET /healthz was not 200`);
          n++;
        }
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    const cpu = cpuMs(pid) - cpu0;
    client.close();
    const promoted = [...out.slice(gcFrom).matchAll(/gc=s .*? promoted=(\d+)/g)].map((m) => Number(m[1]));
    const promotedBytes = promoted.reduce((a, b) => a + b, 0);
    return {
      rps: n / seconds,
      cpuUsPerRequest: (cpu * 1000) / n,
      scavenges: promoted.length,
      promotedKbPerScavenge: promoted.length ? promotedBytes / promoted.length / 1024 : 0,
      promotedBytesPerRequest: promotedBytes / n,
    };
  } finally {
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  const results = new Map<string, Round[]>(VARIANTS.map((v) => [v, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    progress(`round ${round} of ${ROUNDS}`);
    for (const v of VARIANTS) results.get(v)?.push(await runOnce(v));
  }
  const names: Record<string, string> = {
    node: "Node's http server alone",
    "node-setprototype": "Node's http server, `Object.setPrototypeOf` on each request and response",
    express: "Express, `http.createServer(app)`",
    served: "Express, `createHttpServer(app)`",
  };
  const lines = [
    "## The HTTP stack's floor: GET /healthz alone",
    "",
    machineLine(),
    `- command: \`npm run bench:http-floor\` (BENCH_CONCURRENCY=${CONCURRENCY}, BENCH_SECONDS=${SECONDS}, BENCH_ROUNDS=${ROUNDS}: medians; the variants alternate within each round)`,
    `- each server in its own process with the shipped node flags (${shippedFlags.join(" ")}) and --trace-gc-nvp; this process is the load generator`,
    "",
    "| server | req/s | server CPU us/req | young collections | KB promoted per collection | bytes promoted per request |",
    "| --- | --- | --- | --- | --- | --- |",
    ...VARIANTS.map((v) => {
      const r = results.get(v) ?? [];
      return `| ${names[v] ?? v} | ${median(r.map((x) => x.rps)).toFixed(0)} | ${median(r.map((x) => x.cpuUsPerRequest)).toFixed(1)} | ${median(r.map((x) => x.scavenges))} | ${median(r.map((x) => x.promotedKbPerScavenge)).toFixed(0)} | ${median(r.map((x) => x.promotedBytesPerRequest)).toFixed(0)} |`;
    }),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

runMain(main);

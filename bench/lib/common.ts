/**
 * What every benchmark shares: a throwaway PostgreSQL database next to the one DATABASE_URL names,
 * percentiles, the machine line for RESULTS.md, and a main() runner that exits non-zero on failure.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import pg from "pg";

export const ADMIN_DATABASE_URL = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/**
 * BENCH_PER_NAMESPACE: the seeded fleet's instances per namespace, one user each (1: single-instance
 * users); undefined when unset, so the fleet's own default applies (bench/lib/health-fleet.ts).
 */
export const BENCH_PER_NAMESPACE = process.env.BENCH_PER_NAMESPACE ? Number(process.env.BENCH_PER_NAMESPACE) : undefined;

/**
 * BENCH_POOL_SIZE: the API's connections to PostgreSQL (its DATABASE_POOL_SIZE); undefined when unset,
 * so the server's own default applies (10).
 */
export const BENCH_POOL_SIZE = process.env.BENCH_POOL_SIZE ? Number(process.env.BENCH_POOL_SIZE) : undefined;

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(prefix: string, adminUrl = ADMIN_DATABASE_URL): Promise<BenchDatabase> {
  const name = `${prefix}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The p-th percentile (nearest rank) of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** The median of a benchmark's rounds (for an even count, the lower of the two middle values). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
}

/**
 * What the machine's cores allow at a measured CPU cost: units (requests, instances) per second were
 * every core busy with that work and nothing else. The benchmarks print it beside what they reached.
 */
export function coresAllow(cpuMsPerUnit: number): number {
  return (os.availableParallelism() * 1000) / cpuMsPerUnit;
}

export function machineLine(): string {
  return `- date: ${new Date().toISOString()}; machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`;
}

export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * The node arguments of an npm script that runs `node <args>` (package.json): `start:prod` is the same argv
 * as the image's CMD and the Deployment's (test/deploy/manifests.test.ts), `start` is what `npm start`
 * runs; a benchmark of either server runs what users run.
 */
export function npmScriptNodeArgs(script: "start" | "start:prod"): string[] {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> };
  const [node, ...args] = (pkg.scripts[script] ?? "").split(" ").filter(Boolean);
  if (node !== "node" || !args.length) throw new Error(`${script} is not "node <args>": ${pkg.scripts[script]}`);
  return args;
}

/** The API's node arguments for a benchmark's BENCH_SERVER: `dist` (npm run start:prod) or `tsx` (npm start). */
export function serverNodeArgs(server: string): string[] {
  return npmScriptNodeArgs(server === "dist" ? "start:prod" : "start");
}

/**
 * The API's node argv for a BENCH_SERVER with extra node flags (BENCH_SERVER_NODE_ARGS, the allocation
 * sampler's): placed after the shipped flags, just before the script, so that a flag given again
 * overrides the shipped value (V8 keeps a flag's last value), e.g. "--max-semi-space-size=4".
 */
export function serverArgv(server: string, extra: string[]): string[] {
  const args = serverNodeArgs(server);
  return [...args.slice(0, -1), ...extra, ...args.slice(-1)];
}

/** CPU time (user + system) of a process so far, in ms, from /proc (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0; // a backend that exited
  }
}

/**
 * CPU per unit of work, the number that survives a loaded machine: throughput falls with the share of
 * the cores a process gets, but the CPU a request costs does not. A process's (the API's), and the
 * database's (every backend connected to the database `pool` is on).
 */
export interface CpuMeter {
  start(): Promise<void>;
  stop(): Promise<{ apiMs: number; dbMs: number }>;
}

export function cpuMeter(pid: number, pool: pg.Pool): CpuMeter {
  let db0 = new Map<number, number>();
  let api0 = 0;
  const dbPids = async () =>
    (await pool.query<{ pid: number }>(`SELECT "pid" FROM pg_stat_activity WHERE "datname" = current_database()`)).rows.map((r) => r.pid);
  return {
    async start() {
      db0 = new Map((await dbPids()).map((p) => [p, cpuMs(p)]));
      api0 = cpuMs(pid);
    },
    async stop() {
      const apiMs = cpuMs(pid) - api0;
      // Backends that appeared during the phase started from zero; those that exited are not counted.
      const now = await dbPids();
      const dbMs = now.reduce((n, p) => n + cpuMs(p) - (db0.get(p) ?? 0), 0);
      return { apiMs, dbMs };
    },
  };
}

/**
 * The environment of a control plane a benchmark builds in its own process (`loadConfig`): development,
 * silent, a fixed JWT secret and admin password, and the quota and the login rate limit far out of the
 * way, since a benchmark makes many instances and logins. The benchmark adds what is its own.
 */
export function inProcessBenchEnv(o: { databaseUrl: string; dataDir: string }): Record<string, string> {
  return {
    NODE_ENV: "development",
    LOG_LEVEL: "silent",
    DATABASE_URL: o.databaseUrl,
    DATA_DIR: o.dataDir,
    JWT_SECRET: "bench-secret-bench-secret-bench-secret-00",
    ADMIN_PASSWORD: "bench-admin-password",
    DEFAULT_QUOTA_MAX_INSTANCES: "100000",
    DEFAULT_QUOTA_CPU_MILLI: "100000000",
    DEFAULT_QUOTA_MEMORY_MB: "100000000",
    DEFAULT_QUOTA_STORAGE_GB: "10000000",
    LOGIN_RATE_LIMIT_PER_MINUTE: "100000",
  };
}

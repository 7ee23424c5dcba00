/**
 * The benchmarks' child processes: the Kubernetes API emulator in its own process (emulator-process.ts,
 * spoken to over IPC), the API server, and what the benchmarks read of them from outside.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { imageRuntime, readDockerfile } from "../../scripts/smoke-prod/dockerfile.js";
import { freePort } from "../../scripts/lib/free-port.js";
import type { EmulatorReply, EmulatorRequest } from "./emulator-process.js";

export { freePort };

/** A process's resident set (VmRSS), MB; NaN once it has exited. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** A promise that rejects when the child exits (unless `expected()`), for racing every wait against it. */
export function exitOf(child: ChildProcess, name: string, expected: () => boolean): Promise<never> {
  const p = new Promise<never>((_, reject) =>
    child.once("exit", (code, signal) => {
      if (!expected()) reject(new Error(`the ${name} process exited (${signal ?? `code ${code}`}) before the benchmark ended`));
    }),
  );
  p.catch(() => {}); // observed through Promise.race
  return p;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/**
 * The environment of a benchmark's API process: the image's ENV (Dockerfile), then development mode
 * (the emulator's kubeconfig is plain http, allowed outside production), cluster mode against that
 * emulator, PostgreSQL, and no scheduled health sweep during a measurement (a benchmark runs one by
 * hand when it needs one); the reconciler, renewal and backup loops run as configured by default.
 */
export function benchServerEnv(o: {
  port: number;
  databaseUrl: string;
  dataDir: string;
  credentialsKey: string;
  kubeconfig: string;
  admin: { email: string; password: string };
}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // The image's ENV first (Dockerfile, final stage: e.g. MALLOC_ARENA_MAX), as every container of it starts with.
    ...imageRuntime(readDockerfile(fileURLToPath(new URL("../../Dockerfile", import.meta.url)))).env,
    NODE_ENV: "development",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
    PORT: String(o.port),
    HOST: "127.0.0.1",
    DATABASE_URL: o.databaseUrl,
    DATA_DIR: o.dataDir,
    CREDENTIALS_KEY: o.credentialsKey,
    JWT_SECRET: "bench-secret-bench-secret-bench-secret-00",
    ADMIN_EMAIL: o.admin.email,
    ADMIN_PASSWORD: o.admin.password,
    K8S_MODE: "cluster",
    KUBECONFIG_PATH: o.kubeconfig,
    HEALTH_INTERVAL: "24h",
  };
}

export type AskEmulator = <T extends EmulatorReply["type"]>(
  req: EmulatorRequest | undefined,
  type: T,
) => Promise<Extract<EmulatorReply, { type: T }>>;

export interface EmulatorProcess {
  child: ChildProcess;
  /** One request, its one answer (or the process's death); `undefined` only waits for an answer (e.g. "ready"). */
  ask: AskEmulator;
  /** Rejects if the process exits before `stop()`: race every wait against it. */
  died: Promise<never>;
  /** Ends the process (its exit is then expected). */
  stop(): Promise<void>;
}

/**
 * The emulator in its own process (node + tsx, as `npm run emulator`), so its work is not the measured
 * process's; it writes `kubeconfig` and is ready once `ask(undefined, "ready")` resolves.
 * BENCH_EMULATOR_NODE_ARGS: extra node flags for it, e.g. "--cpu-prof --cpu-prof-dir=prof".
 */
export function startEmulatorProcess(kubeconfig: string): EmulatorProcess {
  const extraArgs = (process.env.BENCH_EMULATOR_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...extraArgs, "--import", "tsx", "bench/lib/emulator-process.ts", kubeconfig], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let stopping = false;
  const died = exitOf(child, "emulator", () => stopping);
  const ask: AskEmulator = (req, type) => {
    const answer = new Promise<Extract<EmulatorReply, { type: typeof type }>>((resolve, reject) => {
      const on = (m: EmulatorReply) => {
        if (m.type !== type && m.type !== "error") return;
        child.off("message", on);
        if (m.type === "error") reject(new Error(`emulator: ${m.message}`));
        else resolve(m as Extract<EmulatorReply, { type: typeof type }>);
      };
      child.on("message", on);
    });
    if (req) child.send(req);
    return Promise.race([answer, died]);
  };
  return {
    child,
    ask,
    died,
    async stop() {
      stopping = true;
      await stopChild(child);
    },
  };
}

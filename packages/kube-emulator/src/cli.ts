/**
 * The emulator as its own process (a test/demo fixture, not a cluster):
 *
 *   npm run emulator -- --port <p> --kubeconfig <file> [--pod-ready-delay <ms>] [--tls-cert <pem> --tls-key <pem>]
 *
 * Starts the emulator on 127.0.0.1:<p> (0 or no --port: a free port), writes its kubeconfig to
 * <file>, logs one JSON line per event on stdout (the first one carries `url` and `kubeconfig`),
 * serves until SIGTERM or SIGINT, then stops and exits 0. Bad arguments: a message on stderr, exit 2.
 * With --tls-cert/--tls-key it serves HTTPS and the kubeconfig carries the (self-signed) certificate as
 * the cluster's CA, for clients that refuse to skip verification.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { KubeEmulator } from "./index.js";
import type { Logger } from "./types.js";

const USAGE = "usage: npm run emulator -- --port <port> --kubeconfig <file> [--pod-ready-delay <ms>] [--tls-cert <pem> --tls-key <pem>]";

function fail(message: string): never {
  process.stderr.write(`kube-emulator: ${message}\n${USAGE}\n`);
  process.exit(2);
}

/** A non-negative integer option, or `fallback` when absent. */
function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) fail(`--${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

function jsonLogger(): Logger {
  const line = (level: string) => (obj: unknown, msg?: string) => {
    const fields = typeof obj === "object" && obj !== null && !(obj instanceof Error) ? obj : { value: obj };
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
  return { info: line("info"), warn: line("warn"), error: line("error") };
}

async function main(): Promise<void> {
  let values: { port?: string; kubeconfig?: string; "pod-ready-delay"?: string; "tls-cert"?: string; "tls-key"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        kubeconfig: { type: "string" },
        "pod-ready-delay": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.kubeconfig) fail("--kubeconfig <file> is required");
  const port = intOption("port", values.port, 0);
  if (port > 65535) fail(`--port must be at most 65535, got ${port}`);
  const podReadyDelayMs = intOption("pod-ready-delay", values["pod-ready-delay"], 1500);
  // npm runs scripts from the package root; a relative path means the caller's directory.
  const kubeconfig = path.resolve(process.env.INIT_CWD ?? process.cwd(), values.kubeconfig);
  if (Boolean(values["tls-cert"]) !== Boolean(values["tls-key"])) fail("--tls-cert and --tls-key go together");
  const read = (file: string) => readFileSync(path.resolve(process.env.INIT_CWD ?? process.cwd(), file), "utf8");
  const tls = values["tls-cert"] && values["tls-key"] ? { cert: read(values["tls-cert"]), key: read(values["tls-key"]) } : undefined;

  const logger = jsonLogger();
  const emulator = await KubeEmulator.start({ port, podReadyDelayMs, ...(tls ? { tls } : {}) });
  await emulator.writeKubeconfig(kubeconfig);
  logger.info(
    { url: emulator.url, kubeconfig },
    `Kubernetes API emulator serving (test/demo fixture, not a real cluster); try: kubectl --kubeconfig ${kubeconfig} get pods -A`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    emulator.stop().then(
      () => {
        logger.info({}, "stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error?.({ err: String(err) }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`kube-emulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

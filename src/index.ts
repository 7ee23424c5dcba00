/**
 * Process entry: config -> composition root -> listen -> graceful shutdown.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config/index.js";
import { CredentialsKeyError } from "./platform/credentials-cipher.js";
import { buildContainer } from "./container.js";
import { createLogger, flushLogger, flushLoggerSync } from "./platform/logger.js";
import { localSecretsPath } from "./platform/local-secrets.js";
import { createHttpServer } from "./platform/http/server.js";

/**
 * Local mode's welcome: where the API and docs are, how to log in, how to look at the emulated
 * cluster. The generated admin password is shown on the first start only (it stays in DATA_DIR).
 */
function localModeBanner(config: Config, port: number, generatedPassword: string | undefined): string {
  const url = `http://localhost:${port}`;
  // Paths under the working directory read better relative (`data/kubeconfig`).
  const shown = (p: string) => {
    const rel = path.relative(process.cwd(), p);
    return rel && !rel.startsWith("..") ? rel : p;
  };
  const password =
    generatedPassword ??
    (config.admin.password ? "(ADMIN_PASSWORD)" : `(generated on the first start; see ${shown(localSecretsPath(config.db.dataDir))})`);
  const lines = [
    "",
    "  MinisPod control plane — local mode",
    `  API:      ${url}/api`,
    `  Docs:     ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
    `  Admin:    ${config.admin.email}`,
    `  Password: ${password}`,
    ...(config.kube.mode === "emulated"
      ? [`  Cluster:  kubectl --kubeconfig ${shown(path.join(config.db.dataDir, "kubeconfig"))} get pods -A`]
      : []),
    "",
  ];
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const localMode = !config.isProduction;
  // The first local start generates the admin password (unless ADMIN_PASSWORD is set): show it once.
  const firstStart = localMode && !config.admin.password && !existsSync(localSecretsPath(config.db.dataDir));
  // Asynchronous log writes (see createLogger): flushed on graceful shutdown, and on any exit.
  const logger = createLogger({ level: config.log.level, sync: false });
  process.on("exit", () => flushLoggerSync(logger));
  const container = await buildContainer(config, { logger });
  const app = createApp(container);
  const server: Server = createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject); // e.g. the port is taken: main's catch says so and exits 1
    server.listen(config.http.port, config.http.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.http.port;
  logger.info({ port }, `MinisPod API listening on http://localhost:${port} (docs: http://localhost:${port}/docs)`);
  if (localMode) {
    const generated = firstStart
      ? (JSON.parse(readFileSync(localSecretsPath(config.db.dataDir), "utf8")) as { adminPassword: string }).adminPassword
      : undefined;
    process.stdout.write(localModeBanner(config, port, generated));
  }
  await container.startLoops();

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
    const force = setTimeout(() => {
      logger.error("graceful shutdown timed out; exiting");
      process.exit(1);
    }, 15_000);
    force.unref();
    // Stop accepting; end long-lived streams; close keep-alive sockets as they go idle, so close()
    // finishes once the in-flight requests have been answered.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    container.beginShutdown();
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    await closed;
    clearInterval(idleSweep);
    await container.close();
    logger.info("shutdown complete");
    await flushLogger(logger);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  // A credentials key that cannot open the stored credentials: a clear message, not a stack trace.
  if (err instanceof CredentialsKeyError) {
    process.stderr.write(`Cannot start: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * Process entry: config -> composition root -> listen -> graceful shutdown.
 */
import type { Server } from "node:http";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config/index.js";
import { buildContainer } from "./container.js";

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
  const container = await buildContainer(config);
  const { logger } = container;
  const app = createApp(container);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.http.port, config.http.host, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.http.port;
  logger.info({ port }, `MinisPod API listening on http://localhost:${port} (docs: http://localhost:${port}/docs)`);
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
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

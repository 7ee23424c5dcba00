import { pino, type Logger } from "pino";

export type { Logger };

/** Paths pino removes from every log line: credentials never reach the logs. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["idempotency-key"]',
  "res.headers['set-cookie']",
  "password",
  "*.password",
  "passwordHash",
  "*.passwordHash",
  "token",
  "*.token",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "jwtSecret",
  "*.jwtSecret",
  "credentials",
  "*.credentials",
  "stringData",
  "*.stringData",
];

/**
 * `sync: false` (the server) writes stdout through pino's asynchronous destination: log lines are
 * buffered and written in batches off the request path, never with a blocking write per line (under
 * load, synchronous access-log writes took an eighth of the API's busy time). Such a logger must be
 * flushed before the process exits: `flushLogger` on graceful shutdown, `flushLoggerSync` on exit.
 * The default (synchronous stdout) suits scripts and tests.
 */
export function createLogger(opts: { level: string; name?: string; sync?: boolean }): Logger {
  const options = {
    name: opts.name ?? "minispod",
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.sync ?? true) return pino(options);
  return pino(options, pino.destination({ dest: 1, sync: false }));
}

/** Writes out whatever an asynchronous logger still buffers (a no-op for a synchronous one). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/** For `process.on("exit")`, where nothing asynchronous runs any more. Never throws. */
export function flushLoggerSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    /* a write in flight or a closed stdout: nothing more can be done at exit */
  }
}

import { type DestinationStream, pino, type Logger } from "pino";

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
 * Prisma's panic error (a crash of its query compiler) carries a ready-made bug report whose "Logs"
 * section quotes Prisma's last debug calls, with the arguments of recent queries (password and token
 * hashes, e-mail addresses, ciphertexts): Prisma keeps them even when no debug output is on. Wherever
 * such an error is logged or shown, only its first line (what panicked) is kept, with its stack frames.
 * Other errors, and errors whose causes hold no such report, come back as they are.
 */
export function withoutQueryArguments(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const cause = (err as { cause?: unknown }).cause;
  const safeCause = withoutQueryArguments(cause);
  const panic = err.name === "PrismaClientRustPanicError";
  if (!panic && safeCause === cause) return err;
  const message = panic
    ? `${err.message.split("\n", 1)[0]} (Prisma's crash report left out: it quotes recent query arguments)`
    : err.message;
  const safe = new Error(message, safeCause === undefined ? undefined : { cause: safeCause });
  safe.name = err.name;
  const frames = (err.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  safe.stack = [`${err.name}: ${message}`, ...frames].join("\n");
  return safe;
}

/**
 * `sync: false` (the server) writes stdout through pino's asynchronous destination: log lines are
 * buffered and written in batches off the request path, never with a blocking write per line (under
 * load, synchronous access-log writes took an eighth of the API's busy time). Such a logger must be
 * flushed before the process exits: `flushLogger` on graceful shutdown, `flushLoggerSync` on exit.
 * The default (synchronous stdout) suits scripts and tests.
 */
export function createLogger(opts: { level: string; name?: string; sync?: boolean; stream?: DestinationStream }): Logger {
  const options = {
    name: opts.name ?? "minispod",
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    serializers: { err: (err: Error) => pino.stdSerializers.err(withoutQueryArguments(err) as Error) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // `stream`: where the lines go instead of stdout (tests read them).
  if (opts.stream) return pino(options, opts.stream);
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

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

export function createLogger(opts: { level: string; name?: string }): Logger {
  return pino({
    name: opts.name ?? "minispod",
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/**
 * The CPU of one access-log line (src/platform/http/access-log.ts) through the server's logger
 * (pino, asynchronous destination, here /dev/null): with the logger's redaction pass (REDACT_PATHS)
 * and through a child with no redact paths, as the access log writes its completed lines.
 *
 *   npx tsx bench/access-log-line.ts          # BENCH_LINES (default 100000) per measurement, 2 rounds
 */
import { openSync } from "node:fs";
import { pino } from "pino";
import { REDACT_PATHS } from "../src/platform/logger.js";

const LINES = Number(process.env.BENCH_LINES ?? 100_000);

const destination = pino.destination({ dest: openSync("/dev/null", "w"), sync: false });
const redacting = pino(
  { name: "minispod", level: "info", redact: { paths: REDACT_PATHS, censor: "[REDACTED]" }, timestamp: pino.stdTimeFunctions.isoTime },
  destination,
);
const loggers = {
  "the logger (redaction pass)": redacting,
  "a child with no redact paths": redacting.child({}, { redact: { paths: [] } }),
};
const line = () => ({
  req: { id: crypto.randomUUID(), method: "GET", url: "/api/credits", remoteAddress: "127.0.0.1" },
  res: { statusCode: 200 },
  responseTime: 3,
});

console.log("| round | logger | CPU us per line |\n| --- | --- | --- |");
for (const round of [1, 2]) {
  for (const [name, logger] of Object.entries(loggers)) {
    for (let i = 0; i < LINES / 5; i++) logger.info(line(), "request completed");
    const c0 = process.cpuUsage();
    for (let i = 0; i < LINES; i++) logger.info(line(), "request completed");
    const c = process.cpuUsage(c0);
    console.log(`| ${round} | ${name} | ${((c.user + c.system) / LINES).toFixed(1)} |`);
  }
}
destination.flushSync();

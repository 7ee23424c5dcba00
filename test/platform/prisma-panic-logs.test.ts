/**
 * Prisma's panic error carries a bug report that quotes the arguments of recent queries (Prisma keeps
 * its last debug calls whatever the log level). Logged, or shown in a development error body, only
 * its first line is kept (src/platform/logger.ts, `withoutQueryArguments`).
 */
import { Writable } from "node:stream";
import express from "express";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { Prisma } from "../../src/platform/db/index.js";
import { errorHandler } from "../../src/platform/http/error-handler.js";
import { createLogger, withoutQueryArguments } from "../../src/platform/logger.js";

const SECRET = "argon2id$v=19$m=19456,t=2,p=1$c2VjcmV0LWhhc2g";
/** Shaped as Prisma builds it: the panic, then the report with its "Logs" section. */
const panicMessage = [
  "PANIC: called `Option::unwrap()` on a `None` value",
  "",
  "This is a non-recoverable error which probably happens when the Prisma Query Engine has a panic.",
  "",
  `https://github.com/prisma/prisma/issues/new?body=${encodeURIComponent(`## Logs\nprisma:driver-adapter:pg [js::query_raw] {"args":["${SECRET}"]}`)}`,
  `prisma:client:engine {"args":["${SECRET}"]}`,
].join("\n");

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ level: "info", stream }) };
}

describe("a Prisma panic in the logs", () => {
  it("keeps the panic's first line and stack frames, not the report", () => {
    const { lines, logger } = capture();
    logger.error({ err: new Prisma.PrismaClientRustPanicError(panicMessage, "7.10.0") }, "unhandled error");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string) as { err: { message: string; stack: string } };
    expect(line.err.message).toBe(
      "PANIC: called `Option::unwrap()` on a `None` value (Prisma's crash report left out: it quotes recent query arguments)",
    );
    expect(line.err.stack.split("\n")[0]).toBe(`PrismaClientRustPanicError: ${line.err.message}`);
    expect(line.err.stack).toMatch(/\n\s+at /);
    expect(lines[0]).not.toContain(SECRET);
    expect(lines[0]).not.toContain("c2VjcmV0");
  });

  it("also as the cause of another error", () => {
    const { lines, logger } = capture();
    const wrapped = new Error("the sweep failed", { cause: new Prisma.PrismaClientRustPanicError(panicMessage, "7.10.0") });
    logger.error({ err: wrapped }, "sweep");
    expect(lines[0]).toContain("the sweep failed");
    expect(lines[0]).toContain("crash report left out");
    expect(lines[0]).not.toContain("c2VjcmV0");
  });

  it("leaves every other error as it is", () => {
    const plain = new Error("line one\nline two");
    expect(withoutQueryArguments(plain)).toBe(plain);
    const withCause = new Error("outer", { cause: new Error("inner") });
    expect(withoutQueryArguments(withCause)).toBe(withCause);
    expect(withoutQueryArguments("a string")).toBe("a string");
    const { lines, logger } = capture();
    logger.error({ err: plain }, "x");
    expect(JSON.parse(lines[0] as string).err.message).toBe("line one\nline two");
  });

  it("is not in a development error body's stack either", async () => {
    const { lines, logger } = capture();
    const app = express();
    app.get("/boom", () => {
      throw new Prisma.PrismaClientRustPanicError(panicMessage, "7.10.0");
    });
    app.use(errorHandler({ logger, exposeStack: true }));
    const res = await request(app).get("/boom");
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe("INTERNAL_ERROR");
    expect(res.body.error.message).toBe("Internal server error");
    expect(res.body.error.stack.split("\n")[0]).toBe(
      "PrismaClientRustPanicError: PANIC: called `Option::unwrap()` on a `None` value (Prisma's crash report left out: it quotes recent query arguments)",
    );
    expect(res.text).not.toContain("c2VjcmV0");
    expect(lines.join("")).not.toContain("c2VjcmV0");
  });
});

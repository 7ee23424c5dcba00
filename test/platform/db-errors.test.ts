/** Database errors are translated by code: an unreachable database is a 503, never a 500. */
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import express from "express";
import supertest from "supertest";
import { describe, expect, it } from "vitest";
import { createDatabase, Prisma, sqlStateOf } from "../../src/platform/db/index.js";
import { inSqlTransaction, isUniqueViolation } from "../../src/platform/transaction.js";
import { createTestDatabase } from "../helpers/db.js";
import { errorHandler, translateDbError } from "../../src/platform/http/error-handler.js";
import { createLogger } from "../../src/platform/logger.js";

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("database errors", () => {
  it("an unreachable PostgreSQL answers 503 DEPENDENCY_UNAVAILABLE in the one error shape", async () => {
    const db = await createDatabase({ url: `postgresql://postgres@127.0.0.1:${await closedPort()}/none` });
    try {
      const err = await db.prisma.user.count().catch((e: unknown) => e);
      expect(translateDbError(err)?.code).toBe("DEPENDENCY_UNAVAILABLE");

      const app = express();
      app.get("/x", async () => {
        await db.prisma.user.count();
      });
      app.use(errorHandler({ logger: createLogger({ level: "silent" }), exposeStack: false }));
      const res = await supertest(app).get("/x");
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        error: { code: "DEPENDENCY_UNAVAILABLE", message: "The database is unavailable", requestId: expect.any(String) },
      });
    } finally {
      await db.close().catch(() => {});
    }
  });

  it("statements sent past Prisma (Database.read, .transaction) to an unreachable PostgreSQL are 503 as well", async () => {
    const db = await createDatabase({ url: `postgresql://postgres@127.0.0.1:${await closedPort()}/none` });
    try {
      const read = await db.read(Prisma.sql`SELECT 1`).catch((e: unknown) => e);
      const tx = await inSqlTransaction(db, (q) => q(Prisma.sql`SELECT 1`)).catch((e: unknown) => e);
      for (const err of [read, tx]) {
        expect((err as { code?: string }).code).toBe("ECONNREFUSED");
        expect(translateDbError(err)?.code).toBe("DEPENDENCY_UNAVAILABLE");
      }
    } finally {
      await db.close().catch(() => {});
    }
  });

  it("a unique or foreign-key violation is the same conflict whichever way the statement went", async () => {
    const t = await createTestDatabase({ migrate: false });
    try {
      await t.db.execScript(`CREATE TABLE "u_probe" ("id" int PRIMARY KEY); CREATE TABLE "f_probe" ("u" int REFERENCES "u_probe" ("id"))`);
      const insert = Prisma.sql`INSERT INTO "u_probe" ("id") VALUES (${1})`;
      await t.db.read(insert);
      const errors = [
        await t.db.read(insert).catch((e: unknown) => e),
        await inSqlTransaction(t.db, (q) => q(insert)).catch((e: unknown) => e),
        await t.db.prisma.$executeRaw(insert).catch((e: unknown) => e),
      ];
      for (const err of errors) {
        expect(sqlStateOf(err)).toBe("23505");
        expect(isUniqueViolation(err)).toBe(true);
        expect(translateDbError(err)).toMatchObject({ code: "CONFLICT", message: "A conflicting object already exists" });
      }
      const orphan = await t.db.read(Prisma.sql`INSERT INTO "f_probe" ("u") VALUES (${2})`).catch((e: unknown) => e);
      expect(sqlStateOf(orphan)).toBe("23503");
      expect(isUniqueViolation(orphan)).toBe(false);
      expect(translateDbError(orphan)).toMatchObject({ code: "CONFLICT", message: "A related object is missing or still in use" });
      // Not a database error at all: no SQLSTATE.
      expect(sqlStateOf(new Error("boom"))).toBeUndefined();
      expect(sqlStateOf(Object.assign(new Error("x"), { code: "P2002" }))).toBeUndefined();
    } finally {
      await t.drop();
    }
  });
});

/** Database errors are translated by code: an unreachable database is a 503, never a 500. */
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import express from "express";
import supertest from "supertest";
import { describe, expect, it } from "vitest";
import { createDatabase } from "../../src/platform/db/index.js";
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
});

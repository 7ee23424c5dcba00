/**
 * `Database.transaction` (src/platform/db/index.ts), opened through `inSqlTransaction`: raw statements
 * on one connection, past Prisma's engine. On PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../src/platform/db/index.js";
import { DependencyUnavailableError } from "../../src/platform/domain-errors.js";
import { inSqlTransaction } from "../../src/platform/transaction.js";
import { createTestDatabase, type TestDatabase, usingPostgres } from "../helpers/db.js";

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase({ migrate: false, poolSize: 2 });
  await t.db.execScript(`CREATE TABLE "tx_probe" ("id" int PRIMARY KEY, "note" text NOT NULL)`);
});
afterAll(async () => {
  await t?.drop();
});

const notes = async () =>
  (await t.db.query<{ id: number; note: string }>(`SELECT "id", "note" FROM "tx_probe" ORDER BY "id"`)).map((r) => r.note);

describe("inSqlTransaction", () => {
  it("commits what fn wrote when it resolves, and hands back its result", async () => {
    const result = await inSqlTransaction(t.db, async (q) => {
      await q(Prisma.sql`INSERT INTO "tx_probe" ("id", "note") VALUES (${1}, ${"first"})`);
      const rows = await q<{ note: string }>(Prisma.sql`INSERT INTO "tx_probe" ("id", "note") VALUES (${2}, ${"second"}) RETURNING "note"`);
      // Inside, the transaction's own writes are seen.
      expect(await q<{ n: number }>(Prisma.sql`SELECT count(*)::int AS "n" FROM "tx_probe"`)).toEqual([{ n: 2 }]);
      return rows[0]?.note;
    });
    expect(result).toBe("second");
    expect(await notes()).toEqual(["first", "second"]);
  });

  it("rolls every statement back when fn throws, and rethrows", async () => {
    await expect(
      inSqlTransaction(t.db, async (q) => {
        await q(Prisma.sql`INSERT INTO "tx_probe" ("id", "note") VALUES (${3}, ${"third"})`);
        throw new Error("abandoned");
      }),
    ).rejects.toThrow("abandoned");
    // A failing statement rolls back the statements before it as well.
    await expect(
      inSqlTransaction(t.db, async (q) => {
        await q(Prisma.sql`UPDATE "tx_probe" SET "note" = ${"changed"} WHERE "id" = ${1}`);
        await q(Prisma.sql`INSERT INTO "tx_probe" ("id", "note") VALUES (${1}, ${"duplicate"})`);
      }),
    ).rejects.toThrow();
    expect(await notes()).toEqual(["first", "second"]);
  });

  it("gives its connection back: more transactions than the pool has connections, one after another", async () => {
    for (let i = 0; i < 6; i++) {
      await expect(inSqlTransaction(t.db, async () => Promise.reject(new Error(`no ${i}`)))).rejects.toThrow(`no ${i}`);
      expect(await inSqlTransaction(t.db, async (q) => (await q<{ x: number }>(Prisma.sql`SELECT ${i}::int AS "x"`))[0]?.x)).toBe(i);
    }
  });

  it.skipIf(!usingPostgres)("bounds each statement by timeoutMs (PostgreSQL's statement_timeout)", async () => {
    const timeout = await inSqlTransaction(
      t.db,
      async (q) => (await q<{ statement_timeout: string }>(Prisma.sql`SHOW statement_timeout`))[0]?.statement_timeout,
      { timeoutMs: 1500 },
    );
    expect(timeout).toBe("1500ms");
    await expect(inSqlTransaction(t.db, async (q) => q(Prisma.sql`SELECT pg_sleep(2)`), { timeoutMs: 200 })).rejects.toThrow(
      /statement timeout/,
    );
    // Only inside that transaction: the connection's own setting is back afterwards.
    expect((await t.db.query<{ statement_timeout: string }>("SHOW statement_timeout"))[0]?.statement_timeout).toBe("0");
  });

  it.skipIf(!usingPostgres)(
    "waits at most maxWaitMs for a free connection (503), and gives back one that arrives after it gave up",
    async () => {
      // The pool has two connections: two open transactions hold both.
      let finish!: () => void;
      const held = new Promise<void>((r) => {
        finish = r;
      });
      const holders = [0, 1].map(() =>
        inSqlTransaction(t.db, async (q) => {
          await q(Prisma.sql`SELECT 1`);
          await held;
        }),
      );
      await new Promise((r) => setTimeout(r, 50));
      const waited = await inSqlTransaction(t.db, async () => "ran", { maxWaitMs: 100 }).catch((e: unknown) => e);
      expect(waited).toBeInstanceOf(DependencyUnavailableError);
      expect(waited).toMatchObject({
        code: "DEPENDENCY_UNAVAILABLE",
        message: "The database is busy: no connection was free within 100 ms",
      });
      finish();
      await Promise.all(holders);
      // Both connections at once: each transaction waits inside until the other has begun. Had the late
      // connection been kept by the request that gave up, the second could never begin.
      let begun = 0;
      let bothBegun!: () => void;
      const barrier = new Promise<void>((r) => {
        bothBegun = r;
      });
      const both = await Promise.all(
        [0, 1].map((i) =>
          inSqlTransaction(
            t.db,
            async (q) => {
              if (++begun === 2) bothBegun();
              await barrier;
              return (await q<{ x: number }>(Prisma.sql`SELECT ${i}::int AS "x"`))[0]?.x;
            },
            { maxWaitMs: 2_000 },
          ),
        ),
      );
      expect(both).toEqual([0, 1]);
    },
  );
});

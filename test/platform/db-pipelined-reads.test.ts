/**
 * `Database.read` on PostgreSQL (src/platform/db/pipelined-reads.ts): reads that wait for a connection
 * leave together, a statement text per batch, each answered with its own rows; an error fails its own
 * read only; a read that does not wait goes out alone; the control plane's pool has DATABASE_POOL_SIZE
 * connections.
 */
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { Prisma } from "../../src/platform/db/index.js";
import { pipelinedReads } from "../../src/platform/db/pipelined-reads.js";
import { buildContainer } from "../../src/container.js";
import { testConfig } from "../helpers/app.js";
import { adminDatabaseUrl, createTestDatabase, usingPostgres } from "../helpers/db.js";

const noName = () => undefined;

describe.skipIf(!usingPostgres)("pipelined reads on real PostgreSQL (set TEST_DATABASE_URL)", () => {
  const pools: pg.Pool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  /** A pool of `size` pipelined connections, recording each connection handed out and each statement sent. */
  function pool(size: number, url = adminDatabaseUrl() as string) {
    const p = new pg.Pool({ connectionString: url, max: size, pipeline: true });
    pools.push(p);
    const sent: string[] = [];
    let acquired = 0;
    // Writes to PostgreSQL once connected: a corked stream hands Node's _writev all its chunks at once.
    let writes = 0;
    p.on("acquire", () => acquired++);
    p.on("connect", (client) => {
      const stream = (client as unknown as { connection: { stream: { _write: unknown; _writev: unknown } } }).connection.stream;
      for (const method of ["_write", "_writev"] as const) {
        const original = (stream[method] as (...a: unknown[]) => unknown).bind(stream);
        stream[method] = (...args: unknown[]) => {
          writes++;
          return original(...args);
        };
      }
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        sent.push(String((args[0] as { text: string }).text));
        return query(...args);
      };
    });
    return {
      p,
      sent,
      acquired: () => acquired,
      /** Writes since the last call. */
      writes: () => {
        const n = writes;
        writes = 0;
        return n;
      },
    };
  }

  it("reads that wait for the one connection go out sixteen at a time, each with its own rows", async () => {
    const t = pool(1);
    const { read, counts } = pipelinedReads(t.p, { connections: 1, statementName: (text) => `pipelined_${text.length}` });
    const rows = await Promise.all(Array.from({ length: 40 }, (_, n) => read<{ n: number }>(Prisma.sql`SELECT ${n}::int AS "n"`)));
    expect(rows).toEqual(Array.from({ length: 40 }, (_, n) => [{ n }]));
    // All 40 were waiting when the connection came: batches of 16, 16 and 8, each in one write.
    expect(t.acquired()).toBe(3);
    expect(t.sent).toHaveLength(40);
    expect(t.writes()).toBe(3);
    // What /metrics reports (minispod_db_reads_total, minispod_db_read_writes_total).
    expect(counts()).toEqual({ reads: 40, writes: 3 });
  });

  it("a batch carries one statement text; the oldest waiting read's text goes first", async () => {
    const t = pool(1);
    const { read } = pipelinedReads(t.p, { connections: 1, statementName: noName });
    const a = (n: number) => read<{ a: number }>(Prisma.sql`SELECT ${n}::int AS "a"`);
    const b = (n: number) => read<{ b: number }>(Prisma.sql`SELECT ${n}::int AS "b"`);
    const reads: Promise<unknown>[] = [];
    for (let n = 0; n < 20; n++) reads.push(a(n), b(n));
    const rows = await Promise.all(reads);
    expect(rows).toEqual(Array.from({ length: 20 }, (_, n) => [[{ a: n }], [{ b: n }]]).flat());
    const A = `SELECT $1::int AS "a"`;
    const B = `SELECT $1::int AS "b"`;
    expect(t.sent).toEqual([...Array(16).fill(A), ...Array(16).fill(B), ...Array(4).fill(A), ...Array(4).fill(B)]);
    expect(t.acquired()).toBe(4);
  });

  it("a read that fails fails alone; the connection it failed on is not reused", async () => {
    const t = pool(1);
    const { read } = pipelinedReads(t.p, { connections: 1, statementName: (text) => `pipelined_div_${text.length}` });
    const div = (d: number) => read<{ q: number }>(Prisma.sql`SELECT 10 / ${d}::int AS "q"`);
    const pid = () => read<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS "pid"`);
    const before = await pid();
    expect(await pid()).toEqual(before);
    t.writes();
    const [five, zero, two] = await Promise.allSettled([div(5), div(0), div(2)]);
    expect(five).toEqual({ status: "fulfilled", value: [{ q: 2 }] });
    expect(zero).toMatchObject({ status: "rejected", reason: { code: "22012" } });
    expect(two).toEqual({ status: "fulfilled", value: [{ q: 5 }] });
    // One write for the three reads, one for the Terminate of the connection they failed on: as pg.Pool's
    // own query(), the connection of a failed statement is closed, and the next read gets a new one.
    expect(t.writes()).toBe(2);
    const after = await pid();
    expect(after).not.toEqual(before);
    expect(await div(1)).toEqual([{ q: 10 }]);
    expect(await pid()).toEqual(after);
    expect(t.p.totalCount).toBe(1);
  });

  it("a read whose value the driver cannot send fails alone, before it is sent", async () => {
    const t = pool(1);
    const { read, counts } = pipelinedReads(t.p, { connections: 1, statementName: (text) => `pipelined_value_${text.length}` });
    const n = (v: unknown) => read<{ n: number }>(Prisma.sql`SELECT ${v}::int AS "n"`);
    const unsendable = {
      toPostgres() {
        throw new Error("no such value");
      },
    };
    // Sent behind a read of the same named statement, the driver would close that name on the connection
    // and the read behind it would fail with "prepared statement ... does not exist".
    const [one, bad, two] = await Promise.allSettled([n(1), n(unsendable), n(2)]);
    expect(one).toEqual({ status: "fulfilled", value: [{ n: 1 }] });
    expect(bad).toMatchObject({ status: "rejected", reason: { message: "no such value" } });
    expect(two).toEqual({ status: "fulfilled", value: [{ n: 2 }] });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(n(cyclic)).rejects.toThrow(/circular/);
    expect(counts()).toEqual({ reads: 2, writes: 1 });
    // The connection was kept: nothing failed on it.
    expect(t.p.totalCount).toBe(1);
    expect(await n(3)).toEqual([{ n: 3 }]);
  });

  it("a read that does not wait goes out alone, on a connection of its own", async () => {
    const t = pool(2);
    const { read } = pipelinedReads(t.p, { connections: 2, statementName: noName });
    for (let n = 0; n < 3; n++) expect(await read(Prisma.sql`SELECT ${n}::int AS "n"`)).toEqual([{ n }]);
    expect(t.acquired()).toBe(3);
    expect(t.writes()).toBe(3);
    // Two at once with two connections to be had: one each, not both on one.
    const pids = await Promise.all(
      [0, 1].map(() => read<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS "pid", pg_sleep(0.05)::text AS "s"`)),
    );
    expect(new Set(pids.map((r) => r[0].pid)).size).toBe(2);
  });

  it("reads hold at most `connections` of the pool's connections, asked for or carrying a batch", async () => {
    const t = pool(4);
    const { read, counts } = pipelinedReads(t.p, { connections: 2, statementName: noName });
    const reads = await Promise.all(
      Array.from({ length: 8 }, () => read<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS "pid", pg_sleep(0.05)::text AS "s"`)),
    );
    expect(new Set(reads.map((r) => r[0].pid)).size).toBe(2);
    // Two connections, each taking its share of the eight as it came, then the rest as they came free.
    expect(counts().reads).toBe(8);
    expect(counts().writes).toBeLessThanOrEqual(4);
  });

  it("a read sent behind another sees what was committed before it was sent", async () => {
    const t = pool(1);
    const { read } = pipelinedReads(t.p, { connections: 1, statementName: noName });
    // A table of this test's own (not a temporary one: the reads' connection must see it).
    const table = `"pipelined_reads_${process.pid}_${Date.now()}"`;
    const other = new pg.Client({ connectionString: adminDatabaseUrl() });
    await other.connect();
    try {
      await other.query(`CREATE TABLE ${table} ("v" int)`);
      const sleeping = `SELECT count(*)::text AS "n", pg_sleep(0.3)::text AS "s" FROM ${table}`;
      const first = read<{ n: string }>(Prisma.sql([sleeping]));
      // The first read is running on the one connection: the second waits for it, and is sent after the insert.
      for (let i = 0; i < 100; i++) {
        const r = await other.query(`SELECT 1 FROM pg_stat_activity WHERE "query" = $1 AND "state" = 'active'`, [sleeping]);
        if (r.rowCount) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await other.query(`INSERT INTO ${table} VALUES (1)`);
      const second = read<{ n: string }>(Prisma.sql([`SELECT count(*)::text AS "n" FROM ${table}`]));
      const [a, b] = await Promise.all([first, second]);
      expect(a[0].n).toBe("0");
      expect(b).toEqual([{ n: "1" }]);
      expect(t.acquired()).toBe(2);
    } finally {
      await other.query(`DROP TABLE IF EXISTS ${table}`);
      await other.end();
    }
  });

  it("when no connection can be made, every waiting read fails with the reason", async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const t = pool(2, "postgresql://postgres@127.0.0.1:1/postgres");
    const { read } = pipelinedReads(t.p, { connections: 2, statementName: noName });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, n) => read(Prisma.sql`SELECT ${n}::int AS "n"`)));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill("rejected"));
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe.skipIf(!usingPostgres)("the control plane's pool (set TEST_DATABASE_URL)", () => {
  it("has DATABASE_POOL_SIZE connections, which the reads share", async () => {
    const target = await createTestDatabase({ migrate: false });
    const container = await buildContainer(testConfig({ DATABASE_URL: target.url as string, DATABASE_POOL_SIZE: "2" }));
    try {
      const before = container.db.readCounts()?.reads ?? 0;
      const reads = await Promise.all(
        Array.from({ length: 8 }, () =>
          container.db.read<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS "pid", pg_sleep(0.05)::text AS "s"`),
        ),
      );
      // Eight reads at once over two connections (ten would each have had one of their own).
      expect(new Set(reads.map((r) => r[0].pid)).size).toBe(2);
      expect((container.db.readCounts()?.reads ?? 0) - before).toBe(8);
    } finally {
      await container.close();
      await target.drop();
    }
  });
});

/**
 * The database: Prisma over PostgreSQL (`@prisma/adapter-pg`) when a URL is configured, or over
 * embedded PGlite (on disk, or in memory for tests) otherwise. Both speak the same SQL, so the same
 * migrations and queries serve both; concurrency guarantees are only proven on real PostgreSQL.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { Prisma, PrismaClient } from "../../generated/prisma/client.js";
import { DependencyUnavailableError } from "../domain-errors.js";
import { pipelinedReads, type ReadCounts } from "./pipelined-reads.js";

export type { PrismaClient };
export { Prisma };

/**
 * A parameterised read (a `Prisma.sql` template) sent straight to the driver, past Prisma's query
 * engine: for the hot read paths (GET /api/instances, /api/instances/:id, /api/credits), where that
 * engine cost more CPU than the rest of the request. Rows come back as the driver parses them
 * (json columns parsed, int4 as numbers); statements are still seen by `onStatement`.
 */
export type SqlRead = <T = Record<string, unknown>>(sql: Prisma.Sql) => Promise<T[]>;

/** The same read through Prisma (`$queryRaw`): for a transaction, or where no `Database` is at hand. */
export function prismaRead(db: Db): SqlRead {
  return <T>(sql: Prisma.Sql) => db.$queryRaw<T[]>(sql);
}

/**
 * Where a raw statement may run: Prisma (the client or a transaction, for composing) or, outside any
 * transaction, straight on the driver (`Database.read`, past Prisma's engine: the reconciler's hot
 * statements). `sqlRows` runs it on either.
 */
export type SqlTarget = Db | SqlRead;

export function sqlRows<T>(db: SqlTarget, sql: Prisma.Sql): Promise<T[]> {
  return typeof db === "function" ? db<T>(sql) : db.$queryRaw<T[]>(sql);
}

/**
 * Every column of a model's row under its Prisma field name (`"k8s_name" AS "k8sName"`, ...), for raw
 * statements that hand back whole rows (`RETURNING ${rowColumns(Prisma.InstanceScalarFieldEnum)}`): each
 * field's column is its name in snake_case. The driver parses what Prisma would (timestamptz as Date,
 * int4 as number, json parsed); a model with int8 or numeric columns would get strings, so such models
 * are not read this way. test/modules/provisioning-statements.test.ts compares rows with Prisma's.
 */
export function rowColumns(fields: Record<string, string>): Prisma.Sql {
  return Prisma.raw(
    Object.values(fields)
      .map((f) => `"${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}" AS "${f}"`)
      .join(", "),
  );
}

/**
 * The PostgreSQL SQLSTATE of a failed statement, whichever way it was sent: the driver's own error
 * (`pg` or PGlite: `code`), or Prisma's for a raw query (`P2010`) or the adapter's error, which carry
 * it as `originalCode`. Undefined for anything else (Prisma's own codes, network errors).
 */
export function sqlStateOf(err: unknown): string | undefined {
  const e = err as {
    code?: unknown;
    severity?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } };
    cause?: { originalCode?: unknown };
  };
  const code = e?.meta?.driverAdapterError?.cause?.originalCode ?? e?.cause?.originalCode;
  if (typeof code === "string") return code;
  // The drivers' errors carry the server's severity next to the code (Prisma's own codes are P....).
  if (typeof e?.code === "string" && typeof e?.severity === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return undefined;
}

/**
 * A transaction of raw statements on one connection, sent straight to the driver (`SqlRead` inside):
 * `Database.transaction`. It commits when `fn` resolves and rolls back when it throws. Opened through
 * `inSqlTransaction` (platform/transaction.ts).
 */
export type SqlTransaction = <T>(fn: (q: SqlRead) => Promise<T>, opts?: SqlTransactionOptions) => Promise<T>;

export interface SqlTransactionOptions {
  /** Bounds each statement (PostgreSQL's `statement_timeout`, lock waits included). */
  timeoutMs?: number;
  /**
   * How long to wait for a free pooled connection (default 15 s, as Prisma's transactions): past it the
   * transaction is not begun and the caller gets 503 DEPENDENCY_UNAVAILABLE.
   */
  maxWaitMs?: number;
}

/**
 * How long a transaction waits for a pooled connection before it gives up, of either kind: Prisma's
 * (`maxWait`, platform/transaction.ts) and the driver's (`SqlTransactionOptions.maxWaitMs`).
 */
export const TRANSACTION_MAX_WAIT_MS = 15_000;

/**
 * A connection from the pool within `ms`, or a 503. A connection that arrives after the wait gave up is
 * given straight back, so none is lost to a caller that left.
 */
function connectWithin(pool: pg.Pool, ms: number): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      reject(new DependencyUnavailableError(`The database is busy: no connection was free within ${ms} ms`));
    }, ms);
    pool.connect().then(
      (client) => {
        clearTimeout(timer);
        if (gaveUp) client.release();
        else resolve(client);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** A Prisma interactive-transaction client (what `$transaction(async (tx) => ...)` hands over). */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];
/** Either the client or a transaction: services accept both so callers can compose transactions. */
export type Db = PrismaClient | Tx;

export interface Database {
  readonly kind: "postgres" | "pglite";
  /** Human-readable location for the startup log (never includes a password). */
  readonly location: string;
  readonly prisma: PrismaClient;
  /** Runs a multi-statement SQL script outside Prisma (used by the migrator). */
  execScript(sql: string): Promise<void>;
  /** A raw parameterised query outside Prisma (used by the migrator). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A `Prisma.sql` read outside Prisma, on the same connections (see `SqlRead`). */
  read: SqlRead;
  /**
   * How many statements `read` sent and in how many writes (PostgreSQL: reads that waited for a
   * connection go together, pipelined-reads.ts); undefined on PGlite, which runs in the process.
   */
  readCounts(): ReadCounts | undefined;
  /**
   * A transaction of `Prisma.sql` statements outside Prisma (see `SqlTransaction`). `timeoutMs` bounds
   * each statement (PostgreSQL's `statement_timeout`; PGlite runs in the process and has none), and
   * `maxWaitMs` the wait for a pooled connection (PGlite has one, and queues its callers).
   */
  transaction: SqlTransaction;
  /**
   * Runs fn while holding a session-level advisory lock, so that only one process at a time runs it
   * (PGlite is single-process, so there it simply runs).
   */
  withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Called with the text of every SQL statement sent to the database (Prisma's and the migrator's).
 * For tests that count statements per request; production passes none.
 */
export type StatementListener = (sql: string) => void;

export type DatabaseOptions = ({ url: string; poolSize?: number } | { pgliteDir: string } | { pgliteMemory: true }) & {
  onStatement?: StatementListener;
};

const statementText = (q: unknown): string => (typeof q === "string" ? q : String((q as { text?: unknown })?.text ?? ""));

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgresql://(unparseable url)";
  }
}

export async function createDatabase(opts: DatabaseOptions): Promise<Database> {
  if ("url" in opts) return createPostgres(opts.url, opts.poolSize ?? 10, opts.onStatement);
  if ("pgliteDir" in opts) {
    mkdirSync(opts.pgliteDir, { recursive: true });
    return createPglite(new PGlite(opts.pgliteDir), path.resolve(opts.pgliteDir), opts.onStatement);
  }
  return createPglite(new PGlite(), "memory", opts.onStatement);
}

/**
 * The hot reads (`Database.read`) run as named prepared statements: each pooled connection parses and
 * plans a statement's text once and then only binds and executes it (for the instance list, planning
 * cost the database about as much as executing). The name is the text's hash, so a text always maps to
 * the same name on every connection. The texts are the read path's templates (their values are
 * parameters), a few dozen at most; past PREPARED_MAX distinct texts a read runs unnamed, so a caller
 * that built texts from data could not grow every connection's statement cache without bound.
 */
const PREPARED_MAX = 256;
const preparedNames = new Map<string, string>();
function preparedName(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < PREPARED_MAX) {
    name = `minispod_read_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return name;
}

function createPostgres(url: string, poolSize: number, onStatement?: StatementListener): Database {
  // Pipeline mode: a connection may carry several reads at once (pipelined-reads.ts).
  const pool = new pg.Pool({ connectionString: url, max: poolSize, pipeline: true });
  // An idle client's error (e.g. the server restarting) must not crash the process.
  pool.on("error", () => {});
  if (onStatement) {
    // Every statement, pooled or in a transaction, goes through a client's query().
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        onStatement(statementText(args[0]));
        return query(...args);
      };
    });
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const reads = pipelinedReads(pool, { connections: poolSize, statementName: preparedName });
  return {
    kind: "postgres",
    location: redactUrl(url),
    prisma,
    async execScript(sql) {
      // A dedicated connection, so a failed script's open transaction is rolled back on the same
      // connection instead of returning to the pool aborted.
      const client = await pool.connect();
      try {
        await client.query(sql);
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async query(sql, params) {
      const r = await pool.query(sql, params as unknown[]);
      return r.rows;
    },
    read: reads.read,
    readCounts: reads.counts,
    async transaction<T>(fn: (q: SqlRead) => Promise<T>, opts: SqlTransactionOptions = {}): Promise<T> {
      const client = await connectWithin(pool, opts.maxWaitMs ?? TRANSACTION_MAX_WAIT_MS);
      let broken = false;
      try {
        // One round trip: both statements in one simple query.
        const timeout = opts.timeoutMs ? `; SET LOCAL statement_timeout = ${Math.max(1, Math.round(opts.timeoutMs))}` : "";
        await client.query(`BEGIN${timeout}`);
        const q: SqlRead = async <R>(sql: Prisma.Sql) =>
          (await client.query({ text: sql.text, values: sql.values as unknown[] })).rows as R[];
        const result = await fn(q);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        // A connection that cannot even roll back is not given back to the pool.
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async withAdvisoryLock(key, fn) {
      const client = await pool.connect();
      try {
        await client.query("SELECT pg_advisory_lock($1)", [key]);
        try {
          return await fn();
        } finally {
          await client.query("SELECT pg_advisory_unlock($1)", [key]);
        }
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function createPglite(db: PGlite, location: string, onStatement?: StatementListener): Promise<Database> {
  await db.waitReady;
  if (onStatement) {
    // Statements outside transactions (reads); statements inside PGlite transactions are not seen.
    const query = db.query.bind(db);
    const exec = db.exec.bind(db);
    db.query = ((sql: string, ...rest: unknown[]) => {
      onStatement(sql);
      return (query as (...a: unknown[]) => unknown)(sql, ...rest);
    }) as typeof db.query;
    db.exec = ((sql: string, ...rest: unknown[]) => {
      onStatement(sql);
      return (exec as (...a: unknown[]) => unknown)(sql, ...rest);
    }) as typeof db.exec;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  return {
    kind: "pglite",
    location: location === "memory" ? "embedded PGlite (in memory)" : `embedded PGlite at ${location}`,
    prisma,
    async execScript(sql) {
      // The adapter cannot run multi-statement SQL (42601); PGlite's exec can.
      await db.exec(sql);
    },
    async query(sql, params) {
      const r = await db.query(sql, params as unknown[]);
      return r.rows as never[];
    },
    async read<T>(sql: Prisma.Sql) {
      const r = await db.query(sql.text, sql.values as unknown[]);
      return r.rows as T[];
    },
    readCounts: () => undefined,
    async transaction<T>(fn: (q: SqlRead) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(async <R>(sql: Prisma.Sql) => (await tx.query(sql.text, sql.values as unknown[])).rows as R[]));
    },
    async withAdvisoryLock(_key, fn) {
      return fn();
    },
    async ping() {
      await db.query("SELECT 1");
    },
    async close() {
      await prisma.$disconnect();
      await db.close();
    },
  };
}

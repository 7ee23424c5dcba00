/**
 * Transactions that compose: a service function takes a `Db` (the client or a caller's transaction);
 * `inTransaction` opens one only when it was given the client, so the caller's transaction is joined
 * otherwise. Every money-moving path runs inside one.
 */
import type { Db, PrismaClient, SqlRead, SqlTransaction, SqlTransactionOptions, Tx } from "./db/index.js";
import { Prisma, sqlStateOf, TRANSACTION_MAX_WAIT_MS } from "./db/index.js";

/** Generous limits: under load, a transaction may wait for a pool connection and for a row lock. */
const TX_OPTIONS = { maxWait: TRANSACTION_MAX_WAIT_MS, timeout: 30_000 } as const;

/** A transaction client lacks `$connect` (Prisma denies it inside interactive transactions). */
export function isTransaction(db: Db): db is Tx {
  return !("$connect" in db);
}

/** The way to open a Prisma transaction. */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (isTransaction(db)) return fn(db);
  return (db as PrismaClient).$transaction(fn, TX_OPTIONS);
}

/** A unique-constraint violation, by code: Prisma's P2002, or SQLSTATE 23505 from a raw statement. */
export function isUniqueViolation(err: unknown): boolean {
  return (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") || sqlStateOf(err) === "23505";
}

/**
 * The other way: a transaction of raw statements on the driver, past Prisma's engine
 * (`Database.transaction`), for one whose statements are all raw SQL: the health sweep's write (~2 MB of
 * records at 10,000 instances, which Prisma's engine would serialise again, parse back and keep in its
 * debug history) and a purchase (where Prisma's interactive transaction cost more CPU than the
 * statements in it). It joins no Prisma transaction: what runs in it takes the `SqlRead` it is handed (a
 * `SqlTarget`). `timeoutMs` bounds each statement; `maxWaitMs` the wait for a connection (15 s).
 */
export function inSqlTransaction<T>(
  db: { transaction: SqlTransaction },
  fn: (q: SqlRead) => Promise<T>,
  opts: SqlTransactionOptions = {},
): Promise<T> {
  return db.transaction(fn, opts);
}

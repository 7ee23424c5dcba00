/**
 * Transactions that compose: a service function takes a `Db` (the client or a caller's transaction);
 * `inTransaction` opens one only when it was given the client, so the caller's transaction is joined
 * otherwise. Every money-moving path runs inside one.
 */
import type { Db, PrismaClient, Tx } from "./db/index.js";
import { Prisma } from "./db/index.js";

/** Generous limits: under load, a transaction may wait for a pool connection and for a row lock. */
const TX_OPTIONS = { maxWait: 15_000, timeout: 30_000 } as const;

/** A transaction client lacks `$connect` (Prisma denies it inside interactive transactions). */
export function isTransaction(db: Db): db is Tx {
  return !("$connect" in db);
}

/** The one way to open a transaction. `timeoutMs` raises the default 30 s bound (a whole health sweep's write). */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, opts: { timeoutMs?: number } = {}): Promise<T> {
  if (isTransaction(db)) return fn(db);
  return (db as PrismaClient).$transaction(fn, { ...TX_OPTIONS, ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}) });
}

/** A unique-constraint violation (Prisma P2002), by code. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002";
}

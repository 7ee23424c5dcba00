/**
 * The hot reads (`Database.read`) on PostgreSQL, sent together when they have to wait.
 *
 * A read that finds every pooled connection busy waits here, not in the pool's queue. A connection that
 * comes free takes the oldest waiting read and other waiting reads of the same statement text (its share
 * of them with the other connections coming, at most `maxBatch`), and writes them to PostgreSQL at once:
 * one write for all of them, where each read used to cost a write of its own. PostgreSQL answers them
 * in order on that connection. The driver's pipeline mode sends each read with its own Sync, so each is
 * its own implicit transaction, sees every commit made before it was sent, and an error fails that read
 * alone.
 *
 * Why: under load, half of a read request's CPU in the API was the kernel's loopback TCP, and a write
 * to PostgreSQL was one of the two writes per request. With `bench:api`'s 50 clients on two cores and
 * the default pool of 10, a write carries 2.0-2.3 reads, and the balance's throughput rose by a quarter
 * (bench/RESULTS.md; `minispod_db_read_writes_total` counts the writes). At low load nothing waits and a
 * read goes out alone, as it did before.
 *
 * The reconciler's single statements on `Database.read` (the work queue's, tenant sync's) are batched
 * alike: each is still its own statement and its own transaction, in the order they were asked for.
 *
 * One statement text per batch: reads of one text cost alike, so a read does not end up behind a
 * costlier statement (the admin's 30-day stats behind a user's balance) that it would not have waited for.
 *
 * The pool's clients must be in pipeline mode (`pipeline: true`); the pool serves Prisma and the
 * transactions as before, whose statements follow one another on a connection.
 */
import { createRequire } from "node:module";
import type pg from "pg";
import type { Prisma } from "../../generated/prisma/client.js";
import type { SqlRead } from "./index.js";

interface Waiting {
  text: string;
  /** The parameters as the driver sends them (`prepareValue`): what it would fail to send fails before. */
  values: unknown[];
  resolve: (rows: unknown[]) => void;
  reject: (err: unknown) => void;
}

/**
 * The driver's own conversion of a parameter to what it sends (a string, a Buffer or null); it gives
 * back what it returned unchanged. A value it cannot convert (a cyclic object, a `toPostgres` that
 * throws) makes the driver close the statement's name on that connection, which fails the reads of that
 * text queued behind it. So the values are converted here, and such a read fails alone, unsent.
 */
const { prepareValue } = createRequire(import.meta.url)("pg/lib/utils") as { prepareValue: (value: unknown) => unknown };

export interface PipelinedReadsOptions {
  /**
   * How many of the pool's connections the reads may hold at once (asked for, or carrying a batch): the
   * pool's size, or fewer, so that more reads wait and go together while the rest of the pool stays free
   * for transactions.
   */
  connections: number;
  /** The prepared statement's name for a text, or undefined to run it unnamed. */
  statementName: (text: string) => string | undefined;
  /** The most reads sent together on one connection (default 16). */
  maxBatch?: number;
}

/** Reads sent so far, and the writes to PostgreSQL that carried them: reads per write is the batching. */
export interface ReadCounts {
  reads: number;
  writes: number;
}

export function pipelinedReads(pool: pg.Pool, o: PipelinedReadsOptions): { read: SqlRead; counts: () => ReadCounts } {
  const maxBatch = o.maxBatch ?? 16;
  let waiting: Waiting[] = [];
  // Connections asked of the pool for waiting reads and not yet given, and those carrying a batch.
  let connecting = 0;
  let carrying = 0;
  const counts: ReadCounts = { reads: 0, writes: 0 };

  /**
   * The oldest waiting read and others of its text, in order, out of the queue: its share of them, with
   * the connections still coming for waiting reads, so that reads that could each have a connection of
   * their own are not queued on one.
   */
  const takeBatch = (): Waiting[] => {
    const text = waiting[0].text;
    let same = 0;
    for (const w of waiting) if (w.text === text) same++;
    const size = Math.min(maxBatch, Math.ceil(same / (connecting + 1)));
    if (size === waiting.length) {
      // The usual case under load: a few reads of one text, all going.
      const all = waiting;
      waiting = [];
      return all;
    }
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of waiting) (batch.length < size && w.text === text ? batch : rest).push(w);
    waiting = rest;
    return batch;
  };

  const send = (client: pg.PoolClient, batch: Waiting[]) => {
    let left = batch.length;
    let failed: Error | undefined;
    const settled = () => {
      if (--left > 0) return;
      carrying--;
      // As the pool's own query(): a connection whose statement failed is not reused.
      client.release(failed);
      askForConnections();
    };
    carrying++;
    counts.reads += batch.length;
    counts.writes++;
    // Corked, the reads' messages leave in one write when the last is queued.
    const stream = client.connection.stream;
    stream.cork();
    try {
      for (const w of batch) {
        client.query({ name: o.statementName(w.text), text: w.text, values: w.values }).then(
          (r) => {
            w.resolve(r.rows);
            settled();
          },
          (err: Error) => {
            failed ??= err;
            w.reject(err);
            settled();
          },
        );
      }
    } finally {
      stream.uncork();
    }
  };

  // One connection asked for per waiting read, with at most `connections` asked for or carrying reads; a
  // connection that arrives when its reads have left with another is given straight back.
  const askForConnections = () => {
    while (connecting < waiting.length && connecting + carrying < o.connections) {
      connecting++;
      pool.connect().then(
        (client) => {
          connecting--;
          if (waiting.length === 0) client.release();
          else send(client, takeBatch());
          askForConnections();
        },
        (err: unknown) => {
          connecting--;
          // The reads this connection was for fail with the reason; the others ask again.
          if (waiting.length > 0) for (const w of takeBatch()) w.reject(err);
          askForConnections();
        },
      );
    }
  };

  const read = <T>(sql: Prisma.Sql): Promise<T[]> => {
    let values: unknown[];
    try {
      values = (sql.values as unknown[]).map(prepareValue);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T[]>((resolve, reject) => {
      waiting.push({ text: sql.text, values, resolve: resolve as (rows: unknown[]) => void, reject });
      askForConnections();
    });
  };
  return { read, counts: () => ({ ...counts }) };
}

/**
 * Idempotent requests (the `Idempotency-Key` header), built once and used by every endpoint that
 * creates or moves something (admin credit grants, subscriptions).
 *
 * The record — (userId, scope, key) -> sha256 of the canonical request, response status and body — is
 * written in the SAME transaction as the work, so a crash can never keep one without the other:
 *   - first request: the work runs, its response is stored, both commit together;
 *   - same key, same request: the stored status and body are returned (nothing runs again);
 *   - same key, different request: 409 IDEMPOTENCY_KEY_REUSED;
 *   - a request whose key is in flight (another request with the same key is running, on any
 *     replica): it never runs its own work beside the first — that could answer differently (e.g. 402
 *     once the first has spent the credits). Each transaction first takes a transaction-scoped
 *     advisory lock on (user, scope, key) with `pg_try_advisory_xact_lock`; a request that cannot
 *     take it rolls back, waits briefly (without holding a connection) and tries again, so it
 *     replays the first's response once that commits, or runs itself if the first failed and stored
 *     nothing. After `inFlightWaitMs` it gets 409 IDEMPOTENCY_KEY_IN_PROGRESS with `Retry-After`.
 * Only successful responses are stored: a request that failed (402, 422, ...) changed nothing and may
 * be retried with the same key.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  Prisma,
  type PrismaClient,
  type SqlRead,
  type SqlTarget,
  type SqlTransaction,
  type SqlTransactionOptions,
  sqlRows,
  type Tx,
} from "./db/index.js";
import { ConflictError, IdempotencyKeyReusedError, ValidationError } from "./domain-errors.js";
import { inSqlTransaction, inTransaction, isUniqueViolation } from "./transaction.js";

/** Another request with the same key is still running; the client should retry after `retryAfterSeconds`. */
export class IdempotencyKeyInProgressError extends ConflictError {
  override readonly code = "IDEMPOTENCY_KEY_IN_PROGRESS";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { details: { retryAfterSeconds } });
  }
}

/** Internal: the key's advisory lock is held by another transaction right now. */
class KeyBusy extends Error {}

/** The header clients send; 1-255 printable ASCII characters (a UUID is the usual choice). */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, "must be 1-255 printable ASCII characters without spaces");

/** Reads and validates the header; `required` makes a missing key a 400. */
export function idempotencyKeyFrom(header: string | string[] | undefined, required: boolean): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === "") {
    if (required) {
      throw new ValidationError(`The ${IDEMPOTENCY_HEADER} header is required`, {
        details: [{ path: `headers.${IDEMPOTENCY_HEADER.toLowerCase()}`, message: "required", code: "invalid_type" }],
      });
    }
    return undefined;
  }
  const r = IdempotencyKeySchema.safeParse(value);
  if (!r.success) {
    throw new ValidationError(`Invalid ${IDEMPOTENCY_HEADER} header`, {
      details: [
        { path: `headers.${IDEMPOTENCY_HEADER.toLowerCase()}`, message: r.error.issues[0]?.message ?? "invalid", code: "invalid_format" },
      ],
    });
  }
  return r.data;
}

/** JSON with object keys sorted, so that `{a,b}` and `{b,a}` hash the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export function requestHash(request: unknown): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}

export interface IdempotentResponse<B> {
  status: number;
  body: B;
  /** True when the stored response of an earlier request was returned and nothing ran. */
  replayed: boolean;
}

export interface IdempotentCall {
  /** Whose key it is (keys are per user). */
  userId: string;
  /** The endpoint, e.g. "subscriptions.create"; the same key may be used once per scope. */
  scope: string;
  /** The header value; undefined runs the work once without recording anything. */
  key: string | undefined;
  /** Everything that identifies the request (body and path parameters). */
  request: unknown;
}

/** A signed 64-bit advisory-lock key for (user, scope, key). */
export function idempotencyLockKey(userId: string, scope: string, key: string): bigint {
  return createHash("sha256").update(`idempotency\u0000${userId}\u0000${scope}\u0000${key}`).digest().readBigInt64BE(0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a transaction and hands `fn` what its statements run on (Prisma's `Tx`, or the driver's `SqlRead`). */
type TransactionOpener<T extends SqlTarget> = <R>(fn: (t: T) => Promise<R>) => Promise<R>;

/** The stored response's columns. */
interface StoredResponse {
  requestHash: string;
  responseStatus: number;
  responseBody: unknown;
}

export class IdempotencyService {
  private readonly inFlightWaitMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly opts: {
      prisma: PrismaClient;
      /** The driver's transactions (`Database.transaction`), for `executeSql`. */
      db: { transaction: SqlTransaction };
      inFlightWaitMs?: number;
      pollMs?: number;
    },
  ) {
    this.inFlightWaitMs = opts.inFlightWaitMs ?? 10_000;
    this.pollMs = opts.pollMs ?? 50;
  }

  /**
   * Forgets stored responses older than `cutoff` (in batches), so the table does not grow forever.
   * A key used again after that runs as a new request; money stays safe regardless, because every
   * ledger movement has its own permanent idempotency key.
   */
  async pruneOlderThan(cutoff: Date, batchSize = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.opts.prisma.$executeRaw`
        DELETE FROM "idempotency_records" WHERE ctid IN (
          SELECT ctid FROM "idempotency_records" WHERE "created_at" < ${cutoff} LIMIT ${batchSize})`;
      total += n;
      if (n < batchSize) return total;
    }
  }

  /**
   * Runs `work` in one Prisma transaction and stores its response under the key in that same
   * transaction. `work` returns the HTTP status and a JSON-serialisable body (it is round-tripped
   * through JSON so that a first response and its replays are identical).
   */
  async execute<B>(call: IdempotentCall, work: (tx: Tx) => Promise<{ status: number; body: B }>): Promise<IdempotentResponse<B>> {
    return this.run<B, Tx>(call, (fn) => inTransaction(this.opts.prisma, fn), work);
  }

  /**
   * `execute` on a transaction of raw statements sent straight to the driver (`inSqlTransaction`), for
   * work whose statements are all raw SQL: Prisma's interactive transaction costs more CPU than the
   * statements in it (bench/RESULTS.md). `timeoutMs` bounds each statement, lock waits included.
   */
  async executeSql<B>(
    call: IdempotentCall,
    work: (q: SqlRead) => Promise<{ status: number; body: B }>,
    opts: SqlTransactionOptions = {},
  ): Promise<IdempotentResponse<B>> {
    return this.run<B, SqlRead>(call, (fn) => inSqlTransaction(this.opts.db, fn, opts), work);
  }

  private async run<B, T extends SqlTarget>(
    call: IdempotentCall,
    open: TransactionOpener<T>,
    work: (t: T) => Promise<{ status: number; body: B }>,
  ): Promise<IdempotentResponse<B>> {
    if (call.key === undefined) {
      const r = await open(work);
      return { status: r.status, body: JSON.parse(JSON.stringify(r.body)) as B, replayed: false };
    }
    const key = call.key;
    const hash = requestHash(call.request);
    const lockKey = idempotencyLockKey(call.userId, call.scope, key);
    const deadline = Date.now() + this.inFlightWaitMs;
    for (;;) {
      try {
        return await this.attempt<B, T>(call, key, hash, lockKey, open, work);
      } catch (err) {
        if (!(err instanceof KeyBusy)) throw err;
        if (Date.now() >= deadline) {
          const retryAfterSeconds = 1;
          throw new IdempotencyKeyInProgressError(
            `A request with this ${IDEMPOTENCY_HEADER} is still in progress; retry after ${retryAfterSeconds} s`,
            retryAfterSeconds,
          );
        }
        await sleep(this.pollMs);
      }
    }
  }

  private async attempt<B, T extends SqlTarget>(
    call: IdempotentCall,
    key: string,
    hash: string,
    lockKey: bigint,
    open: TransactionOpener<T>,
    work: (t: T) => Promise<{ status: number; body: B }>,
  ): Promise<IdempotentResponse<B>> {
    const stored = (db: SqlTarget) =>
      sqlRows<StoredResponse>(
        db,
        Prisma.sql`SELECT "request_hash" AS "requestHash", "response_status" AS "responseStatus", "response_body" AS "responseBody"
                     FROM "idempotency_records" WHERE "user_id" = ${call.userId} AND "scope" = ${call.scope} AND "key" = ${key}`,
      );
    try {
      return await open(async (t) => {
        const [lock] = await sqlRows<{ locked: boolean }>(t, Prisma.sql`SELECT pg_try_advisory_xact_lock(${lockKey}) AS locked`);
        if (!lock?.locked) throw new KeyBusy();
        const [existing] = await stored(t);
        if (existing) return this.replay<B>(existing, hash);
        const r = await work(t);
        const json = JSON.stringify(r.body);
        await sqlRows(
          t,
          Prisma.sql`
          INSERT INTO "idempotency_records" ("user_id", "scope", "key", "request_hash", "response_status", "response_body", "created_at")
          VALUES (${call.userId}, ${call.scope}, ${key}, ${hash}, ${r.status}, ${json}::jsonb, ${new Date()})`,
        );
        return { status: r.status, body: JSON.parse(json) as B, replayed: false };
      });
    } catch (err) {
      // A concurrent request with the same key committed first: answer as its replay.
      if (isUniqueViolation(err)) {
        const [existing] = await stored(this.opts.prisma);
        if (existing) return this.replay<B>(existing, hash);
      }
      throw err;
    }
  }

  private replay<B>(record: { requestHash: string; responseStatus: number; responseBody: unknown }, hash: string): IdempotentResponse<B> {
    if (record.requestHash !== hash) {
      throw new IdempotencyKeyReusedError(`This ${IDEMPOTENCY_HEADER} was already used for a different request`);
    }
    return { status: record.responseStatus, body: record.responseBody as B, replayed: true };
  }
}

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
import type { Prisma as PrismaNs } from "../generated/prisma/client.js";
import type { PrismaClient, Tx } from "./db/index.js";
import { ConflictError, IdempotencyKeyReusedError, ValidationError } from "./domain-errors.js";
import { inTransaction, isUniqueViolation } from "./transaction.js";

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

export class IdempotencyService {
  private readonly inFlightWaitMs: number;
  private readonly pollMs: number;

  constructor(private readonly opts: { prisma: PrismaClient; inFlightWaitMs?: number; pollMs?: number }) {
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
   * Runs `work` in one transaction and stores its response under the key in that same transaction.
   * `work` returns the HTTP status and a JSON-serialisable body (it is round-tripped through JSON so
   * that a first response and its replays are identical).
   */
  async execute<B>(call: IdempotentCall, work: (tx: Tx) => Promise<{ status: number; body: B }>): Promise<IdempotentResponse<B>> {
    const { prisma } = this.opts;
    if (call.key === undefined) {
      const r = await inTransaction(prisma, work);
      return { status: r.status, body: JSON.parse(JSON.stringify(r.body)) as B, replayed: false };
    }
    const key = call.key;
    const hash = requestHash(call.request);
    const id = { userId_scope_key: { userId: call.userId, scope: call.scope, key } };
    const lockKey = idempotencyLockKey(call.userId, call.scope, key);
    const deadline = Date.now() + this.inFlightWaitMs;
    for (;;) {
      try {
        return await this.attempt<B>(call, key, hash, id, lockKey, work);
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

  private async attempt<B>(
    call: IdempotentCall,
    key: string,
    hash: string,
    id: { userId_scope_key: { userId: string; scope: string; key: string } },
    lockKey: bigint,
    work: (tx: Tx) => Promise<{ status: number; body: B }>,
  ): Promise<IdempotentResponse<B>> {
    const { prisma } = this.opts;
    try {
      return await inTransaction(prisma, async (tx) => {
        const [lock] = await tx.$queryRaw<Array<{ locked: boolean }>>`SELECT pg_try_advisory_xact_lock(${lockKey}) AS locked`;
        if (!lock?.locked) throw new KeyBusy();
        const existing = await tx.idempotencyRecord.findUnique({ where: id });
        if (existing) return this.replay<B>(existing, hash);
        const r = await work(tx);
        const body = JSON.parse(JSON.stringify(r.body)) as B;
        await tx.idempotencyRecord.create({
          data: {
            userId: call.userId,
            scope: call.scope,
            key,
            requestHash: hash,
            responseStatus: r.status,
            responseBody: body as PrismaNs.InputJsonValue,
          },
        });
        return { status: r.status, body, replayed: false };
      });
    } catch (err) {
      // A concurrent request with the same key committed first: answer as its replay.
      if (isUniqueViolation(err)) {
        const existing = await prisma.idempotencyRecord.findUnique({ where: id });
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

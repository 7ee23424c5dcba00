/**
 * Revoked login sessions, known to every replica within about a second without a database query per
 * request.
 *
 * A session is a refresh-token family; every access token carries its session id (`sid`). Revoking a
 * session (logout, refresh-token reuse) or all of a user's sessions (password change, account
 * disabled, role changed) writes `revoked_sessions` rows — in the caller's transaction when given
 * one — and adds them to this replica's in-memory set at once. Other replicas poll the table every
 * `pollIntervalMs` (default 500 ms) for rows revoked since their last poll (with an overlap, so a row
 * committed late is not missed) — a poll, not LISTEN/NOTIFY, so the embedded PGlite database works
 * the same way. `authenticate` then refuses the session's access tokens from memory.
 *
 * Rows only need to live as long as an access token of the session could: `expires_at` is the
 * revocation time plus the access-token lifetime (and a minute of clock skew); housekeeping deletes
 * older rows, and the in-memory set forgets them at the same time.
 */
import type { Clock } from "../../platform/clock.js";
import type { Db, PrismaClient } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";

export type RevocationReason = "logout" | "refresh-reuse" | "password-change" | "user-disabled" | "role-change";

const SKEW_MS = 60_000;
/** How far back each poll looks beyond the previous one (transactions commit after their timestamps). */
const POLL_OVERLAP_MS = 10_000;

export interface SessionRevocationsOptions {
  prisma: PrismaClient;
  clock: Clock;
  logger: Logger;
  accessTokenTtlMs: number;
  pollIntervalMs: number;
}

export class SessionRevocations {
  /** session id -> when its last access token expires (ms). */
  private readonly revoked = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private since: Date | undefined;
  private polling: Promise<void> | undefined;

  constructor(private readonly opts: SessionRevocationsOptions) {}

  /** Loads every revocation still in force, then keeps polling. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => {
      this.poll().catch((err: unknown) => this.opts.logger.warn({ err }, "could not poll revoked sessions; retrying"));
    }, this.opts.pollIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => {});
  }

  isRevoked = (sessionId: string): boolean => {
    const until = this.revoked.get(sessionId);
    return until !== undefined && until > this.opts.clock.now().getTime();
  };

  /** Reads revocations made since the last poll (on any replica). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const prisma = this.opts.prisma;
    const [clock] = await prisma.$queryRaw<Array<{ now: Date }>>`SELECT now() AS "now"`;
    const rows = this.since
      ? await prisma.revokedSession.findMany({
          where: { revokedAt: { gt: new Date(this.since.getTime() - POLL_OVERLAP_MS) } },
          select: { sessionId: true, expiresAt: true },
        })
      : await prisma.revokedSession.findMany({
          where: { expiresAt: { gt: this.opts.clock.now() } },
          select: { sessionId: true, expiresAt: true },
        });
    for (const r of rows) this.revoked.set(r.sessionId, r.expiresAt.getTime());
    if (clock) this.since = clock.now;
    const now = this.opts.clock.now().getTime();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }

  /** Revokes one session: its refresh tokens and its access tokens. */
  async revokeSession(db: Db, userId: string, sessionId: string, reason: RevocationReason): Promise<void> {
    const now = this.opts.clock.now();
    await db.refreshToken.updateMany({ where: { familyId: sessionId, revokedAt: null }, data: { revokedAt: now } });
    await this.record(db, userId, [sessionId], reason);
  }

  /**
   * Revokes every session of a user: all refresh tokens, and the access tokens of every session that
   * issued one within the access-token lifetime (older sessions have no live access token).
   * Returns how many sessions could still have had live access tokens.
   */
  async revokeUser(db: Db, userId: string, reason: RevocationReason): Promise<number> {
    const now = this.opts.clock.now();
    const recent = await db.refreshToken.findMany({
      where: { userId, createdAt: { gt: new Date(now.getTime() - this.opts.accessTokenTtlMs - SKEW_MS) } },
      select: { familyId: true },
      distinct: ["familyId"],
    });
    await db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });
    const ids = recent.map((r) => r.familyId);
    await this.record(db, userId, ids, reason);
    return ids.length;
  }

  /** Forgets revocations whose access tokens have all expired. */
  async prune(): Promise<number> {
    return this.opts.prisma.revokedSession.deleteMany({ where: { expiresAt: { lt: this.opts.clock.now() } } }).then((r) => r.count);
  }

  private async record(db: Db, userId: string, sessionIds: string[], reason: RevocationReason): Promise<void> {
    if (!sessionIds.length) return;
    const expiresAt = new Date(this.opts.clock.now().getTime() + this.opts.accessTokenTtlMs + SKEW_MS);
    await db.revokedSession.createMany({
      data: sessionIds.map((sessionId) => ({ sessionId, userId, reason, expiresAt })),
      skipDuplicates: true,
    });
    for (const id of sessionIds) this.revoked.set(id, expiresAt.getTime());
  }
}

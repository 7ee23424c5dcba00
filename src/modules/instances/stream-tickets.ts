/**
 * Stream tickets: how a browser's `EventSource` (which cannot send an Authorization header)
 * authenticates an instance's event stream or log follow. An authenticated call issues a ticket
 * bound to the caller and one instance; the stream URL carries it as `?ticket=`. A ticket is random
 * (256 bits), short-lived and single-use: only its SHA-256 is stored, and using it deletes the row,
 * so exactly one request on any replica can use it (the database decides).
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { RateLimitedError, UnauthorizedError } from "../../platform/domain-errors.js";
import type { AuthIdentity } from "../../platform/http/auth.js";

export interface StreamTicketView {
  ticket: string;
  instanceId: string;
  expiresAt: string;
}

const hash = (ticket: string) => createHash("sha256").update(ticket).digest("hex");

/** Unused, unexpired tickets one user may hold: enough for a busy dashboard, not a table to fill. */
export const MAX_OPEN_TICKETS_PER_USER = 20;

export class StreamTickets {
  constructor(private readonly o: { prisma: PrismaClient; clock: Clock; ttlMs: number }) {}

  /** A ticket for `instanceId`; the caller must already be allowed to read that instance. */
  async issue(caller: AuthIdentity, instanceId: string): Promise<StreamTicketView> {
    const ticket = randomBytes(32).toString("base64url");
    const now = this.o.clock.now();
    await this.o.prisma.streamTicket.deleteMany({ where: { userId: caller.userId, expiresAt: { lte: now } } });
    const open = await this.o.prisma.streamTicket.count({ where: { userId: caller.userId } });
    if (open >= MAX_OPEN_TICKETS_PER_USER) {
      throw new RateLimitedError(`Too many unused stream tickets: at most ${MAX_OPEN_TICKETS_PER_USER}; use or let one expire first`, {
        details: { limit: MAX_OPEN_TICKETS_PER_USER },
      });
    }
    const expiresAt = new Date(now.getTime() + this.o.ttlMs);
    await this.o.prisma.streamTicket.create({ data: { tokenHash: hash(ticket), userId: caller.userId, instanceId, expiresAt } });
    return { ticket, instanceId, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Uses a ticket for `instanceId`: deletes it (single use) and returns who it was issued to, with
   * the user's current role. Unknown, used, expired or another instance's ticket: 401.
   */
  async redeem(ticket: string, instanceId: string): Promise<AuthIdentity> {
    const tokenHash = hash(ticket);
    const row = await this.o.prisma.streamTicket.findUnique({
      where: { tokenHash },
      select: { userId: true, instanceId: true, expiresAt: true, user: { select: { role: true } } },
    });
    // Whoever deletes the row used the ticket: of two concurrent requests (on any replicas) one gets count 1.
    const used = row ? await this.o.prisma.streamTicket.deleteMany({ where: { tokenHash } }) : { count: 0 };
    if (!row || used.count !== 1) throw new UnauthorizedError("Invalid or already used stream ticket");
    if (row.expiresAt.getTime() <= this.o.clock.now().getTime()) throw new UnauthorizedError("Stream ticket expired");
    if (row.instanceId !== instanceId) throw new UnauthorizedError("Stream ticket is for another instance");
    return { userId: row.userId, role: row.user.role };
  }

  /** Removes expired tickets (housekeeping). */
  async pruneExpired(): Promise<number> {
    const r = await this.o.prisma.streamTicket.deleteMany({ where: { expiresAt: { lte: this.o.clock.now() } } });
    return r.count;
  }
}

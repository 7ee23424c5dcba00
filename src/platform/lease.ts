/**
 * Named leases (the `leases` table) for singleton loops across replicas: the renewal pass, the health
 * sweep. A lease is taken when free or expired, renewed by its holder, and released when done; a
 * holder that died simply lets it expire. A lease is an efficiency measure (one replica does the
 * pass): work done under it must still be safe to do twice (idempotency keys, row locks).
 */
import type { Clock } from "./clock.js";
import { type Db, Prisma, type SqlTarget, sqlRows } from "./db/index.js";

export class LeaseManager {
  constructor(private readonly opts: { prisma: Db; clock: Clock }) {}

  /** Takes (or renews, when already held by `holder`) the lease for ttlMs; true when held afterwards. */
  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.opts.clock.now();
    const expiresAt = new Date(now.getTime() + ttlMs);
    const rows = await this.opts.prisma.$queryRaw<Array<{ holder: string }>>`
      INSERT INTO "leases" ("name", "holder", "expires_at") VALUES (${name}, ${holder}, ${expiresAt})
      ON CONFLICT ("name") DO UPDATE SET "holder" = EXCLUDED."holder", "expires_at" = EXCLUDED."expires_at"
      WHERE "leases"."expires_at" <= ${now} OR "leases"."holder" = ${holder}
      RETURNING "holder"`;
    return rows.length === 1;
  }

  /** Gives the lease up (only if `holder` still has it). */
  async release(name: string, holder: string): Promise<void> {
    await this.opts.prisma.$executeRaw`DELETE FROM "leases" WHERE "name" = ${name} AND "holder" = ${holder}`;
  }

  /**
   * Inside a transaction: whether `holder` still holds the lease, locking its row until commit so it
   * cannot be taken over meanwhile (work written under a lease checks this last).
   */
  async stillHeld(tx: SqlTarget, name: string, holder: string): Promise<boolean> {
    const rows = await sqlRows<{ holder: string }>(
      tx,
      Prisma.sql`SELECT "holder" FROM "leases" WHERE "name" = ${name} AND "holder" = ${holder}
         AND "expires_at" > ${this.opts.clock.now()} FOR UPDATE`,
    );
    return rows.length === 1;
  }

  async holderOf(name: string): Promise<string | undefined> {
    const now = this.opts.clock.now();
    const rows = await this.opts.prisma.$queryRaw<Array<{ holder: string }>>`
      SELECT "holder" FROM "leases" WHERE "name" = ${name} AND "expires_at" > ${now}`;
    return rows[0]?.holder;
  }
}

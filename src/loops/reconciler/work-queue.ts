/**
 * The reconciler's work queue: which instances have due work, who holds them, and when to look again.
 *
 * Work on one instance is claimed with a lease (`lease_owner`, `lease_expires_at`) taken by one
 * `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, so several reconcilers (replicas) on one
 * database never work on the same instance at once; a crashed holder's lease simply expires. A claim
 * is given back after each pass over the instance, with the time it is due again. Signals kick the
 * queue at once; a periodic resync finds anything missed.
 */
import type { Instance } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import { Prisma, type SqlRead } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";
import { INSTANCE_ROW_COLUMNS } from "../../modules/instances/instance-rows.js";

export interface ReconcileOutcome {
  instanceId: string;
  status: Instance["status"];
  /** "done": converged; "waiting": rollout in progress; "retry": transient error; "failed"; "skipped": not ours. */
  result: "done" | "waiting" | "retry" | "failed" | "skipped";
}

/** One pass over a claimed instance, and when it is due again (absent: when its state says so). */
export interface WorkResult {
  outcome: ReconcileOutcome;
  next?: { attempts: number; nextAttemptAt: Date };
  /** The pass's last write gave the claim back already (with nothing due): no release needed. */
  released?: boolean;
}

export interface WorkQueueOptions {
  /** Every statement of the queue (claim, next due, release), past Prisma's engine. */
  read: SqlRead;
  clock: Clock;
  logger: Logger;
  /** Identifies this process in lease rows. */
  owner: string;
  /** How long a claim lasts before another reconciler may take the instance over. */
  leaseMs: number;
  /** Instances worked on at once by this process. */
  concurrency: number;
  /** Periodic resync: the longest a missed signal can delay work. */
  resyncIntervalMs: number;
  /** Delay before a failed pass of the queue itself is retried. */
  retryMs: number;
  /** Works on one claimed instance (the lifecycle), given its row as the claim returned it. */
  work: (id: string, row: Instance | undefined) => Promise<WorkResult>;
  /** Runs after each pass that took all the work it could (the tenant sync). */
  afterPass?: () => Promise<void>;
}

/** Work is due when the instance is mid-transition or a newer generation awaits (and it is not held). */
const DUE = Prisma.sql`
    "status" <> 'TERMINATED'
    AND ("status" <> 'FAILED' OR "desired_state" = 'TERMINATED')
    AND ("generation" > "observed_generation" OR "status" IN ('PENDING','PROVISIONING','UPDATING','RESTARTING','RESTORING','UPGRADING','TERMINATING')
         OR ("desired_state" = 'TERMINATED'))`;

export class InstanceWorkQueue {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private kicked = false;
  private readonly inFlight = new Map<string, Promise<ReconcileOutcome>>();
  /** Rows returned by the claim, handed to the work on them (which then need not read them again). */
  private readonly claimedRows = new Map<string, Instance>();

  constructor(private readonly o: WorkQueueOptions) {}

  get owner(): string {
    return this.o.owner;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops claiming new work and waits for in-flight work to finish (graceful shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  kick(): void {
    this.kicked = true;
    if (this.running) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pump(), Math.max(0, delayMs));
    this.timer.unref?.();
  }

  private async pump(): Promise<void> {
    if (!this.running || this.pumping) return;
    this.pumping = true;
    try {
      do {
        this.kicked = false;
        const free = this.o.concurrency - this.inFlight.size;
        if (free <= 0) break;
        const ids = await this.claim(free);
        for (const id of ids) {
          const p = this.process(id).finally(() => {
            this.inFlight.delete(id);
            if (this.running) this.schedule(0);
          });
          this.inFlight.set(id, p);
        }
        if (ids.length < free && !this.kicked) break;
      } while (this.running);
      await this.o.afterPass?.();
      // Every slot is busy: nothing more can be claimed before one frees, and each piece of work that
      // finishes schedules the next pass itself (after this one: from here to the end of the pass nothing
      // awaits, so none can finish in between). So no query for when work is next due (under a burst,
      // one more statement per instance); the resync timer stays as the fallback.
      const full = this.inFlight.size >= this.o.concurrency;
      const next = full ? undefined : await this.nextDueInMs();
      this.schedule(Math.min(next ?? this.o.resyncIntervalMs, this.o.resyncIntervalMs));
    } catch (err) {
      this.o.logger.error({ err }, "reconciler pass failed; retrying");
      this.schedule(this.o.retryMs);
    } finally {
      this.pumping = false;
    }
  }

  /** Runs passes until no instance has due work; waits for rollouts by sleeping until their recheck time. */
  async runUntilIdle(opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const ids = await this.claim(this.o.concurrency);
      if (ids.length) {
        await Promise.all(ids.map((id) => this.process(id)));
        continue;
      }
      const next = await this.nextDueInMs({ includeLeased: false });
      if (next === undefined) return;
      if (Date.now() + next > deadline) throw new Error("reconciler did not become idle in time");
      await new Promise((r) => setTimeout(r, Math.max(5, next)));
    }
  }

  /** Claims and works on one instance now. Undefined when it was not claimable. */
  async processNow(id: string): Promise<ReconcileOutcome | undefined> {
    const ids = await this.claim(1, [id]);
    if (!ids.length) return undefined;
    return this.process(id);
  }

  /** Works on a claimed instance, then gives the claim back with the time it is due again. */
  private async process(id: string): Promise<ReconcileOutcome> {
    const row = this.claimedRows.get(id);
    this.claimedRows.delete(id);
    const { outcome, next, released } = await this.o.work(id, row);
    if (outcome.result !== "skipped" && !released) {
      await this.release(id, next ?? {}).catch((err: unknown) =>
        this.o.logger.error({ err, instanceId: id }, "could not release claim; it will expire"),
      );
    }
    return outcome;
  }

  /** Claims up to `limit` due instances for this owner. */
  async claim(limit: number, onlyIds?: string[]): Promise<string[]> {
    const now = this.o.clock.now();
    const until = new Date(now.getTime() + this.o.leaseMs);
    const idFilter = onlyIds?.length ? Prisma.sql`AND "id" = ANY(${onlyIds}::text[])` : Prisma.empty;
    const rows = await this.o.read<Instance>(Prisma.sql`
      UPDATE "instances" SET "lease_owner" = ${this.o.owner}, "lease_expires_at" = ${until}
        WHERE "id" IN (
          SELECT "id" FROM "instances"
           WHERE ${DUE}
             AND "next_attempt_at" <= ${now}
             AND ("lease_expires_at" IS NULL OR "lease_expires_at" <= ${now})
             ${idFilter}
           ORDER BY "next_attempt_at"
           LIMIT ${limit}
           FOR UPDATE SKIP LOCKED)
        RETURNING ${INSTANCE_ROW_COLUMNS}`);
    const ids: string[] = [];
    for (const row of rows) {
      if (this.inFlight.has(row.id)) continue;
      this.claimedRows.set(row.id, row);
      ids.push(row.id);
    }
    return ids;
  }

  /**
   * Milliseconds until some instance's work is next due (undefined: none). With `includeLeased`,
   * instances another reconciler holds count from their lease expiry (a dead holder's work is taken
   * over then); without, they are left to their holder.
   */
  private async nextDueInMs(opts: { includeLeased: boolean } = { includeLeased: true }): Promise<number | undefined> {
    const now = this.o.clock.now();
    const rows = await this.o.read<{ at: Date | null }>(
      opts.includeLeased
        ? Prisma.sql`
          SELECT min(CASE WHEN "lease_expires_at" > ${now} THEN GREATEST("next_attempt_at", "lease_expires_at") ELSE "next_attempt_at" END) AS "at"
            FROM "instances" WHERE ${DUE}`
        : Prisma.sql`
          SELECT min("next_attempt_at") AS "at" FROM "instances"
           WHERE ${DUE} AND ("lease_expires_at" IS NULL OR "lease_expires_at" <= ${now})`,
    );
    const at = rows[0]?.at;
    if (!at) return undefined;
    return Math.max(0, new Date(at).getTime() - now.getTime());
  }

  /** Gives the claim back (only if this owner still holds it), with when to look at the instance next. */
  private async release(id: string, data: { attempts?: number; nextAttemptAt?: Date }): Promise<void> {
    const attempts = data.attempts === undefined ? Prisma.empty : Prisma.sql`, "attempts" = ${data.attempts}`;
    const next = data.nextAttemptAt === undefined ? Prisma.empty : Prisma.sql`, "next_attempt_at" = ${data.nextAttemptAt}`;
    await this.o.read(Prisma.sql`
      UPDATE "instances" SET "lease_owner" = NULL, "lease_expires_at" = NULL, "updated_at" = ${new Date()} ${attempts} ${next}
       WHERE "id" = ${id} AND "lease_owner" = ${this.o.owner}`);
  }
}

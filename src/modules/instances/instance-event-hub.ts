/**
 * The one source of new instance events in this process. However many event streams are open, one
 * poller reads the database every `pollMs` — the statuses of all watched instances in one query, then
 * their new events in another — and fans them out to the streams in memory. It idles (no queries) while no
 * stream is open. Polling the database (not an in-process bus) is what lets every replica's writes
 * reach every stream, on PostgreSQL and on embedded PGlite alike.
 *
 * Event timestamps are taken when their row is written, so a row from a slower transaction can
 * become visible after a newer one: each poll re-reads a short window (`lookbackMs`) before the
 * newest timestamp seen and skips ids it already delivered.
 */
import type { InstanceStatus } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";
import { type InstanceEventView, toEventView } from "./instances.service.js";

export interface InstanceStatusView {
  status: InstanceStatus;
  statusMessage: string | null;
}

export interface InstanceEventListener {
  instanceId: string;
  /** New events of the instance, oldest first (each delivered once per listener). */
  onEvents(events: InstanceEventView[]): void;
  /** The instance's status as of this poll (every poll: the listener keeps what it last sent). */
  onStatus(status: InstanceStatusView): void;
}

export interface InstanceEventHubOptions {
  prisma: PrismaClient;
  logger: Logger;
  pollMs: number;
  lookbackMs?: number;
  /** Rows read per query while catching up. */
  pageSize?: number;
}

export class InstanceEventHub {
  private readonly listeners = new Map<string, Set<InstanceEventListener>>();
  /** Newest event timestamp seen; undefined while idle. */
  private newest: Date | undefined;
  private starting: Promise<void> | undefined;
  /** Ids delivered within the lookback window, with their timestamps (ms). */
  private readonly delivered = new Map<string, number>();
  private running = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly tickWaiters = new Set<() => void>();
  /** Completed polls since start (tests count queries per poll). */
  ticks = 0;

  constructor(private readonly o: InstanceEventHubOptions) {}

  /** Watched instances (tests, diagnostics). */
  get watching(): number {
    return this.listeners.size;
  }

  /** Whether the poller is running (it finishes the poll in progress after the last listener leaves). */
  get polling(): boolean {
    return this.running;
  }

  /**
   * Registers a listener. Resolves once the poller covers every event written from now on, so a
   * stream that reads its backlog after this resolves misses nothing. Returns the unsubscribe.
   */
  async subscribe(l: InstanceEventListener): Promise<() => void> {
    let set = this.listeners.get(l.instanceId);
    if (!set) {
      set = new Set();
      this.listeners.set(l.instanceId, set);
    }
    set.add(l);
    const unsubscribe = () => {
      const s = this.listeners.get(l.instanceId);
      if (!s) return;
      s.delete(l);
      if (s.size === 0) this.listeners.delete(l.instanceId);
    };
    try {
      if (!this.newest) {
        this.starting ??= this.start().finally(() => {
          this.starting = undefined;
        });
        await this.starting;
      }
    } catch (err) {
      unsubscribe();
      throw err;
    }
    if (!this.running && !this.closed) void this.loop();
    return unsubscribe;
  }

  /** Resolves after `n` more polls have completed (tests). */
  async waitForTicks(n: number): Promise<void> {
    const target = this.ticks + n;
    while (this.ticks < target) {
      await new Promise<void>((resolve) => {
        this.tickWaiters.add(resolve);
      });
    }
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async start(): Promise<void> {
    const newest = await this.o.prisma.instanceEvent.findFirst({
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { createdAt: true },
    });
    this.newest = newest?.createdAt ?? new Date(0);
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.listeners.size > 0 && !this.closed) {
        try {
          await this.poll();
        } catch (err) {
          // The next poll retries; streams stay open across a database blip.
          this.o.logger.warn({ err: (err as Error).message }, "instance event poll failed");
        }
        this.ticks++;
        for (const w of this.tickWaiters) w();
        this.tickWaiters.clear();
        if (this.listeners.size === 0 || this.closed) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.o.pollMs);
          function done() {
            clearTimeout(timer);
            resolve();
          }
          this.wake = done;
        });
        this.wake = undefined;
      }
    } finally {
      this.running = false;
      // Idle: forget the window, so the next subscriber starts from the newest event then.
      if (this.listeners.size === 0) {
        this.newest = undefined;
        this.delivered.clear();
      } else if (!this.closed) {
        void this.loop();
      }
    }
  }

  private async poll(): Promise<void> {
    const ids = [...this.listeners.keys()];
    if (ids.length === 0 || !this.newest) return;
    const lookbackMs = this.o.lookbackMs ?? 5_000;
    const pageSize = this.o.pageSize ?? 500;
    const from = new Date(this.newest.getTime() - lookbackMs);
    // Statuses first, events second: a status and the event of its transition are written in one
    // transaction, so every event of a status read here is visible to the event query after it. (The
    // other order could see TERMINATED without its event and end a stream before its last event.)
    const statuses = await this.o.prisma.instance.findMany({
      where: { id: { in: ids } },
      select: { id: true, status: true, statusMessage: true },
    });
    const byInstance = new Map<string, InstanceEventView[]>();
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const rows = await this.o.prisma.instanceEvent.findMany({
        where: {
          instanceId: { in: ids },
          createdAt: { gt: from },
          ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
        },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        take: pageSize,
      });
      for (const r of rows) {
        if (this.delivered.has(r.id)) continue;
        this.delivered.set(r.id, r.createdAt.getTime());
        const list = byInstance.get(r.instanceId) ?? [];
        list.push(toEventView(r));
        byInstance.set(r.instanceId, list);
        if (r.createdAt > this.newest) this.newest = r.createdAt;
      }
      const last = rows.at(-1);
      if (rows.length < pageSize || !last) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    // Forget ids that left the window.
    const horizon = this.newest.getTime() - lookbackMs;
    for (const [id, at] of this.delivered) if (at < horizon) this.delivered.delete(id);

    for (const [instanceId, events] of byInstance) {
      for (const l of this.listeners.get(instanceId) ?? []) l.onEvents(events);
    }
    for (const s of statuses) {
      for (const l of this.listeners.get(s.id) ?? []) l.onStatus({ status: s.status, statusMessage: s.statusMessage });
    }
  }
}

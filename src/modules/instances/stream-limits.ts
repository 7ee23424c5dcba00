/**
 * Per-user caps on concurrent long-lived responses (event streams, log follows) in this process.
 * Each open stream holds a slot until its response closes; beyond the cap the request is a 429.
 * The count is per replica: with N replicas a user can hold at most N x the cap, each replica
 * protecting its own sockets, memory and cluster log connections.
 */
import { RateLimitedError } from "../../platform/domain-errors.js";

export type StreamKind = "events" | "logs";

const LABEL: Record<StreamKind, string> = { events: "event streams", logs: "log follows" };

export class StreamLimits {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: Record<StreamKind, number>) {}

  /** Takes a slot for `userId`, or throws a 429. The returned function frees it (idempotent). */
  acquire(userId: string, kind: StreamKind): () => void {
    const key = `${kind}:${userId}`;
    const n = this.open.get(key) ?? 0;
    const limit = this.max[kind];
    if (n >= limit) {
      throw new RateLimitedError(`Too many open ${LABEL[kind]}: at most ${limit} at once; close one first`, {
        details: { kind, limit },
      });
    }
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }

  /** Open streams of one kind for a user (tests, diagnostics). */
  count(userId: string, kind: StreamKind): number {
    return this.open.get(`${kind}:${userId}`) ?? 0;
  }
}

/**
 * One timer for many keyed deadlines (pod readiness, crash-loop restarts, progress deadlines),
 * so that thousands of simulated pods do not each hold a Node timer.
 * TEST/DEMO FIXTURE — see index.ts.
 */
export class Scheduler {
  private readonly tasks = new Map<string, { at: number; fn: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(private readonly clock: () => number) {}

  /** Runs `fn` at time `at` (replacing any task with the same key). */
  schedule(key: string, at: number, fn: () => void): void {
    if (this.stopped) return;
    this.tasks.set(key, { at, fn });
    if (at < this.timerAt) this.arm(at);
  }

  cancel(key: string): void {
    this.tasks.delete(key);
  }

  has(key: string): boolean {
    return this.tasks.has(key);
  }

  /** Runs every task due at `now` (or all tasks when `all`), repeatedly until none are due. */
  runDue(all = false): number {
    let ran = 0;
    for (let round = 0; round < 1000; round++) {
      const now = this.clock();
      const due = [...this.tasks].filter(([, t]) => all || t.at <= now);
      if (due.length === 0) break;
      for (const [key, t] of due) {
        if (this.tasks.get(key) !== t) continue;
        this.tasks.delete(key);
        t.fn();
        ran++;
      }
      if (all) break;
    }
    this.rearm();
    return ran;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.tasks.clear();
  }

  private rearm(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.tasks.values()) if (t.at < next) next = t.at;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.runDue();
      },
      Math.max(0, at - this.clock()),
    );
    this.timer.unref();
  }
}

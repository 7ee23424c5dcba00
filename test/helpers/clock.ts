/** Real time (the loops under test wait on it), shifted: tests move "now" forward to reach a period's end, a retention's end or a backup slot. */
import type { Clock } from "../../src/platform/clock.js";

export class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** Moves the clock so that it reads `at` now (real time keeps running from there). */
  jumpTo(at: Date): void {
    this.offsetMs = at.getTime() - Date.now();
  }
}

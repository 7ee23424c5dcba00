/**
 * Ids that sort in the order this process made them: UUIDv7 (RFC 9562) with the 12 bits after the
 * version used as a counter within the millisecond (the RFC's "method 1"), and the rest random.
 *
 * Rows ordered by a time column with the id as the tie-breaker (instance events and ledger entries:
 * `created_at, id`) keep the order they were written in even when two land in the same millisecond,
 * which random ids did not: an upgrade's UPGRADE_SNAPSHOT_READY and UPGRADE_STARTED, written one after
 * the other, came back in either order. Across processes ids of the same millisecond still sort by
 * chance; those rows were written concurrently anyway.
 *
 * Lowercase hex with the dashes at fixed places, so text comparison (PostgreSQL's, any collation that
 * orders digits before letters) is numeric order.
 */
import { randomUUID } from "node:crypto";

let lastMs = 0;
let counter = 0;

/** A new id, greater than every id this process made before (as text). */
export function orderedId(nowMs: number = Date.now()): string {
  let ms = nowMs;
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else {
    // The same millisecond, or the clock went back: count on from the last id.
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs = ms = lastMs + 1;
      counter = 0;
    }
  }
  const time = ms.toString(16).padStart(12, "0");
  // randomUUID's last 17 characters: the variant nibble (8-b) and 60 random bits, then the node part.
  const random = randomUUID().slice(19);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${counter.toString(16).padStart(3, "0")}-${random}`;
}

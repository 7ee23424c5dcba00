/**
 * Billing arithmetic, pure and documented (README "Billing rules").
 */

export const DAY_MS = 86_400_000;

/**
 * One calendar month later, in UTC: the same day of the month and time of day, or the last day of the
 * next month when it has no such day (Jan 31 -> Feb 28/29, Mar 31 -> Apr 30). Each period is computed
 * from the previous period's end, so a period that started on the 31st later renews on the 28th-30th.
 */
export function addCalendarMonth(from: Date): Date {
  const y = from.getUTCFullYear();
  const m = from.getUTCMonth();
  const d = from.getUTCDate();
  const lastDayOfNext = new Date(Date.UTC(y, m + 2, 0)).getUTCDate();
  const out = new Date(from.getTime());
  out.setUTCDate(1);
  out.setUTCMonth(m + 1);
  out.setUTCDate(Math.min(d, lastDayOfNext));
  return out;
}

/**
 * Refund on cancellation: unused WHOLE days of the current period, pro rata, rounded down:
 *   floor(price * remainingWholeDays / daysInPeriod)
 * remainingWholeDays = floor((periodEnd - now) / 1 day); daysInPeriod = the period's length in days
 * (28-31). Cancelling within the first day of a 30-day period at price 3000 refunds 2900.
 */
export function unusedDaysRefund(
  price: number,
  now: Date,
  periodStart: Date,
  periodEnd: Date,
): { amount: number; remainingWholeDays: number; daysInPeriod: number } {
  const daysInPeriod = Math.max(1, Math.round((periodEnd.getTime() - periodStart.getTime()) / DAY_MS));
  const remainingWholeDays = Math.min(daysInPeriod, Math.max(0, Math.floor((periodEnd.getTime() - now.getTime()) / DAY_MS)));
  const amount = Math.floor((price * remainingWholeDays) / daysInPeriod);
  return { amount, remainingWholeDays, daysInPeriod };
}

/**
 * Plan change price: the monthly price difference, pro rata over the WHOLE days left in the current
 * period (the same day count as a cancellation refund), rounded toward zero — in the user's favour
 * both ways: an upgrade with 15 of 30 days left costs floor(diff * 15 / 30); a downgrade credits
 * floor(|diff| * 15 / 30). Positive: the user pays; negative: the user is credited.
 */
export function planChangeAmount(oldPrice: number, newPrice: number, now: Date, periodStart: Date, periodEnd: Date): number {
  const diff = newPrice - oldPrice;
  const { amount } = unusedDaysRefund(Math.abs(diff), now, periodStart, periodEnd);
  return diff >= 0 ? amount : -amount;
}

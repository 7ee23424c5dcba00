/**
 * The ledger's idempotency keys, built in one place: one entry per key, ever, so each names exactly
 * one movement of credits.
 */
export const ledgerKeys = {
  /** Admin top-ups and adjustments, keyed by the request's Idempotency-Key header. */
  adminGrant: (adminId: string, requestKey: string) => `admin-grant:${adminId}:${requestKey}`,
  /** The first period of a subscription. */
  firstPeriod: (subscriptionId: string) => `subscription:first-period:${subscriptionId}`,
  /** A renewal; `periodStart` is the start of the period paid for. */
  renewal: (subscriptionId: string, periodStart: Date) => `renewal:${subscriptionId}:${periodStart.toISOString()}`,
  /** The pro-rata refund when a subscription is cancelled. */
  cancelRefund: (subscriptionId: string) => `refund:cancel:${subscriptionId}`,
  /** The full refund of an instance that never ran (provisioning failed). */
  firstPeriodRefund: (instanceId: string) => `refund:first-period:${instanceId}`,
  /** The price difference of a plan change, once per generation of the instance. */
  planChange: (instanceId: string, generation: number) => `plan-change:${instanceId}:${generation}`,
  /** The credits of a paid checkout (PURCHASE). */
  purchase: (checkoutSessionId: string) => `purchase:${checkoutSessionId}`,
  /** The part of a purchase that pays the user's debt. */
  debtRepayment: (checkoutSessionId: string) => `debt-repayment:${checkoutSessionId}`,
  /** Credits taken back by a payment refund; `refunded` is the charge's cumulative amount refunded. */
  purchaseRefund: (checkoutSessionId: string, refunded: number) => `purchase-refund:${checkoutSessionId}:${refunded}`,
} as const;

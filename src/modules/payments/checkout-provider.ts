/**
 * The narrow edge between payments and whoever takes the money: Stripe Checkout in production, the
 * development provider (a local page, no money moves) in local mode. Payments never imports a
 * provider's library; the composition root picks one.
 */

export interface CheckoutSessionInput {
  /** Our purchase row, recorded PENDING before the session is created. */
  purchaseId: string;
  userId: string;
  packageId: string;
  packageName: string;
  credits: number;
  /** Smallest currency unit. */
  amount: number;
  currency: string;
  /** Sent with the create call, so a retried call cannot make a second session. */
  idempotencyKey: string;
  /** Where the user returns to (APP_URL based). `{CHECKOUT_SESSION_ID}` is filled in by Stripe. */
  successUrl: string;
  cancelUrl: string;
  /** This API's own origin as the client reached it (the development provider's page lives here). */
  apiOrigin: string;
}

export interface CheckoutSession {
  id: string;
  url: string;
}

export interface CheckoutProvider {
  readonly name: "stripe" | "development";
  createCheckoutSession(input: CheckoutSessionInput): Promise<CheckoutSession>;
  /** The receipt of a paid purchase, when the provider has one (best effort: null when unknown). */
  receiptUrl(purchase: { paymentIntentId: string | null; checkoutUrl: string | null }): Promise<string | null>;
}

/** Verifies a webhook delivery and returns the event it carries. */
export interface WebhookVerifier {
  /**
   * Throws WebhookSignatureError for a missing, wrong or stale signature; returns the parsed event
   * (possibly malformed: the caller validates its shape) otherwise.
   */
  verify(rawBody: Buffer, signatureHeader: string): unknown;
}

export class WebhookSignatureError extends Error {}

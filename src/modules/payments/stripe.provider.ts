/**
 * The Stripe adapter: Checkout Sessions through the official `stripe` library, and webhook
 * verification with its `webhooks.constructEvent` (default tolerance, 5 minutes).
 * `STRIPE_API_URL` points the library elsewhere (host/port/protocol options): tests and staging use a
 * stand-in. Stripe's errors are reduced to their type/code/status before they leave this file, so
 * nothing the library carries reaches a log.
 */
import Stripe from "stripe";
import type { PaymentsConfig } from "../../config/index.js";
import {
  type CheckoutProvider,
  type CheckoutSession,
  type CheckoutSessionInput,
  type WebhookVerifier,
  WebhookSignatureError,
} from "./checkout-provider.js";

/** A failed call to Stripe, described without anything secret. */
export class StripeCallError extends Error {
  constructor(
    message: string,
    readonly info: { type?: string; code?: string; statusCode?: number; requestId?: string },
  ) {
    super(message);
    this.name = "StripeCallError";
  }
}

function describe(err: unknown, what: string): StripeCallError {
  if (err instanceof Stripe.errors.StripeError) {
    return new StripeCallError(`${what} failed (${err.type}${err.statusCode ? ` ${err.statusCode}` : ""})`, {
      type: err.type,
      code: err.code,
      statusCode: err.statusCode,
      requestId: err.requestId,
    });
  }
  return new StripeCallError(`${what} failed`, {});
}

export function createStripeClient(config: Pick<PaymentsConfig, "stripeSecretKey" | "stripeApi">): Stripe {
  if (!config.stripeSecretKey) throw new Error("STRIPE_SECRET_KEY is not set");
  return new Stripe(config.stripeSecretKey, {
    ...(config.stripeApi ?? {}),
    maxNetworkRetries: 2,
    timeout: 20_000,
    telemetry: false,
  });
}

export class StripeCheckoutProvider implements CheckoutProvider {
  readonly name = "stripe" as const;

  constructor(private readonly stripe: Stripe) {}

  async createCheckoutSession(input: CheckoutSessionInput): Promise<CheckoutSession> {
    let session: Stripe.Checkout.Session;
    try {
      session = await this.stripe.checkout.sessions.create(
        {
          mode: "payment",
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: input.currency,
                unit_amount: input.amount,
                product_data: { name: input.packageName, description: `${input.credits} MinisPod credits` },
              },
            },
          ],
          client_reference_id: input.userId,
          metadata: { credits: String(input.credits), packageId: input.packageId, purchaseId: input.purchaseId },
          success_url: input.successUrl,
          cancel_url: input.cancelUrl,
        },
        { idempotencyKey: input.idempotencyKey },
      );
    } catch (err) {
      throw describe(err, "Creating a Stripe Checkout Session");
    }
    if (!session.url) throw new StripeCallError("Stripe returned a Checkout Session without a url", {});
    return { id: session.id, url: session.url };
  }

  /** The receipt page of the payment's charge (`latest_charge.receipt_url`). */
  async receiptUrl(purchase: { paymentIntentId: string | null }): Promise<string | null> {
    if (!purchase.paymentIntentId) return null;
    try {
      // Read while Stripe waits for the webhook's answer: short, one retry at most.
      const pi = await this.stripe.paymentIntents.retrieve(
        purchase.paymentIntentId,
        { expand: ["latest_charge"] },
        { timeout: 5_000, maxNetworkRetries: 1 },
      );
      const charge = pi.latest_charge;
      return charge && typeof charge === "object" ? (charge.receipt_url ?? null) : null;
    } catch (err) {
      throw describe(err, "Reading the payment's receipt from Stripe");
    }
  }
}

export class StripeWebhookVerifier implements WebhookVerifier {
  constructor(
    private readonly stripe: Stripe,
    private readonly secret: string,
  ) {}

  verify(rawBody: Buffer, signatureHeader: string): unknown {
    // constructEvent checks the signature (and its age) before it parses the body: a Stripe error is a
    // bad signature; anything else is a signed body that is not JSON — a malformed event, which the
    // caller acknowledges and logs rather than have Stripe retry it.
    try {
      return this.stripe.webhooks.constructEvent(rawBody, signatureHeader, this.secret);
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError) throw new WebhookSignatureError(err.message);
      return undefined;
    }
  }
}

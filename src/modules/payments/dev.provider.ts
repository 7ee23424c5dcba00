/**
 * The DEVELOPMENT payment provider (local mode only: no STRIPE_SECRET_KEY and not production).
 * A checkout is a page served by this API; confirming it settles the purchase at once through
 * PaymentsService.handleEvent — the webhook's own crediting path. No money moves. Production never
 * uses it (config: provider `none` there without Stripe keys).
 */
import { randomBytes } from "node:crypto";
import type { Purchase } from "../../generated/prisma/client.js";
import type { CheckoutProvider, CheckoutSession, CheckoutSessionInput } from "./checkout-provider.js";
import { formatMoney } from "./payments.views.js";

/** Where the page lives (mounted by app.ts only when this provider is in use). */
export const DEV_CHECKOUT_PATH = "/api/payments/dev/checkout";

export class DevelopmentCheckoutProvider implements CheckoutProvider {
  readonly name = "development" as const;

  async createCheckoutSession(input: CheckoutSessionInput): Promise<CheckoutSession> {
    const id = `cs_dev_${randomBytes(24).toString("base64url")}`;
    return { id, url: `${input.apiOrigin}${DEV_CHECKOUT_PATH}/${id}` };
  }

  /** The local page doubles as the receipt once paid. */
  async receiptUrl(purchase: { checkoutUrl: string | null }): Promise<string | null> {
    return purchase.checkoutUrl;
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** The page: a plain HTML form (no scripts, so helmet's CSP stays as it is). */
export function renderDevCheckoutPage(v: { purchase: Purchase; packageName: string; successUrl: string; cancelUrl: string }): string {
  const p = v.purchase;
  const price = formatMoney(p.amount, p.currency);
  const sessionId = p.checkoutSessionId ?? "";
  const action = (what: string) => `${DEV_CHECKOUT_PATH}/${encodeURIComponent(sessionId)}/${what}`;
  let body: string;
  if (p.status === "PENDING") {
    body = `<p>Pay <strong>${escapeHtml(price)}</strong> for <strong>${p.credits} credits</strong> (${escapeHtml(v.packageName)}).</p>
<form method="post" action="${escapeHtml(action("complete"))}"><button type="submit" id="pay">Pay ${escapeHtml(price)} (simulated)</button></form>
<form method="post" action="${escapeHtml(action("cancel"))}"><button type="submit" id="cancel">Cancel this checkout</button></form>`;
  } else if (p.status === "PAID" || p.status === "REFUNDED") {
    body = `<h2 id="status">Paid${p.status === "REFUNDED" ? " (refunded)" : ""}</h2>
<p>Receipt: ${p.credits} credits (${escapeHtml(v.packageName)}), ${escapeHtml(price)}, paid ${escapeHtml(p.paidAt?.toISOString() ?? "")}.</p>
<p><a href="${escapeHtml(v.successUrl)}">Return to the app</a></p>`;
  } else {
    body = `<h2 id="status">Not paid</h2><p>This checkout ended without payment (${escapeHtml(p.failureReason ?? "failed")}).</p>
<p><a href="${escapeHtml(v.cancelUrl)}">Return to the app</a></p>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MinisPod development checkout</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
.banner{background:#fff3cd;border:2px solid #b58900;padding:.75rem;font-weight:bold}button{font-size:1rem;margin:.25rem 0;padding:.5rem 1rem}</style>
</head><body>
<p class="banner">DEVELOPMENT PAYMENT PROVIDER: no money moves. Local mode only (no STRIPE_SECRET_KEY); production uses Stripe Checkout.</p>
<h1>MinisPod checkout</h1>
<p>Purchase <code>${escapeHtml(p.id)}</code>, session <code>${escapeHtml(sessionId)}</code></p>
${body}
</body></html>
`;
}

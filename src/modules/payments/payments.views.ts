import type { CreditPackage, Purchase } from "../../generated/prisma/client.js";
import type { CreditPackageView, PurchaseView } from "./payments.schema.js";

export function toCreditPackageView(p: CreditPackage): CreditPackageView {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    credits: p.credits,
    amount: p.amount,
    currency: p.currency,
    isActive: p.isActive,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export function toPurchaseView(p: Purchase): PurchaseView {
  return {
    id: p.id,
    packageId: p.packageId,
    provider: p.provider === "stripe" ? "stripe" : "development",
    status: p.status,
    credits: p.credits,
    amount: p.amount,
    currency: p.currency,
    checkoutSessionId: p.checkoutSessionId,
    receiptUrl: p.receiptUrl,
    failureReason: p.failureReason,
    refundedAmount: p.refundedAmount,
    creditsReversed: p.creditsReversed,
    creditsOwed: p.creditsOwed,
    paidAt: p.paidAt ? p.paidAt.toISOString() : null,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** `1800, "usd"` -> `$18.00`; zero-decimal currencies (JPY) come out right too. */
export function formatMoney(amount: number, currency: string): string {
  try {
    const f = new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(amount / 10 ** digits);
  } catch {
    return `${amount} ${currency.toUpperCase()} (smallest unit)`;
  }
}

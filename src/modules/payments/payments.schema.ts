/**
 * Payments: request schemas (one per endpoint, with its inferred type) and the response schemas
 * that describe the bodies in /openapi.json.
 */
import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";

const slug = z
  .string()
  .min(2)
  .max(40)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "must be lowercase letters, digits and dashes");

export const PackageIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

/** Admin: a new package for sale. Price in the currency's smallest unit (cents), as Stripe's `unit_amount`. */
export const CreditPackageCreateSchema = z.strictObject({
  slug,
  name: z.string().trim().min(1).max(100),
  credits: z.number().int().min(1).max(10_000_000),
  amount: z.number().int().min(1).max(99_999_999).describe("Price in the currency's smallest unit (e.g. cents)"),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, "must be a three-letter ISO 4217 code")
    .transform((v) => v.toLowerCase()),
  isActive: z.boolean().default(true),
});
export type CreditPackageCreateReq = z.infer<typeof CreditPackageCreateSchema>;

/** Admin: rename, deactivate or reactivate. Credits and price never change once sold: create a new package. */
export const CreditPackageUpdateSchema = z
  .strictObject({ name: z.string().trim().min(1).max(100), isActive: z.boolean() })
  .partial()
  .refine((v) => Object.keys(v).length > 0, "at least one field is required");
export type CreditPackageUpdateReq = z.infer<typeof CreditPackageUpdateSchema>;

export const CheckoutCreateSchema = z.strictObject({ packageId: z.string().min(1).max(64) });
export type CheckoutCreateReq = z.infer<typeof CheckoutCreateSchema>;

export const PurchasesQuerySchema = PageQuerySchema.strict();
export type PurchasesQuery = z.infer<typeof PurchasesQuerySchema>;

/** The development provider's page: the checkout session id in the path. */
export const DevSessionParamsSchema = z.strictObject({ sessionId: z.string().regex(/^cs_dev_[A-Za-z0-9_-]{16,64}$/) });

// ---- Response bodies -------------------------------------------------------------------------------

const iso = z.string().describe("ISO-8601 UTC");

export const CreditPackageViewSchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  credits: z.number().int(),
  amount: z.number().int().describe("Price in the currency's smallest unit (e.g. cents)"),
  currency: z.string(),
  isActive: z.boolean(),
  createdAt: iso,
  updatedAt: iso,
});
export type CreditPackageView = z.infer<typeof CreditPackageViewSchema>;

export const PURCHASE_STATUSES = ["PENDING", "PAID", "FAILED", "REFUNDED"] as const;

export const PurchaseViewSchema = z.object({
  id: z.string(),
  packageId: z.string(),
  provider: z.enum(["stripe", "development"]),
  status: z.enum(PURCHASE_STATUSES),
  credits: z.number().int(),
  amount: z.number().int().describe("Price paid, in the currency's smallest unit"),
  currency: z.string(),
  checkoutSessionId: z.string().nullable(),
  receiptUrl: z.string().nullable().describe("The payment's receipt (Stripe's receipt page; the local page in development)"),
  failureReason: z.string().nullable(),
  refundedAmount: z.number().int(),
  creditsReversed: z.number().int().describe("Credits refunds took back from the balance"),
  creditsOwed: z.number().int().describe("Credits refunds could not take back (already spent): owed, paid by the next purchase"),
  paidAt: iso.nullable(),
  createdAt: iso,
  updatedAt: iso,
});
export type PurchaseView = z.infer<typeof PurchaseViewSchema>;

const pageSchema = z.object({
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
});

export const CreditPackageListResponseSchema = z.object({ data: z.array(CreditPackageViewSchema), page: pageSchema });
export const CreditPackageResponseSchema = z.object({ package: CreditPackageViewSchema });
export const CheckoutResponseSchema = z.object({
  checkout: z.object({ id: z.string(), url: z.string().describe("Send the user here to pay") }),
  purchase: PurchaseViewSchema,
});
export const PurchaseListResponseSchema = z.object({ data: z.array(PurchaseViewSchema), page: pageSchema });

export const WEBHOOK_OUTCOMES = [
  "credited",
  "already_credited",
  "awaiting_payment",
  "marked_failed",
  "refunded",
  "already_refunded",
  "ignored",
  "unhandled",
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];
export const WebhookResponseSchema = z.object({ received: z.literal(true), outcome: z.enum(WEBHOOK_OUTCOMES) });

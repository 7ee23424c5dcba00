import express, { type RequestHandler, Router } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import { z } from "zod";
import { errorBody } from "../../platform/http/error-handler.js";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import type { WebhookVerifier } from "./checkout-provider.js";
import type { CreditPackagesService } from "./packages.service.js";
import { PaymentsController } from "./payments.controller.js";
import {
  CheckoutCreateSchema,
  CheckoutResponseSchema,
  CreditPackageCreateSchema,
  CreditPackageListResponseSchema,
  CreditPackageResponseSchema,
  CreditPackageUpdateSchema,
  DevSessionParamsSchema,
  PackageIdParamsSchema,
  PurchaseListResponseSchema,
  PurchasesQuerySchema,
  WebhookResponseSchema,
} from "./payments.schema.js";
import type { PaymentsService } from "./payments.service.js";

interface Deps {
  payments: PaymentsService;
  packages: CreditPackagesService;
}

function limiter(
  perMinute: number,
  keyOf: (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => string,
  what: string,
): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    keyGenerator: keyOf,
    handler: (req, res) => {
      res.status(429).json(errorBody(String(req.id ?? ""), "RATE_LIMITED", `Too many ${what}; try again later`));
    },
  });
}

/** The caller's side: mounted at /api/credits behind authenticate (beside the credits router). */
export function paymentsRoutes(deps: Deps & { checkoutRateLimitPerMinute: number }): Router {
  const c = new PaymentsController(deps);
  const r = Router();
  const perUser = limiter(deps.checkoutRateLimitPerMinute, (_req, res) => `user:${String(res.locals.auth?.userId)}`, "checkouts");
  r.get(
    "/packages",
    doc({
      summary: "Credit packages for sale",
      tags: ["payments"],
      response: { description: "{data: [package], page}", schema: CreditPackageListResponseSchema },
    }),
    c.packages,
  );
  r.post(
    "/checkout",
    doc({
      summary: "Start buying a credit package: records a PENDING purchase and returns the checkout to send the user to",
      description:
        "Credits are added only when the payment provider reports the payment (Stripe webhook; in local mode the development page). " +
        "409 PACKAGE_UNAVAILABLE for a deactivated package; 503 PAYMENTS_NOT_CONFIGURED without a provider, " +
        "PAYMENT_PROVIDER_UNAVAILABLE when the provider cannot be reached.",
      tags: ["payments"],
      status: 201,
      response: { description: "{checkout: {id, url}, purchase}", schema: CheckoutResponseSchema },
      errors: [404, 409, 429, 503],
    }),
    perUser,
    validate({ body: CheckoutCreateSchema }),
    c.checkout,
  );
  r.get(
    "/purchases",
    doc({
      summary: "The caller's purchases, newest first: status, amount, receipt link",
      tags: ["payments"],
      response: { description: "{data: [purchase], page}", schema: PurchaseListResponseSchema },
    }),
    validate({ query: PurchasesQuerySchema }),
    c.purchases,
  );
  return r;
}

/** Admin: mounted inside the /api/admin router. */
export function adminPaymentsRoutes(deps: Deps): Router {
  const c = new PaymentsController(deps);
  const r = Router();
  r.get(
    "/credit-packages",
    doc({
      summary: "All credit packages, inactive included",
      tags: ["admin: payments"],
      response: { description: "{data: [package], page}", schema: CreditPackageListResponseSchema },
    }),
    c.adminPackages,
  );
  r.post(
    "/credit-packages",
    doc({
      summary: "Put a new credit package on sale",
      tags: ["admin: payments"],
      status: 201,
      response: { description: "{package}", schema: CreditPackageResponseSchema },
      errors: [409],
    }),
    validate({ body: CreditPackageCreateSchema }),
    c.createPackage,
  );
  r.patch(
    "/credit-packages/:id",
    doc({
      summary: "Rename, deactivate (isActive: false) or reactivate a credit package",
      tags: ["admin: payments"],
      response: { description: "{package}", schema: CreditPackageResponseSchema },
    }),
    validate({ params: PackageIdParamsSchema, body: CreditPackageUpdateSchema }),
    c.updatePackage,
  );
  return r;
}

/**
 * Stripe's webhook: mounted at /api/webhooks BEFORE the JSON body parser, because the signature is
 * over the raw bytes. Unauthenticated (the signature is the authentication); rate limited per IP.
 */
export function webhookRoutes(deps: Deps & { verifier?: WebhookVerifier; rateLimitPerMinute: number }): Router {
  const c = new PaymentsController(deps);
  const r = Router();
  const perIp = limiter(deps.rateLimitPerMinute, (req) => `ip:${ipKeyGenerator(req.ip ?? "unknown")}`, "webhook deliveries");
  r.post(
    "/stripe",
    doc({
      summary: "Stripe webhook (Stripe-Signature verified over the raw body)",
      description:
        "Handles checkout.session.completed, checkout.session.async_payment_succeeded, checkout.session.async_payment_failed, " +
        "checkout.session.expired and charge.refunded; other types are acknowledged. 400 for a missing or bad signature " +
        "(nothing changes); events that cannot be acted on (unknown user, malformed) are acknowledged with outcome `ignored`. " +
        "503 PAYMENTS_NOT_CONFIGURED when Stripe is not configured.",
      tags: ["payments"],
      response: { description: "{received: true, outcome}", schema: WebhookResponseSchema },
      headers: [{ name: "Stripe-Signature", required: true, description: "Stripe's signature of the raw body" }],
      errors: [429, 503],
    }),
    perIp,
    express.raw({ type: () => true, limit: "1mb" }),
    c.webhook,
  );
  return r;
}

const HtmlSchema = z.string().describe("An HTML page");

/** The development provider's page (local mode only): mounted at DEV_CHECKOUT_PATH, unauthenticated. */
export function devCheckoutRoutes(deps: Deps): Router {
  const c = new PaymentsController(deps);
  const r = Router();
  const tags = ["payments: development provider"];
  r.get(
    "/:sessionId",
    doc({
      summary: "DEVELOPMENT provider: the checkout page (local mode only; no money moves)",
      tags,
      response: { description: "The page", schema: HtmlSchema, contentType: "text/html" },
    }),
    validate({ params: DevSessionParamsSchema }),
    c.devPage,
  );
  r.post(
    "/:sessionId/complete",
    doc({
      summary: "DEVELOPMENT provider: pay — settles the purchase through the webhook's crediting path",
      tags,
      response: { description: "The page, now showing the receipt", schema: HtmlSchema, contentType: "text/html" },
    }),
    validate({ params: DevSessionParamsSchema }),
    c.devComplete,
  );
  r.post(
    "/:sessionId/cancel",
    doc({
      summary: "DEVELOPMENT provider: cancel — the checkout expires unpaid",
      tags,
      response: { description: "The page, now showing the checkout ended unpaid", schema: HtmlSchema, contentType: "text/html" },
    }),
    validate({ params: DevSessionParamsSchema }),
    c.devCancel,
  );
  return r;
}

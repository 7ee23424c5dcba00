import type { Request, Response } from "express";
import { ValidationError } from "../../platform/domain-errors.js";
import { caller } from "../../platform/http/auth.js";
import { input } from "../../platform/http/request-validation.js";
import { type WebhookVerifier, WebhookSignatureError } from "./checkout-provider.js";
import { renderDevCheckoutPage } from "./dev.provider.js";
import type { CreditPackagesService } from "./packages.service.js";
import type { CheckoutCreateReq, CreditPackageCreateReq, CreditPackageUpdateReq, PurchasesQuery } from "./payments.schema.js";
import { PaymentsNotConfiguredError, type PaymentsService } from "./payments.service.js";

/**
 * The development page's own CSP: no scripts, inline styles, forms to this origin only, and no
 * `upgrade-insecure-requests` (helmet's default), which would send the form from http://localhost to https.
 */
const DEV_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

function sendPage(res: Response, html: string): void {
  res.setHeader("Content-Security-Policy", DEV_PAGE_CSP);
  res.type("html").send(html);
}

const onePage = <T>(data: T[]) => ({ data, page: { page: 1, pageSize: data.length, total: data.length, totalPages: 1 } });

export class PaymentsController {
  constructor(private readonly deps: { payments: PaymentsService; packages: CreditPackagesService; verifier?: WebhookVerifier }) {}

  packages = async (_req: Request, res: Response) => {
    res.json(onePage(await this.deps.packages.listActive()));
  };

  checkout = async (req: Request, res: Response) => {
    const origin = `${req.protocol}://${req.get("host") ?? "localhost"}`;
    res.status(201).json(await this.deps.payments.checkout(caller(res).userId, input<CheckoutCreateReq>(res).body, origin));
  };

  purchases = async (_req: Request, res: Response) => {
    res.json(await this.deps.payments.purchases(caller(res).userId, input<unknown, PurchasesQuery>(res).query));
  };

  adminPackages = async (_req: Request, res: Response) => {
    res.json(onePage(await this.deps.packages.listAll()));
  };

  createPackage = async (_req: Request, res: Response) => {
    res.status(201).json({ package: await this.deps.packages.create(input<CreditPackageCreateReq>(res).body) });
  };

  updatePackage = async (_req: Request, res: Response) => {
    const { body, params } = input<CreditPackageUpdateReq, unknown, { id: string }>(res);
    res.json({ package: await this.deps.packages.update(params.id, body) });
  };

  /** Stripe's webhook: the raw body (express.raw on this route), signature first, then the event. */
  webhook = async (req: Request, res: Response) => {
    const verifier = this.deps.verifier;
    if (!verifier) throw new PaymentsNotConfiguredError("Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET)");
    const signature = req.headers["stripe-signature"];
    if (typeof signature !== "string" || signature === "") throw new ValidationError("Missing Stripe-Signature header");
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let event: unknown;
    try {
      event = verifier.verify(raw, signature);
    } catch (err) {
      if (err instanceof WebhookSignatureError) throw new ValidationError("Invalid Stripe-Signature: the event was not verified");
      throw err;
    }
    res.json({ received: true, outcome: await this.deps.payments.handleEvent(event) });
  };

  devPage = async (_req: Request, res: Response) => {
    const { sessionId } = input<unknown, unknown, { sessionId: string }>(res).params;
    sendPage(res, renderDevCheckoutPage(await this.deps.payments.devCheckout(sessionId)));
  };

  devComplete = async (req: Request, res: Response) => {
    await this.settle(req, res, "paid");
  };

  devCancel = async (req: Request, res: Response) => {
    await this.settle(req, res, "cancelled");
  };

  private async settle(_req: Request, res: Response, result: "paid" | "cancelled") {
    const { sessionId } = input<unknown, unknown, { sessionId: string }>(res).params;
    await this.deps.payments.devSettle(sessionId, result);
    // The page again, now showing the outcome (the receipt) and the way back to the app. Settling is
    // idempotent, so a resubmitted form changes nothing.
    sendPage(res, renderDevCheckoutPage(await this.deps.payments.devCheckout(sessionId)));
  }
}

import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { SubscriptionsController } from "./subscriptions.controller.js";
import { SubscriptionCreateSchema, SubscriptionIdParamsSchema, SubscriptionListQuerySchema } from "./subscriptions.schema.js";
import type { SubscriptionsService } from "./subscriptions.service.js";

/** Mounted at /api/subscriptions behind authenticate. */
export function subscriptionsRoutes(deps: { subscriptions: SubscriptionsService }): Router {
  const c = new SubscriptionsController(deps.subscriptions);
  const r = Router();
  r.post(
    "/",
    doc({
      summary: "Subscribe to a plan: charges the first period and provisions an instance",
      tags: ["subscriptions"],
      status: 201,
      response: { description: "{subscription, instance}" },
      errors: [402, 404, 409, 422],
      headers: [{ name: "Idempotency-Key", description: "Optional; replays return the stored response" }],
    }),
    validate({ body: SubscriptionCreateSchema }),
    c.create,
  );
  r.get(
    "/",
    doc({ summary: "The caller's subscriptions", tags: ["subscriptions"], response: { description: "{data: [subscription], page}" } }),
    validate({ query: SubscriptionListQuerySchema }),
    c.list,
  );
  r.get(
    "/:id",
    doc({ summary: "One subscription", tags: ["subscriptions"], response: { description: "{subscription}" } }),
    validate({ params: SubscriptionIdParamsSchema }),
    c.get,
  );
  r.post(
    "/:id/cancel",
    doc({
      summary: "Cancel (refunds unused whole days) and terminate its instance",
      tags: ["subscriptions"],
      response: { description: "{subscription}" },
      errors: [409],
    }),
    validate({ params: SubscriptionIdParamsSchema }),
    c.cancel,
  );
  return r;
}

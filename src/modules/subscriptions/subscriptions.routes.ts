import { Router } from "express";
import { validate } from "../../platform/http/validate.js";
import { SubscriptionsController } from "./subscriptions.controller.js";
import { SubscriptionCreateSchema, SubscriptionIdParamsSchema, SubscriptionListQuerySchema } from "./subscriptions.schema.js";
import type { SubscriptionsService } from "./subscriptions.service.js";

/** Mounted at /api/subscriptions behind authenticate. */
export function subscriptionsRoutes(deps: { subscriptions: SubscriptionsService }): Router {
  const c = new SubscriptionsController(deps.subscriptions);
  const r = Router();
  r.post("/", validate({ body: SubscriptionCreateSchema }), c.create);
  r.get("/", validate({ query: SubscriptionListQuerySchema }), c.list);
  r.get("/:id", validate({ params: SubscriptionIdParamsSchema }), c.get);
  r.post("/:id/cancel", validate({ params: SubscriptionIdParamsSchema }), c.cancel);
  return r;
}

import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { IdempotencyKeySchema } from "../../platform/idempotency.js";
import { validate } from "../../platform/http/request-validation.js";
import { SubscriptionsController } from "./subscriptions.controller.js";
import {
  SubscriptionCancelResponseSchema,
  SubscriptionCreateResponseSchema,
  SubscriptionCreateSchema,
  SubscriptionIdParamsSchema,
  SubscriptionListQuerySchema,
  SubscriptionListResponseSchema,
  SubscriptionResponseSchema,
} from "./subscriptions.schema.js";
import type { SubscriptionsService } from "./subscriptions.service.js";

/** Mounted at /api/subscriptions behind authenticate. */
export function subscriptionsRoutes(deps: { subscriptions: SubscriptionsService }): Router {
  const c = new SubscriptionsController(deps.subscriptions);
  const r = Router();
  r.post(
    "/",
    doc({
      summary: "Subscribe to a plan: charges the first period and provisions an instance",
      description:
        "With restoreBackupId (a backup kept after its instance was deleted: GET /api/backups/retained), the new instance's " +
        "volume is made from that backup's snapshot and the backup becomes the new instance's. 404 when the backup is not the " +
        "caller's or its retention is over; 422 BACKUP_MISMATCH when it is of another service or larger than the plan's " +
        "volume; 409 INVALID_STATE when it is not READY or its instance is not deleted (restore in place instead).",
      tags: ["subscriptions"],
      status: 201,
      response: { description: "{subscription, instance}", schema: SubscriptionCreateResponseSchema },
      errors: [402, 404, 409, 422],
      headers: [{ name: "Idempotency-Key", description: "Optional; replays return the stored response", schema: IdempotencyKeySchema }],
    }),
    validate({ body: SubscriptionCreateSchema }),
    c.create,
  );
  r.get(
    "/",
    doc({
      summary: "The caller's subscriptions",
      tags: ["subscriptions"],
      response: { description: "{data: [subscription], page}", schema: SubscriptionListResponseSchema },
    }),
    validate({ query: SubscriptionListQuerySchema }),
    c.list,
  );
  r.get(
    "/:id",
    doc({
      summary: "One subscription",
      tags: ["subscriptions"],
      response: { description: "{subscription}", schema: SubscriptionResponseSchema },
    }),
    validate({ params: SubscriptionIdParamsSchema }),
    c.get,
  );
  r.post(
    "/:id/cancel",
    doc({
      summary: "Cancel (refunds unused whole days) and terminate its instance",
      tags: ["subscriptions"],
      response: {
        description: "{subscription, refund}: refund is the REFUND ledger entry or null",
        schema: SubscriptionCancelResponseSchema,
      },
      errors: [409],
    }),
    validate({ params: SubscriptionIdParamsSchema }),
    c.cancel,
  );
  return r;
}

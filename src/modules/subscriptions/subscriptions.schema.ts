import { z } from "zod";
import { SubscriptionStatus } from "../../generated/prisma/enums.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";
import { CreditTransactionViewSchema } from "../credits/credits.schema.js";
import { DisplayNameSchema } from "../instances/instance-names.js";
import { InstanceViewSchema, PlanSummarySchema, ServiceSummarySchema } from "../instances/instances.schema.js";

export const SubscriptionCreateSchema = z.strictObject({
  planId: z.string().min(1).max(64),
  /** Display name of the instance: 1-63 characters of any script. */
  instanceName: DisplayNameSchema,
  restoreBackupId: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe(
      "A backup retained after its instance was deleted (GET /api/backups/retained): the new instance's volume is made from its " +
        "snapshot, and the backup becomes the new instance's backup. 404 when it is not the caller's, or its retention is over; " +
        "422 BACKUP_MISMATCH when it is of another service or larger than the plan's volume; 409 when it is not READY",
    ),
});
export type SubscriptionCreateReq = z.infer<typeof SubscriptionCreateSchema>;

export const SubscriptionIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

export const SubscriptionListQuerySchema = PageQuerySchema.extend({
  status: z.enum(SubscriptionStatus).optional(),
}).strict();
export type SubscriptionListQuery = z.infer<typeof SubscriptionListQuerySchema>;

// Responses.

export const SubscriptionViewSchema = z.object({
  id: z.string(),
  status: z.enum(SubscriptionStatus),
  planId: z.string(),
  plan: PlanSummarySchema,
  service: ServiceSummarySchema,
  instanceId: z.string().nullable().describe("The subscription's newest instance, if any"),
  currentPeriodStart: IsoDateTime,
  currentPeriodEnd: IsoDateTime,
  pastDueSince: IsoDateTime.nullable(),
  cancelledAt: IsoDateTime.nullable(),
  cancelReason: z.string().nullable(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type SubscriptionView = z.infer<typeof SubscriptionViewSchema>;

export const SubscriptionCreateResponseSchema = z.object({ subscription: SubscriptionViewSchema, instance: InstanceViewSchema });
export type SubscriptionCreateResponse = z.infer<typeof SubscriptionCreateResponseSchema>;

export const SubscriptionCancelResponseSchema = z.object({
  subscription: SubscriptionViewSchema,
  refund: CreditTransactionViewSchema.nullable().describe("The REFUND entry, or null when nothing was refunded"),
});
export type SubscriptionCancelResponse = z.infer<typeof SubscriptionCancelResponseSchema>;

export const SubscriptionResponseSchema = z.object({ subscription: SubscriptionViewSchema });
export const SubscriptionListResponseSchema = pageOf(SubscriptionViewSchema);

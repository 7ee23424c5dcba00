import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { DisplayNameSchema } from "../instances/instance-names.js";

export const SubscriptionCreateSchema = z.strictObject({
  planId: z.string().min(1).max(64),
  /** Display name of the instance: 1-63 characters of any script. */
  instanceName: DisplayNameSchema,
});
export type SubscriptionCreateReq = z.infer<typeof SubscriptionCreateSchema>;

export const SubscriptionIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

export const SubscriptionListQuerySchema = PageQuerySchema.extend({
  status: z.enum(["ACTIVE", "PAST_DUE", "CANCELLED"]).optional(),
}).strict();
export type SubscriptionListQuery = z.infer<typeof SubscriptionListQuerySchema>;

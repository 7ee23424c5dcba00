import { z } from "zod";
import { InstanceStatus } from "../../generated/prisma/enums.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { DisplayNameSchema } from "./instance-names.js";

/** The statuses, from the Prisma schema's enum (the one source). */
export const INSTANCE_STATUSES = Object.values(InstanceStatus) as [InstanceStatus, ...InstanceStatus[]];

export const InstanceIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

export const InstanceListQuerySchema = PageQuerySchema.extend({
  status: z.enum(INSTANCE_STATUSES).optional(),
  service: z.string().min(1).max(40).optional(),
}).strict();
export type InstanceListQuery = z.infer<typeof InstanceListQuerySchema>;

export const InstanceCreateSchema = z.strictObject({
  subscriptionId: z.string().min(1).max(64),
  name: DisplayNameSchema.optional(),
});
export type InstanceCreateReq = z.infer<typeof InstanceCreateSchema>;

export const InstanceUpdateSchema = z.strictObject({ planId: z.string().min(1).max(64) });
export type InstanceUpdateReq = z.infer<typeof InstanceUpdateSchema>;

const boolString = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const InstanceLogsQuerySchema = z.strictObject({
  tailLines: z.coerce.number().int().min(1).max(5000).default(100),
  sinceSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .optional(),
  follow: boolString.default(false),
});
export type InstanceLogsQuery = z.infer<typeof InstanceLogsQuerySchema>;

export const InstanceEventsQuerySchema = PageQuerySchema.extend({
  pageSize: z.coerce.number().int().min(1).max(500).default(100),
  /** Only events after this time (ISO-8601). */
  after: z.iso.datetime().optional(),
}).strict();
export type InstanceEventsQuery = z.infer<typeof InstanceEventsQuerySchema>;

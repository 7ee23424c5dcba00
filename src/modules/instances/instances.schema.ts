import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { DisplayNameSchema } from "./instance-names.js";

export const INSTANCE_STATUSES = [
  "PENDING",
  "PROVISIONING",
  "RUNNING",
  "UPDATING",
  "RESTARTING",
  "SUSPENDED",
  "FAILED",
  "TERMINATING",
  "TERMINATED",
] as const;

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
  sinceSeconds: z.coerce.number().int().min(1).max(30 * 86_400).optional(),
  follow: boolString.default(false),
});
export type InstanceLogsQuery = z.infer<typeof InstanceLogsQuerySchema>;

export const InstanceEventsQuerySchema = PageQuerySchema.extend({
  pageSize: z.coerce.number().int().min(1).max(500).default(100),
  /** Only events after this time (ISO-8601). */
  after: z.iso.datetime().optional(),
}).strict();
export type InstanceEventsQuery = z.infer<typeof InstanceEventsQuerySchema>;

import { z } from "zod";
import { InstanceStatus } from "../../generated/prisma/enums.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { DisplayNameSchema } from "./instance-names.js";

/** The statuses, from the Prisma schema's enum (the one source). */
export const INSTANCE_STATUSES = Object.values(InstanceStatus) as [InstanceStatus, ...InstanceStatus[]];

export const InstanceIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

const boolString = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const InstanceListQuerySchema = PageQuerySchema.extend({
  /** Only this status; `TERMINATED` lists terminated instances. */
  status: z.enum(INSTANCE_STATUSES).optional().describe("Only instances in this status (TERMINATED ones only when asked for)"),
  service: z.string().min(1).max(40).optional(),
  includeTerminated: boolString.default(false).describe("Also list TERMINATED instances (left out by default)"),
}).strict();
export type InstanceListQuery = z.infer<typeof InstanceListQuerySchema>;

/** `{planId, name}`: buy a plan and provision its instance in one call (as POST /api/subscriptions). */
export const InstanceBuySchema = z
  .strictObject({
    planId: z.string().min(1).max(64),
    /** Display name of the instance: 1-63 characters of any script. */
    name: DisplayNameSchema,
  })
  .describe("Buy: subscribe to the plan (first period charged) and provision its instance; 201 {subscription, instance}");
export type InstanceBuyReq = z.infer<typeof InstanceBuySchema>;

/** `{subscriptionId, name?}`: a new instance for a paid-up subscription that has none. */
export const InstanceForSubscriptionSchema = z
  .strictObject({
    subscriptionId: z.string().min(1).max(64),
    name: DisplayNameSchema.optional(),
  })
  .describe("Re-provision: a new instance for an ACTIVE subscription whose instance is gone; 202 {instance}");
export type InstanceForSubscriptionReq = z.infer<typeof InstanceForSubscriptionSchema>;

export const InstanceCreateSchema = z.union([InstanceBuySchema, InstanceForSubscriptionSchema]);
export type InstanceCreateReq = z.infer<typeof InstanceCreateSchema>;

export const InstanceUpdateSchema = z.strictObject({ planId: z.string().min(1).max(64) });
export type InstanceUpdateReq = z.infer<typeof InstanceUpdateSchema>;

/** A single-use ticket from POST /api/instances/:id/stream-ticket, for clients that cannot send headers. */
const StreamTicketParam = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe("Single-use stream ticket (POST /api/instances/{id}/stream-ticket) instead of the Authorization header");

export const InstanceLogsQuerySchema = z.strictObject({
  tailLines: z.coerce.number().int().min(1).max(5000).default(100),
  sinceSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .optional(),
  follow: boolString.default(false),
  ticket: StreamTicketParam,
});
export type InstanceLogsQuery = z.infer<typeof InstanceLogsQuerySchema>;

export const InstanceEventsQuerySchema = PageQuerySchema.extend({
  pageSize: z.coerce.number().int().min(1).max(500).default(100),
  /** Only events after this time (ISO-8601). */
  after: z.iso.datetime().optional(),
  ticket: StreamTicketParam,
  /** Event stream only: resume after this event (as the Last-Event-ID header). */
  lastEventId: z.string().min(1).max(64).optional().describe("Event stream: resume after this event id (like the Last-Event-ID header)"),
}).strict();
export type InstanceEventsQuery = z.infer<typeof InstanceEventsQuerySchema>;

import { z } from "zod";
import { DesiredState, HealthStatus, InstanceStatus } from "../../generated/prisma/enums.js";
import { POSTGRES_SSLMODES } from "./postgres-tls.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";
import { DisplayNameSchema } from "./instance-names.js";

/** The statuses, from the Prisma schema's enum (the one source). */
export const INSTANCE_STATUSES = Object.values(InstanceStatus) as [InstanceStatus, ...InstanceStatus[]];

export const InstanceIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });
export const InstanceRestoreSchema = z.strictObject({ backupId: z.string().min(1).max(64).describe("A READY backup of this instance") });
export type InstanceRestoreReq = z.infer<typeof InstanceRestoreSchema>;

const boolString = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const InstanceListQuerySchema = PageQuerySchema.extend({
  /** Only this status; `TERMINATED` lists terminated instances. */
  status: z.enum(INSTANCE_STATUSES).optional().describe("Only instances in this status (TERMINATED ones only when asked for)"),
  service: z.string().min(1).max(40).optional(),
  includeTerminated: boolString.default(false).describe("Also list TERMINATED instances (left out by default)"),
  backupOverdue: boolString
    .optional()
    .describe(
      "true: only instances whose plan schedules backups with no READY backup from the last 48 h (the health summary's backups.withoutGoodBackup48h)",
    ),
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

// Responses.

const PlanSummarySchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  cpuMilli: z.number().int(),
  memoryMb: z.number().int(),
  storageGb: z.number().int(),
  monthlyPriceCredits: z.number().int(),
});
const ServiceSummarySchema = z.object({ id: z.string(), slug: z.string(), name: z.string() });
export { PlanSummarySchema, ServiceSummarySchema };

/**
 * The public shape of an instance. Never carries credentials (those have their own owner-only
 * endpoint) nor the reconciler's bookkeeping (leases, attempts, generations).
 */
export const InstanceViewSchema = z.object({
  id: z.string(),
  name: z.string().describe("The display name the user chose"),
  resourceName: z.string().describe("The Kubernetes name derived from it (DNS-1035 label)"),
  status: z.enum(InstanceStatus),
  statusMessage: z.string().nullable(),
  desiredState: z.enum(DesiredState),
  url: z.string().nullable(),
  subdomain: z.string(),
  namespace: z.string(),
  service: ServiceSummarySchema,
  plan: PlanSummarySchema,
  resources: z
    .object({ cpuMilli: z.number().int(), memoryMb: z.number().int(), storageGb: z.number().int() })
    .describe("What the workload is given: requests = limits from the plan, and the volume size"),
  health: z.object({ status: z.enum(HealthStatus), reason: z.string().nullable(), checkedAt: IsoDateTime.nullable() }),
  subscriptionId: z.string(),
  provisionedAt: IsoDateTime.nullable(),
  terminatedAt: IsoDateTime.nullable(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type InstanceView = z.infer<typeof InstanceViewSchema>;

export const InstanceResponseSchema = z.object({ instance: InstanceViewSchema });
export const InstanceListResponseSchema = pageOf(InstanceViewSchema);

export const InstanceEventViewSchema = z.object({
  id: z.string(),
  type: z.string().describe("CREATED, PROVISIONING_STEP, RUNNING, FAILED, RESTART_REQUESTED, ..."),
  level: z.string(),
  message: z.string(),
  data: z.unknown().describe("Structured details of the event, or null"),
  createdAt: IsoDateTime,
});
export type InstanceEventView = z.infer<typeof InstanceEventViewSchema>;
export const InstanceEventsResponseSchema = pageOf(InstanceEventViewSchema);

export const InstanceLogsResponseSchema = z.object({ lines: z.array(z.string()) });

const credentialsBase = { instanceId: z.string(), service: z.string(), url: z.string() };
export const InstanceCredentialsSchema = z.union([
  z
    .object({
      ...credentialsBase,
      host: z.string(),
      port: z.number().int(),
      username: z.string(),
      password: z.string(),
      database: z.string(),
      connectionString: z.string().describe("Without TLS parameters (see `sslmode` and `tls`)"),
      sslmode: z
        .enum(POSTGRES_SSLMODES)
        .describe(
          "The libpq `sslmode` to connect with. `disable`: this cluster offers no TLS for PostgreSQL instances (the official image has no server certificate) — connect from inside the cluster or through a tunnel; otherwise the TLS the operator declared (POSTGRES_TLS_SSLMODE)",
        ),
      tls: z
        .object({
          offered: z.boolean().describe("Whether the instance's port is reachable over TLS on this cluster"),
          connectionString: z.string().nullable().describe("`connectionString` with `?sslmode=…` when TLS is offered, else null"),
          note: z.string().describe("How to connect securely, in words"),
        })
        .describe("TLS, where the cluster offers it"),
    })
    .describe("PostgreSQL: connection details"),
  z
    .object({ ...credentialsBase, secrets: z.record(z.string(), z.string()).describe("The instance Secret's keys and values") })
    .describe("n8n, Ghost: the generated secrets"),
]);
export type InstanceCredentials = z.infer<typeof InstanceCredentialsSchema>;
export const InstanceCredentialsResponseSchema = z.object({ credentials: InstanceCredentialsSchema });

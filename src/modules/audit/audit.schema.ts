import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const AuditListQuerySchema = PageQuerySchema.extend({
  /** The acting user's id. */
  actorId: z.string().min(1).max(64).optional(),
  /** e.g. instance, user, subscription, service, plan, session. */
  objectType: z.string().min(1).max(64).optional(),
  objectId: z.string().min(1).max(64).optional(),
  /** Exact action (e.g. `auth.login.failed`), or a prefix ending in `.` (e.g. `admin.`). */
  action: z.string().min(1).max(100).optional(),
  /** Inclusive lower bound (ISO-8601). */
  from: isoDate.optional(),
  /** Exclusive upper bound (ISO-8601). */
  to: isoDate.optional(),
})
  .strict()
  .refine((q) => !q.from || !q.to || q.from < q.to, { message: "from must be before to", path: ["from"] });
export type AuditListQuery = z.infer<typeof AuditListQuerySchema>;

export const AuditEventSchema = z.object({
  id: z.string().describe("Increasing with time"),
  createdAt: z.string().describe("ISO-8601 UTC"),
  actorId: z.string().nullable().describe("Who acted; null for anonymous requests (e.g. a failed login) and the system"),
  actorRole: z.string().nullable(),
  action: z.string().describe("e.g. auth.login.failed, admin.credits.grant, instance.restart"),
  objectType: z.string(),
  objectId: z.string().nullable(),
  ip: z.string().nullable(),
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable().describe("Non-secret context of the action"),
});
export type AuditEventView = z.infer<typeof AuditEventSchema>;

export const AuditListResponseSchema = z.object({
  data: z.array(AuditEventSchema),
  page: z.object({ page: z.number().int(), pageSize: z.number().int(), total: z.number().int(), totalPages: z.number().int() }),
});

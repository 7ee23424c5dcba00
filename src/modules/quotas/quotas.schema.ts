import { z } from "zod";

const limit = (max: number) => z.number().int().min(0).max(max);

/** The full limits object (PUT replaces all four). */
export const QuotaPutSchema = z.strictObject({
  maxInstances: limit(10_000),
  cpuMilli: limit(10_000_000),
  memoryMb: limit(100_000_000),
  storageGb: limit(10_000_000),
});
export type QuotaPutReq = z.infer<typeof QuotaPutSchema>;

export const QuotaUserParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

// Responses.

const amount = z.number().int().min(0);

export const QuotaLimitsSchema = z.object({ maxInstances: amount, cpuMilli: amount, memoryMb: amount, storageGb: amount });
export type QuotaLimits = z.infer<typeof QuotaLimitsSchema>;

/** What the user's live instances hold (TERMINATED ones, and FAILED ones that never ran, hold nothing). */
export const QuotaUsageSchema = z.object({ instances: amount, cpuMilli: amount, memoryMb: amount, storageGb: amount });
export type QuotaUsage = z.infer<typeof QuotaUsageSchema>;

/** GET /api/quotas: {limits, usage}. */
export const QuotaViewSchema = z.object({ limits: QuotaLimitsSchema, usage: QuotaUsageSchema });
export type QuotaView = z.infer<typeof QuotaViewSchema>;

export const AdminQuotaViewSchema = z.object({ userId: z.string(), ...QuotaViewSchema.shape });
export type AdminQuotaView = z.infer<typeof AdminQuotaViewSchema>;

/** Admin GET/PUT /api/admin/users/:id/quota: {quota: {userId, limits, usage}}. */
export const AdminQuotaResponseSchema = z.object({ quota: AdminQuotaViewSchema });

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

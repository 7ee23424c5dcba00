import { z } from "zod";

export const STATS_RANGES = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 } as const;
export type StatsRange = keyof typeof STATS_RANGES;
/** Bucket width per named range: 12, 24, 28 and 30 buckets. */
export const RANGE_BUCKET_SECONDS: Record<StatsRange, number> = { "1h": 300, "24h": 3600, "7d": 21_600, "30d": 86_400 };
/** The longest from/to span (records are kept 30 days by default). */
export const MAX_STATS_SPAN_MS = 31 * 86_400_000;

export const HealthCheckSchema = z.strictObject({
  instanceIds: z
    .array(z.string().min(1).max(64))
    .min(1)
    .max(1000)
    .refine((ids) => new Set(ids).size === ids.length, "instanceIds must not repeat")
    .optional(),
});
export type HealthCheckReq = z.infer<typeof HealthCheckSchema>;

export const HealthInstanceParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

export const HealthInstanceQuerySchema = z.strictObject({
  /** How many recent records to return (newest first). */
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export type HealthInstanceQuery = z.infer<typeof HealthInstanceQuerySchema>;

export const HealthStatsQuerySchema = z
  .strictObject({
    range: z.enum(Object.keys(STATS_RANGES) as [StatsRange, ...StatsRange[]]).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .superRefine((q, ctx) => {
    if (q.range && (q.from || q.to)) {
      ctx.addIssue({ code: "custom", path: ["range"], message: "give either range or from/to, not both" });
      return;
    }
    if ((q.from === undefined) !== (q.to === undefined)) {
      ctx.addIssue({ code: "custom", path: [q.from ? "to" : "from"], message: "from and to go together" });
      return;
    }
    if (q.from && q.to) {
      const span = Date.parse(q.to) - Date.parse(q.from);
      if (span <= 0) ctx.addIssue({ code: "custom", path: ["from"], message: "from must be before to" });
      else if (span > MAX_STATS_SPAN_MS) ctx.addIssue({ code: "custom", path: ["to"], message: "the span may be at most 31 days" });
    }
  });
export type HealthStatsQuery = z.infer<typeof HealthStatsQuerySchema>;

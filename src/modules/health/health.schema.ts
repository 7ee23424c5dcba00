import { z } from "zod";
import { InstanceStatus } from "../../generated/prisma/enums.js";
import { IsoDateTime } from "../../platform/http/schemas.js";
import { HEALTH_STATUSES } from "./health.rules.js";

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

// Responses.

const Health = z.enum(HEALTH_STATUSES);
const count = z.number().int().min(0);

const measurements = {
  podPhase: z.string().nullable(),
  readyReplicas: count,
  desiredReplicas: count,
  restartCount: count,
  cpuMilli: z.number().nullable().describe("null: no usage data (no metrics-server)"),
  memoryMb: z.number().nullable(),
};

export const SweepViewSchema = z.object({
  id: z.string(),
  trigger: z.string(),
  startedAt: IsoDateTime,
  finishedAt: IsoDateTime,
  durationMs: count,
  instanceCount: count,
  clusterReachable: z.boolean(),
  metricsAvailable: z.boolean().nullable(),
  apiCalls: count,
  error: z.string().nullable(),
});
export type SweepView = z.infer<typeof SweepViewSchema>;

export const InstanceHealthResultSchema = z.object({
  instanceId: z.string(),
  name: z.string(),
  namespace: z.string(),
  ...measurements,
  observed: Health.describe("This sweep's observation"),
  healthStatus: Health.describe("The instance's health after hysteresis"),
  previousHealthStatus: Health,
  candidate: Health.nullable().describe("A pending change (null when none)"),
  candidateCount: count,
  reason: z.string(),
  missing: z.array(z.string()).describe("Objects found missing (the reconciler was asked to re-apply them), as Kind/name"),
  drifted: z
    .array(z.string())
    .describe(
      "Objects (the instance's and its tenant baseline's) whose applied fields were changed or removed in the cluster, as `Kind/name: what` (the reconciler was asked to re-apply them)",
    ),
  volumeLost: z
    .boolean()
    .describe(
      "The instance's PersistentVolumeClaim was deleted: its data is lost. It is NOT recreated (an empty volume under a running app would hide the loss); the instance is UNHEALTHY until it is deleted",
    ),
});
export type InstanceHealthResult = z.infer<typeof InstanceHealthResultSchema>;

export const HealthSummaryResponseSchema = z.object({
  summary: z.object({
    instances: z
      .object({ total: count, byStatus: z.record(z.enum(InstanceStatus), count) })
      .describe("Every instance, by status (exact: counts kept by the database with each change, never stale)"),
    health: z.record(Health, count).describe("Health of the RUNNING instances"),
    lastSweep: SweepViewSchema.nullable(),
    clusterReachable: z.boolean().nullable(),
    backups: z.object({
      withoutGoodBackup48h: count.describe(
        "RUNNING or STOPPED instances whose plan schedules daily backups (backupRetention > 0), older than 48 h, with no READY backup (manual or scheduled) from the last 48 h — the minispod_backups_overdue gauge; each is also a BACKUP_OVERDUE instance event. Not counted per request: the backup loop stores it (at most a minute apart, and right after a pass in which a backup became READY or was deleted) and so does every health sweep's end, so it can lag by up to 2 minutes; a stored count older than that is not used (the count is then made for this request)",
      ),
    }),
  }),
});
export type HealthSummaryView = z.infer<typeof HealthSummaryResponseSchema>["summary"];

export const HealthCheckResponseSchema = z.object({
  sweep: SweepViewSchema,
  results: z.array(InstanceHealthResultSchema),
  repaired: z.array(z.string()).describe("Instances sent to the reconciler because objects were missing or had drifted"),
  skipped: z.array(z.object({ instanceId: z.string(), status: z.string(), reason: z.string() })),
});

export const HealthRecordViewSchema = z.object({
  id: z.string(),
  sweepId: z.string().nullable(),
  status: Health,
  ...measurements,
  reason: z.string().nullable(),
  checkedAt: IsoDateTime,
});
export type HealthRecordView = z.infer<typeof HealthRecordViewSchema>;

export const HealthInstanceResponseSchema = z.object({
  health: z.object({
    instanceId: z.string(),
    name: z.string(),
    namespace: z.string(),
    status: z.enum(InstanceStatus),
    healthStatus: Health,
    healthReason: z.string().nullable(),
    healthCheckedAt: IsoDateTime.nullable(),
    candidate: Health.nullable(),
    candidateCount: count,
    latest: HealthRecordViewSchema.nullable(),
    history: z.array(HealthRecordViewSchema).describe("Newest first"),
  }),
});
export type HealthInstanceView = z.infer<typeof HealthInstanceResponseSchema>["health"];

const statsCounts = {
  checks: count,
  healthy: count,
  degraded: count,
  unhealthy: count,
  unknown: count,
  uptimePercent: z.number().nullable().describe("(HEALTHY + DEGRADED) / known checks, in %; null without known checks"),
  avgCpuMilli: z.number().nullable(),
  peakCpuMilli: z.number().nullable(),
  avgMemoryMb: z.number().nullable(),
  peakMemoryMb: z.number().nullable(),
  incidents: count.describe("Transitions into UNHEALTHY"),
};
export const StatsBucketSchema = z.object({ start: IsoDateTime, end: IsoDateTime, ...statsCounts });
export type StatsBucket = z.infer<typeof StatsBucketSchema>;

export const HealthStatsViewSchema = z.object({
  from: IsoDateTime,
  to: IsoDateTime,
  bucketSeconds: z.number().int().min(1),
  totals: z.object(statsCounts),
  buckets: z.array(StatsBucketSchema),
});
export type HealthStatsView = z.infer<typeof HealthStatsViewSchema>;
export const HealthStatsResponseSchema = z.object({ stats: HealthStatsViewSchema });

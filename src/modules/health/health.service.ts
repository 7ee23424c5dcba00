/**
 * The admin health API: fleet summary, on-demand sweeps, one instance's health history, and
 * time-bucketed statistics computed in SQL (generate_series + date_bin), never by loading rows.
 */
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { NotFoundError, found } from "../../platform/domain-errors.js";
import type { HealthCheck, HealthSweep } from "../../generated/prisma/client.js";
import { INSTANCE_STATUSES } from "../instances/instances.schema.js";
import { HEALTH_STATUSES, type HealthMeasurements, type HealthStatus } from "./health.rules.js";
import { MAX_STATS_SPAN_MS, RANGE_BUCKET_SECONDS, STATS_RANGES, type HealthStatsQuery } from "./health.schema.js";
import type { SweepResult, SweepView } from "./health.sweeper.js";

/** What runs a sweep now (the health loop, which holds the sweeper lease). */
export interface SweepRunner {
  runNow(instanceIds?: string[]): Promise<SweepResult>;
}

export interface HealthRecordView extends HealthMeasurements {
  id: string;
  sweepId: string | null;
  status: HealthStatus;
  reason: string | null;
  checkedAt: string;
}

export interface StatsBucket {
  start: string;
  end: string;
  checks: number;
  healthy: number;
  degraded: number;
  unhealthy: number;
  unknown: number;
  /** (HEALTHY + DEGRADED) / (checks that are not UNKNOWN), in %, 2 decimals; null without known checks. */
  uptimePercent: number | null;
  avgCpuMilli: number | null;
  peakCpuMilli: number | null;
  avgMemoryMb: number | null;
  peakMemoryMb: number | null;
  /** Transitions into UNHEALTHY: UNHEALTHY checks whose previous known check of the instance was not. */
  incidents: number;
}

const BUCKET_CHOICES = [60, 300, 900, 3600, 21_600, 86_400];
const MAX_BUCKETS = 100;

export function sweepView(s: HealthSweep): SweepView {
  return {
    id: s.id,
    trigger: s.trigger,
    startedAt: s.startedAt.toISOString(),
    finishedAt: (s.finishedAt ?? s.startedAt).toISOString(),
    durationMs: s.durationMs ?? 0,
    instanceCount: s.instanceCount,
    clusterReachable: s.clusterReachable,
    metricsAvailable: s.metricsAvailable,
    apiCalls: s.apiCalls,
    error: s.error,
  };
}

function recordView(r: HealthCheck): HealthRecordView {
  return {
    id: r.id.toString(),
    sweepId: r.sweepId,
    status: r.status,
    podPhase: r.podPhase,
    readyReplicas: r.readyReplicas,
    desiredReplicas: r.desiredReplicas,
    restartCount: r.restartCount,
    cpuMilli: r.cpuMilli,
    memoryMb: r.memoryMb,
    reason: r.reason,
    checkedAt: r.checkedAt.toISOString(),
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const uptime = (up: number, known: number) => (known > 0 ? round2((up / known) * 100) : null);

export class HealthService {
  constructor(private readonly o: { prisma: PrismaClient; clock: Clock; runner: SweepRunner }) {}

  async summary() {
    const { prisma } = this.o;
    const rows = await prisma.$queryRaw<Array<{ status: string; health: HealthStatus; n: number }>>`
      SELECT "status"::text AS "status", "health_status"::text AS "health", count(*)::int AS "n"
        FROM "instances" GROUP BY 1, 2`;
    const byStatus = Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, 0])) as Record<string, number>;
    const health = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, 0])) as Record<HealthStatus, number>;
    let total = 0;
    for (const r of rows) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
      total += r.n;
      if (r.status === "RUNNING") health[r.health] += r.n;
    }
    const last = await prisma.healthSweep.findFirst({ orderBy: { startedAt: "desc" } });
    return {
      instances: { total, byStatus },
      /** Health of the instances that are judged (RUNNING). */
      health,
      lastSweep: last ? sweepView(last) : null,
      clusterReachable: last ? last.clusterReachable : null,
    };
  }

  /** Runs a sweep now (all RUNNING instances, or the given ones) and returns its results. */
  async check(instanceIds?: string[]): Promise<SweepResult & { skipped: Array<{ instanceId: string; status: string; reason: string }> }> {
    let skipped: Array<{ instanceId: string; status: string; reason: string }> = [];
    let judged: string[] | undefined;
    if (instanceIds) {
      const rows = await this.o.prisma.instance.findMany({ where: { id: { in: instanceIds } }, select: { id: true, status: true } });
      const known = new Map(rows.map((r) => [r.id, r.status]));
      const unknown = instanceIds.filter((id) => !known.has(id));
      if (unknown.length) throw new NotFoundError(`instances not found: ${unknown.join(", ")}`, { details: { instanceIds: unknown } });
      judged = instanceIds.filter((id) => known.get(id) === "RUNNING");
      skipped = instanceIds
        .filter((id) => known.get(id) !== "RUNNING")
        .map((id) => ({ instanceId: id, status: String(known.get(id)), reason: "only RUNNING instances are judged" }));
    }
    const result = await this.o.runner.runNow(judged);
    return { ...result, skipped };
  }

  async instance(id: string, limit: number) {
    const inst = found(
      await this.o.prisma.instance.findUnique({
        where: { id },
        select: {
          id: true,
          name: true,
          namespace: true,
          status: true,
          healthStatus: true,
          healthReason: true,
          healthCheckedAt: true,
          healthCandidate: true,
          healthCandidateCount: true,
        },
      }),
      "Instance",
    );
    const history = await this.o.prisma.healthCheck.findMany({
      where: { instanceId: id },
      orderBy: [{ checkedAt: "desc" }, { id: "desc" }],
      take: limit,
    });
    const views = history.map(recordView);
    return {
      instanceId: inst.id,
      name: inst.name,
      namespace: inst.namespace,
      status: inst.status,
      healthStatus: inst.healthStatus,
      healthReason: inst.healthReason,
      healthCheckedAt: inst.healthCheckedAt?.toISOString() ?? null,
      candidate: inst.healthCandidate,
      candidateCount: inst.healthCandidateCount,
      latest: views[0] ?? null,
      history: views,
    };
  }

  async stats(q: HealthStatsQuery) {
    let from: Date;
    let to: Date;
    let bucketSeconds: number;
    if (q.from && q.to) {
      from = new Date(q.from);
      to = new Date(q.to);
      const spanS = (to.getTime() - from.getTime()) / 1000;
      bucketSeconds = BUCKET_CHOICES.find((w) => spanS / w <= MAX_BUCKETS) ?? Math.ceil(MAX_STATS_SPAN_MS / 1000 / MAX_BUCKETS);
    } else {
      const range = q.range ?? "24h";
      to = this.o.clock.now();
      from = new Date(to.getTime() - STATS_RANGES[range]);
      bucketSeconds = RANGE_BUCKET_SECONDS[range];
    }
    const rows = await this.o.prisma.$queryRawUnsafe<
      Array<{
        start: Date;
        checks: number;
        healthy: number;
        degraded: number;
        unhealthy: number;
        unknown: number;
        cpu_sum: number | null;
        cpu_n: number;
        cpu_peak: number | null;
        mem_sum: number | null;
        mem_n: number;
        mem_peak: number | null;
        incidents: number;
      }>
    >(
      `WITH b AS (
         SELECT gs AS "start"
           FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 millisecond', make_interval(secs => $3::int)) AS gs
       ), c AS (
         SELECT date_bin(make_interval(secs => $3::int), h."checked_at", $1::timestamptz) AS "bucket",
                h."status", h."cpu_milli", h."memory_mb",
                (h."status" = 'UNHEALTHY' AND (
                   SELECT p."status" FROM "health_checks" p
                    WHERE p."instance_id" = h."instance_id" AND p."checked_at" < h."checked_at" AND p."status" <> 'UNKNOWN'
                    ORDER BY p."checked_at" DESC LIMIT 1) IS DISTINCT FROM 'UNHEALTHY') AS "incident"
           FROM "health_checks" h
          WHERE h."checked_at" >= $1::timestamptz AND h."checked_at" < $2::timestamptz
       )
       SELECT b."start",
              count(c."status")::int AS "checks",
              count(*) FILTER (WHERE c."status" = 'HEALTHY')::int AS "healthy",
              count(*) FILTER (WHERE c."status" = 'DEGRADED')::int AS "degraded",
              count(*) FILTER (WHERE c."status" = 'UNHEALTHY')::int AS "unhealthy",
              count(*) FILTER (WHERE c."status" = 'UNKNOWN')::int AS "unknown",
              sum(c."cpu_milli")::float8 AS "cpu_sum", count(c."cpu_milli")::int AS "cpu_n", max(c."cpu_milli") AS "cpu_peak",
              sum(c."memory_mb")::float8 AS "mem_sum", count(c."memory_mb")::int AS "mem_n", max(c."memory_mb") AS "mem_peak",
              count(*) FILTER (WHERE c."incident")::int AS "incidents"
         FROM b LEFT JOIN c ON c."bucket" = b."start"
        GROUP BY b."start" ORDER BY b."start"`,
      from,
      to,
      bucketSeconds,
    );
    const avg = (sum: number | null, n: number) => (n > 0 && sum !== null ? round2(sum / n) : null);
    const buckets: StatsBucket[] = rows.map((r) => {
      const start = new Date(r.start);
      const end = new Date(Math.min(start.getTime() + bucketSeconds * 1000, to.getTime()));
      return {
        start: start.toISOString(),
        end: end.toISOString(),
        checks: r.checks,
        healthy: r.healthy,
        degraded: r.degraded,
        unhealthy: r.unhealthy,
        unknown: r.unknown,
        uptimePercent: uptime(r.healthy + r.degraded, r.healthy + r.degraded + r.unhealthy),
        avgCpuMilli: avg(r.cpu_sum, r.cpu_n),
        peakCpuMilli: r.cpu_peak,
        avgMemoryMb: avg(r.mem_sum, r.mem_n),
        peakMemoryMb: r.mem_peak,
        incidents: r.incidents,
      };
    });
    const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((n, r) => n + f(r), 0);
    const maxOf = (f: (r: (typeof rows)[number]) => number | null) =>
      rows.reduce<number | null>((m, r) => (f(r) === null ? m : m === null ? f(r) : Math.max(m, f(r) as number)), null);
    const healthy = sum((r) => r.healthy);
    const degraded = sum((r) => r.degraded);
    const unhealthy = sum((r) => r.unhealthy);
    const totals = {
      checks: sum((r) => r.checks),
      healthy,
      degraded,
      unhealthy,
      unknown: sum((r) => r.unknown),
      uptimePercent: uptime(healthy + degraded, healthy + degraded + unhealthy),
      avgCpuMilli: avg(
        sum((r) => r.cpu_sum ?? 0),
        sum((r) => r.cpu_n),
      ),
      peakCpuMilli: maxOf((r) => r.cpu_peak),
      avgMemoryMb: avg(
        sum((r) => r.mem_sum ?? 0),
        sum((r) => r.mem_n),
      ),
      peakMemoryMb: maxOf((r) => r.mem_peak),
      incidents: sum((r) => r.incidents),
    };
    return { from: from.toISOString(), to: to.toISOString(), bucketSeconds, totals, buckets };
  }
}

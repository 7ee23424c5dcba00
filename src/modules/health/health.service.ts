/**
 * The admin health API: fleet summary, on-demand sweeps, one instance's health history, and
 * time-bucketed statistics computed in SQL (generate_series + date_bin), never by loading rows.
 */
import type { Clock } from "../../platform/clock.js";
import { type PrismaClient, prismaRead, type SqlRead } from "../../platform/db/index.js";
import { NotFoundError, found } from "../../platform/domain-errors.js";
import type { HealthCheck, HealthSweep } from "../../generated/prisma/client.js";
import { INSTANCE_STATUSES } from "../instances/instances.schema.js";
import { HEALTH_STATUSES, type HealthStatus } from "./health.rules.js";
import {
  type HealthInstanceView,
  type HealthRecordView,
  type HealthStatsQuery,
  type HealthStatsView,
  type HealthSummaryView,
  MAX_STATS_SPAN_MS,
  RANGE_BUCKET_SECONDS,
  STATS_RANGES,
  type StatsBucket,
} from "./health.schema.js";
import { type HealthStatsRow, healthStatsSql, healthSummarySql } from "./health.sql.js";
import type { SweepResult, SweepView } from "./health.sweeper.js";

/** What runs a sweep now (the health loop, which holds the sweeper lease). */
export interface SweepRunner {
  runNow(instanceIds?: string[]): Promise<SweepResult>;
}

export type { HealthRecordView, StatsBucket };

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
  /** The summary's and the stats' one statement, past Prisma's query engine: `Database.read` (default: through `prisma`). */
  private readonly read: SqlRead;

  constructor(private readonly o: { prisma: PrismaClient; read?: SqlRead; clock: Clock; runner: SweepRunner }) {
    this.read = o.read ?? prismaRead(o.prisma);
  }

  /**
   * One statement (health.sql.ts): the counts by (status, health) from the trigger-kept counts, the
   * instances without a good backup in 48 h as the loops stored it (counted when that is too old), and
   * the last sweep — none of it reads the fleet.
   */
  async summary(): Promise<HealthSummaryView> {
    const [row] = await this.read<
      { counts: Array<{ status: string; health: HealthStatus; n: number }>; backupsOverdue: number } & Partial<HealthSweep>
    >(healthSummarySql(this.o.clock.now()));
    const rows = row?.counts ?? [];
    const last = row?.id ? (row as HealthSweep) : null;
    const byStatus = Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, 0])) as HealthSummaryView["instances"]["byStatus"];
    const health = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, 0])) as Record<HealthStatus, number>;
    let total = 0;
    for (const r of rows) {
      byStatus[r.status as keyof typeof byStatus] += r.n;
      total += r.n;
      if (r.status === "RUNNING") health[r.health] += r.n;
    }
    return {
      instances: { total, byStatus },
      /** Health of the instances that are judged (RUNNING). */
      health,
      lastSweep: last ? sweepView(last) : null,
      clusterReachable: last ? last.clusterReachable : null,
      backups: { withoutGoodBackup48h: row?.backupsOverdue ?? 0 },
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

  async instance(id: string, limit: number): Promise<HealthInstanceView> {
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

  async stats(q: HealthStatsQuery): Promise<HealthStatsView> {
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
    const rows = await this.read<HealthStatsRow>(healthStatsSql(from, to, bucketSeconds));
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

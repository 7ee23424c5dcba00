/**
 * The health sweep's SQL: reading the instances to judge, and writing a whole sweep in set-based
 * statements (one statement, from json_to_recordset(…), INSERTs the records and UPDATEs the
 * instances' current health), plus retention. Tagged SQL only.
 */
import type { PrismaClient, SqlRead, SqlTarget } from "../../platform/db/index.js";
import { Prisma, prismaRead, sqlRows } from "../../platform/db/index.js";
import { EVENT_COLUMNS, type InstanceEventType, newEventId } from "../instances/instance-state.js";
import { refreshOverdueCountSql } from "../backups/backup-schedule.sql.js";
import type { HealthMeasurements, HealthStatus } from "./health.rules.js";
import { compactInstanceCountsSql } from "./health.sql.js";

/** An instance the sweep judges (RUNNING), with its plan limits and hysteresis state. */
export interface SweptInstanceRow {
  id: string;
  name: string;
  namespace: string;
  k8s_name: string;
  generation: number;
  template: string;
  service_slug: string;
  plan_cpu_milli: number;
  plan_memory_mb: number;
  health_status: HealthStatus;
  health_candidate: HealthStatus | null;
  health_candidate_count: number;
  last_restart_count: number;
  health_checked_at: Date | null;
  health_reason: string | null;
  user_id: string;
  plan_storage_gb: number;
  /** Per owned object ("Kind/name"), the hash of our fields after the last apply; null before it was recorded. */
  applied_fields: Record<string, string> | null;
  /** The same for the user's tenant baseline: on the user's first row only (null on the others), to keep the read small. */
  tenant_applied_fields: Record<string, string> | null;
}

/** One instance's judgement in a sweep. */
export interface HealthJudgement extends HealthMeasurements {
  instanceId: string;
  /** This sweep's raw observation. */
  observed: HealthStatus;
  /** The instance's health after hysteresis. */
  healthStatus: HealthStatus;
  previousHealthStatus: HealthStatus;
  /** A pending change and how many consecutive observations it has (null/0 when none). */
  candidate: HealthStatus | null;
  candidateCount: number;
  reason: string;
}

/** A judgement as written, with the restart baseline kept for the next sweep (the judgement itself, not a copy). */
export interface HealthRecord {
  judgement: HealthJudgement;
  lastRestartCount: number;
}

export interface SweepRow {
  id: string;
  trigger: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  instanceCount: number;
  clusterReachable: boolean;
  apiCalls: number;
  metricsAvailable: boolean | null;
  error: string | null;
}

export class HealthRepository {
  private readonly read: SqlRead;

  /**
   * `read`: the driver's read past Prisma's engine (`Database.read`), for the sweep's one big read:
   * through Prisma, 10,000 rows cost the engine's interpretation of each (and tens of MB of garbage per
   * sweep). Without it, Prisma's `$queryRaw`.
   */
  constructor(
    private readonly prisma: PrismaClient,
    read?: SqlRead,
  ) {
    this.read = read ?? prismaRead(prisma);
  }

  /** The RUNNING instances (or those of `ids` that are RUNNING), in one query. */
  async runningInstances(ids?: string[]): Promise<SweptInstanceRow[]> {
    const filter = ids ? Prisma.sql`AND i."id" = ANY(${ids}::text[])` : Prisma.empty;
    // The JSON maps come as text and are parsed here (the same on the driver, PGlite and Prisma, whose
    // own JSON mapping cost ~10x more).
    const rows = await this.read<
      Omit<SweptInstanceRow, "applied_fields" | "tenant_applied_fields"> & {
        applied_fields: string | null;
        tenant_applied_fields: string | null;
      }
    >(Prisma.sql`
      SELECT i."id", i."name", i."namespace", i."k8s_name", i."generation", s."template", s."slug" AS "service_slug",
             p."cpu_milli" AS "plan_cpu_milli", p."memory_mb" AS "plan_memory_mb",
             i."health_status"::text AS "health_status", i."health_candidate"::text AS "health_candidate",
             i."health_candidate_count", i."last_restart_count", i."health_checked_at", i."health_reason",
             i."user_id", p."storage_gb" AS "plan_storage_gb", i."applied_fields"::text AS "applied_fields",
             CASE WHEN row_number() OVER (PARTITION BY i."user_id" ORDER BY i."id") = 1 THEN u."tenant_applied_fields"::text END
               AS "tenant_applied_fields"
        FROM "instances" i
        JOIN "plans" p ON p."id" = i."plan_id"
        JOIN "users" u ON u."id" = i."user_id"
        JOIN "services" s ON s."id" = i."service_id"
       WHERE i."status" = 'RUNNING' AND i."desired_state" = 'RUNNING' ${filter}
       ORDER BY i."id"`);
    return rows.map((r) => {
      const row = r as unknown as SweptInstanceRow;
      row.applied_fields = r.applied_fields === null ? null : (JSON.parse(r.applied_fields) as Record<string, string>);
      row.tenant_applied_fields = r.tenant_applied_fields === null ? null : (JSON.parse(r.tenant_applied_fields) as Record<string, string>);
      return row;
    });
  }

  /**
   * The sweep's records: ONE statement, from one JSON array sent as a single parameter
   * (`json_to_recordset`, parsed once into a CTE), INSERTs the health records and UPDATEs every
   * instance's current health; then the events of the changes. With 10,000 instances this parameter
   * is ~2 MB, so it is sent once, not once per statement; and the sweep writes on the driver
   * (`inSqlTransaction`), not through Prisma's engine, which would serialise it again, parse that back
   * and keep both in its debug histories (the last 100 calls, whatever the log level). As parallel
   * arrays (`unnest`), the driver had also serialised every element of every array into a literal.
   */
  async writeRecords(tx: SqlTarget, sweepId: string, checkedAt: Date, records: HealthRecord[]): Promise<void> {
    const json = JSON.stringify(
      records.map(({ judgement: r, lastRestartCount }) => ({
        id: r.instanceId,
        observed: r.observed,
        status: r.healthStatus,
        candidate: r.candidate,
        cnt: r.candidateCount,
        phase: r.podPhase,
        ready: r.readyReplicas,
        desired: r.desiredReplicas,
        restarts: r.restartCount,
        last: lastRestartCount,
        cpu: r.cpuMilli,
        mem: r.memoryMb,
        reason: r.reason,
      })),
    );
    // The current health only while the instance is still RUNNING; the record in any case.
    await sqlRows(
      tx,
      Prisma.sql`
      WITH v AS (
        SELECT * FROM json_to_recordset(${json}::json)
          AS v(id text, observed text, status text, candidate text, cnt int, phase text, ready int, desired int,
               restarts int, last int, cpu int, mem int, reason text)
      ), checks AS (
        INSERT INTO "health_checks" ("instance_id","sweep_id","status","pod_phase","ready_replicas","desired_replicas","restart_count","cpu_milli","memory_mb","reason","checked_at")
        SELECT v.id, ${sweepId}, v.observed::"HealthStatus", v.phase, v.ready, v.desired, v.restarts, v.cpu, v.mem, v.reason, ${checkedAt}
          FROM v
      )
      UPDATE "instances" i
         SET "health_status" = v.status::"HealthStatus",
             "health_reason" = v.reason,
             "health_candidate" = v.candidate::"HealthStatus",
             "health_candidate_count" = v.cnt,
             "last_restart_count" = v.last,
             "health_checked_at" = ${checkedAt}
        FROM v
       WHERE i."id" = v.id AND i."status" = 'RUNNING'`,
    );
    await this.recordHealthChanges(tx, checkedAt, records);
  }

  /**
   * One instance event per judged change of health (after hysteresis), so the instance's timeline shows
   * when it became UNHEALTHY and when it recovered. One INSERT for the whole sweep; the first judgement
   * of a new instance (UNKNOWN -> HEALTHY) is not news and is left out.
   */
  private async recordHealthChanges(tx: SqlTarget, at: Date, records: HealthRecord[]): Promise<void> {
    const changed: HealthJudgement[] = [];
    for (const { judgement: r } of records) {
      if (r.healthStatus !== r.previousHealthStatus && !(r.previousHealthStatus === "UNKNOWN" && r.healthStatus === "HEALTHY"))
        changed.push(r);
    }
    if (!changed.length) return;
    const type: InstanceEventType = "HEALTH_CHANGED";
    await sqlRows(
      tx,
      Prisma.sql`
      INSERT INTO "instance_events" (${EVENT_COLUMNS})
      SELECT v.eid, v.id, ${type}, v.level, v.message, v.data::jsonb, ${at}
        FROM unnest(${changed.map(() => newEventId())}::text[], ${changed.map((r) => r.instanceId)}::text[],
                    ${changed.map((r) => (r.healthStatus === "UNHEALTHY" || r.healthStatus === "DEGRADED" ? "WARN" : "INFO"))}::text[],
                    ${changed.map((r) => `Health ${r.previousHealthStatus} -> ${r.healthStatus}: ${r.reason}`)}::text[],
                    ${changed.map((r) => JSON.stringify({ from: r.previousHealthStatus, to: r.healthStatus, reason: r.reason }))}::text[])
             AS v(eid, id, level, message, data)
        JOIN "instances" i ON i."id" = v.id AND i."status" = 'RUNNING'`,
    );
  }

  /**
   * Instances that are not meant to be running (SUSPENDED, STOPPED, FAILED, TERMINATING, TERMINATED) have no
   * health: UNKNOWN, with the reason, and no pending change. PENDING/PROVISIONING have never been
   * judged; UPDATING/RESTARTING keep their last health until they are RUNNING again.
   */
  async resetNotRunning(tx: SqlTarget): Promise<void> {
    await sqlRows(
      tx,
      Prisma.sql`
      UPDATE "instances"
         SET "health_status" = 'UNKNOWN', "health_candidate" = NULL, "health_candidate_count" = 0,
             "health_reason" = 'not judged: instance is ' || "status"::text
       WHERE "status" IN ('SUSPENDED','STOPPED','FAILED','TERMINATING','TERMINATED')
         AND ("health_status" <> 'UNKNOWN' OR "health_candidate" IS NOT NULL)`,
    );
  }

  /**
   * Forgets that these users' tenant baselines are applied, so the reconciler's next pass over one of
   * their instances applies the baseline again (it skips one whose rendering is unchanged).
   */
  async forgetTenantBaselines(tx: SqlTarget, userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await sqlRows(tx, Prisma.sql`UPDATE "users" SET "tenant_applied_hash" = NULL WHERE "id" = ANY(${userIds}::text[])`);
  }

  async insertSweep(tx: SqlTarget, s: SweepRow): Promise<void> {
    await sqlRows(
      tx,
      Prisma.sql`
      INSERT INTO "health_sweeps" ("id","trigger","started_at","finished_at","duration_ms","instance_count","cluster_reachable","api_calls","metrics_available","error")
      VALUES (${s.id}, ${s.trigger}, ${s.startedAt}, ${s.finishedAt}, ${s.durationMs}, ${s.instanceCount}, ${s.clusterReachable},
              ${s.apiCalls}, ${s.metricsAvailable}, ${s.error})`,
    );
  }

  /** Whether a scheduled sweep started after `since` (another replica swept moments ago). */
  async scheduledSweepSince(since: Date): Promise<boolean> {
    const recent = await this.prisma.healthSweep.findFirst({
      where: { trigger: "scheduled", startedAt: { gt: since } },
      select: { id: true },
    });
    return recent !== null;
  }

  /**
   * After a sweep, what the admin health summary reads instead of the fleet: the instance-count deltas
   * folded into one row per (status, health), and the overdue-backup count stored as of `now`.
   */
  async refreshFleetCounts(now: Date): Promise<void> {
    await this.prisma.$executeRaw(compactInstanceCountsSql);
    await this.prisma.$executeRaw(refreshOverdueCountSql(now));
  }

  /** Deletes up to `batch` health records older than `cutoff`; returns how many. */
  async pruneChecks(cutoff: Date, batch: number): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM "health_checks" WHERE "id" IN (
        SELECT "id" FROM "health_checks" WHERE "checked_at" < ${cutoff} ORDER BY "checked_at" LIMIT ${batch})`;
  }

  async pruneSweeps(cutoff: Date): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "health_sweeps" WHERE "started_at" < ${cutoff}`;
  }
}

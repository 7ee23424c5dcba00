/**
 * One health sweep over the fleet (or a subset of it):
 *
 *   1. read the instances that should be running (status RUNNING) with their plan limits and
 *      hysteresis state — one query;
 *   2. observe the whole fleet with label-selected, paginated LISTs across all namespaces:
 *      Deployments, StatefulSets, Services, Pods and PodMetrics — five LISTs (plus pages) whatever
 *      the fleet size, never a call per instance;
 *   3. judge each instance with the pure rules (health.rules.ts);
 *   4. write the whole result in ONE transaction: the sweep row, one health record per instance
 *      (a single INSERT ... SELECT FROM unnest(...)), every instance's current health (a single
 *      UPDATE ... FROM unnest(...)), and the repair of instances whose objects are missing.
 *
 * A sweep that is abandoned (the process stops, the lease is lost, the database fails) before step 4
 * commits writes nothing: there is never half a sweep in the database.
 *
 * Missing objects: the instance's generation is bumped (with next_attempt_at = now) in the same
 * transaction, an INSTANCE event is recorded, and after commit the reconciler is signalled. The
 * reconciler re-applies every object whenever generation > applied_generation; bumping the
 * generation (instead of lowering applied/observed_generation) is what makes this safe against a
 * reconcile pass in flight: its final update is guarded by the generation it read, so it cannot mark
 * the instance converged over the repair request.
 */
import { randomUUID } from "node:crypto";
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { KubeClient, PodUsage } from "../../kube/client.js";
import { summarizePodsBy } from "../../kube/status.js";
import { FLEET_SELECTOR, LABELS } from "../../kube/templates/labels.js";
import { names, workloadKind } from "../../kube/templates/index.js";
import type { ServiceTemplate } from "../../kube/templates/types.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient, Tx } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";
import type { SweepMetrics } from "../../platform/metrics.js";
import type { InstanceSignal } from "../../platform/signals.js";
import { requestRepairs } from "../instances/instance-state.js";
import { type HealthMeasurements, type HealthStatus, nextHealth, type Observation, observe } from "./health.rules.js";

/** Every object of every instance: managed by us and carrying an instance id. */
export const INSTANCE_OBJECTS_SELECTOR = `${FLEET_SELECTOR},${LABELS.instanceId}`;

export type SweepTrigger = "scheduled" | "manual";

export interface SweepRequest {
  trigger: SweepTrigger;
  /** Only these instances (the LISTs stay fleet-wide and are filtered in memory). */
  instanceIds?: string[];
  /**
   * Called inside the write transaction before anything is written; returning false abandons the
   * sweep without writing (e.g. the sweeper lease was lost meanwhile).
   */
  stillOwner?: (tx: Tx) => Promise<boolean>;
}

export interface SweepView {
  id: string;
  trigger: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  instanceCount: number;
  clusterReachable: boolean;
  metricsAvailable: boolean | null;
  apiCalls: number;
  error: string | null;
}

export interface InstanceHealthResult extends HealthMeasurements {
  instanceId: string;
  name: string;
  namespace: string;
  /** This sweep's observation. */
  observed: HealthStatus;
  /** The instance's health after hysteresis. */
  healthStatus: HealthStatus;
  previousHealthStatus: HealthStatus;
  /** A pending change and how many consecutive observations it has (null/0 when none). */
  candidate: HealthStatus | null;
  candidateCount: number;
  reason: string;
  /** Objects found missing (the reconciler was asked to re-apply them). */
  missing: string[];
}

export interface SweepResult {
  sweep: SweepView;
  results: InstanceHealthResult[];
  /** Instances sent to the reconciler because objects were missing. */
  repaired: string[];
}

/** The sweep was abandoned before writing (lease lost): nothing was written. */
export class SweepAbandonedError extends Error {}

interface Row {
  id: string;
  name: string;
  namespace: string;
  k8s_name: string;
  generation: number;
  template: string;
  plan_cpu_milli: number;
  plan_memory_mb: number;
  health_status: HealthStatus;
  health_candidate: HealthStatus | null;
  health_candidate_count: number;
  last_restart_count: number;
  health_checked_at: Date | null;
}

interface FleetView {
  readable: boolean;
  error?: string;
  calls: number;
  metricsAvailable: boolean | null;
  workloads: Map<string, { kind: "Deployment" | "StatefulSet"; name: string; desiredReplicas: number }>;
  services: Map<string, Set<string>>;
  pods: ReturnType<typeof summarizePodsBy>;
  usage: Map<string, { cpuMilli: number; memoryMb: number }>;
}

export interface HealthSweeperOptions {
  prisma: PrismaClient;
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  /** Told about instances whose objects are missing (the reconciler). */
  signal: InstanceSignal;
  /** Consecutive observations a status change needs (HEALTH_CONSECUTIVE_OBSERVATIONS). */
  consecutiveObservations: number;
  /** LIST page size (default 500, as kubectl). */
  pageSize?: number;
  /** Prometheus: one observation per sweep (ok = the cluster was read and the result committed). */
  metrics?: SweepMetrics;
}

export class HealthSweeper {
  /** Where the last sweep's time went (for the benchmark and debug logs). */
  lastPhasesMs: Record<"loadInstances" | "listCluster" | "judge" | "write", number> | undefined;

  constructor(private readonly o: HealthSweeperOptions) {}

  async sweep(req: SweepRequest): Promise<SweepResult> {
    const started = performance.now();
    try {
      const result = await this.run(req, started);
      this.o.metrics?.observeSweep(performance.now() - started, result.sweep.clusterReachable);
      return result;
    } catch (err) {
      this.o.metrics?.observeSweep(performance.now() - started, false);
      throw err;
    }
  }

  private async run(req: SweepRequest, started: number): Promise<SweepResult> {
    const startedAt = this.o.clock.now();
    const sweepId = randomUUID();
    const rows = await this.loadInstances(req.instanceIds);
    const tLoaded = performance.now();
    const fleet = await this.readFleet();
    const tRead = performance.now();
    const checkedAt = this.o.clock.now();

    const results: InstanceHealthResult[] = [];
    const lastRestart: number[] = [];
    for (const row of rows) {
      const obs = this.judge(row, fleet);
      const state = nextHealth(
        { status: row.health_status, candidate: row.health_candidate, candidateCount: row.health_candidate_count },
        obs.status,
        this.o.consecutiveObservations,
      );
      // An unreadable sweep keeps the previous restart baseline.
      lastRestart.push(obs.status === "UNKNOWN" ? row.last_restart_count : obs.restartCount);
      results.push({
        instanceId: row.id,
        name: row.name,
        namespace: row.namespace,
        observed: obs.status,
        healthStatus: state.status,
        previousHealthStatus: row.health_status,
        candidate: state.candidate,
        candidateCount: state.candidateCount,
        reason: obs.reason,
        podPhase: obs.podPhase,
        readyReplicas: obs.readyReplicas,
        desiredReplicas: obs.desiredReplicas,
        restartCount: obs.restartCount,
        cpuMilli: obs.cpuMilli,
        memoryMb: obs.memoryMb,
        missing: obs.missing,
      });
    }

    const sweep: SweepView = {
      id: sweepId,
      trigger: req.trigger,
      startedAt: startedAt.toISOString(),
      finishedAt: startedAt.toISOString(),
      durationMs: 0,
      instanceCount: results.length,
      clusterReachable: fleet.readable,
      metricsAvailable: fleet.metricsAvailable,
      apiCalls: fleet.calls,
      error: fleet.readable ? null : (fleet.error ?? "cluster could not be read"),
    };
    const tJudged = performance.now();
    const toRepair = results.filter((r) => r.missing.length > 0);
    const generations = new Map(rows.map((r) => [r.id, r.generation]));

    const repaired = await this.o.prisma.$transaction(
      async (tx) => {
        if (req.stillOwner && !(await req.stillOwner(tx)))
          throw new SweepAbandonedError("the health sweeper lease was lost; sweep abandoned");
        if (results.length) {
          await this.insertChecks(tx, sweepId, checkedAt, results);
          await this.updateInstances(tx, checkedAt, results, lastRestart);
          await this.recordHealthChanges(tx, checkedAt, results);
        }
        if (!req.instanceIds) await this.resetNotRunning(tx);
        const repairedIds = await requestRepairs(
          tx,
          checkedAt,
          toRepair.map((r) => ({ instanceId: r.instanceId, generation: generations.get(r.instanceId) ?? 0, missing: r.missing })),
        );
        // The sweep row last, so its duration covers reading, judging and (all but the commit of) writing.
        sweep.durationMs = Math.round(performance.now() - started);
        const finishedAt = new Date(startedAt.getTime() + sweep.durationMs);
        sweep.finishedAt = finishedAt.toISOString();
        await tx.$executeRawUnsafe(
          `INSERT INTO "health_sweeps" ("id","trigger","started_at","finished_at","duration_ms","instance_count","cluster_reachable","api_calls","metrics_available","error")
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
          sweep.id,
          sweep.trigger,
          startedAt,
          finishedAt,
          sweep.durationMs,
          sweep.instanceCount,
          sweep.clusterReachable,
          sweep.apiCalls,
          sweep.metricsAvailable,
          sweep.error,
        );
        return repairedIds;
      },
      { maxWait: 15_000, timeout: 60_000 },
    );
    const tWritten = performance.now();
    this.lastPhasesMs = {
      loadInstances: Math.round(tLoaded - started),
      listCluster: Math.round(tRead - tLoaded),
      judge: Math.round(tJudged - tRead),
      write: Math.round(tWritten - tJudged),
    };
    for (const id of repaired) this.o.signal.instanceChanged(id);
    if (repaired.length) this.o.logger.warn({ instances: repaired }, "health sweep found missing objects; reconciler asked to re-apply");
    this.o.logger.debug(
      { sweepId, durationMs: sweep.durationMs, phasesMs: this.lastPhasesMs, instances: results.length, calls: fleet.calls },
      "health sweep",
    );
    return { sweep, results, repaired };
  }

  private async loadInstances(ids?: string[]): Promise<Row[]> {
    const filter = ids ? `AND i."id" = ANY($1::text[])` : "";
    return this.o.prisma.$queryRawUnsafe<Row[]>(
      `SELECT i."id", i."name", i."namespace", i."k8s_name", i."generation", s."template",
              p."cpu_milli" AS "plan_cpu_milli", p."memory_mb" AS "plan_memory_mb",
              i."health_status"::text AS "health_status", i."health_candidate"::text AS "health_candidate",
              i."health_candidate_count", i."last_restart_count", i."health_checked_at"
         FROM "instances" i
         JOIN "plans" p ON p."id" = i."plan_id"
         JOIN "services" s ON s."id" = i."service_id"
        WHERE i."status" = 'RUNNING' ${filter}
        ORDER BY i."id"`,
      ...(ids ? [ids] : []),
    );
  }

  /** The five fleet-wide LISTs, in parallel. Any failure but the metrics API's makes the sweep "unreadable". */
  private async readFleet(): Promise<FleetView> {
    const { kube } = this.o;
    const opts = { pageSize: this.o.pageSize ?? 500 };
    const empty: FleetView = {
      readable: false,
      calls: 0,
      metricsAvailable: null,
      workloads: new Map(),
      services: new Map(),
      pods: new Map(),
      usage: new Map(),
    };
    const metricsP = kube.podMetrics(undefined, INSTANCE_OBJECTS_SELECTOR, opts).catch((err: unknown) => ({
      available: false as const,
      reason: `metrics could not be read: ${(err as Error).message}`,
      failed: true,
    }));
    let deployments: V1Deployment[];
    let statefulSets: V1StatefulSet[];
    let pods: V1Pod[];
    let services: Array<{ metadata?: { name?: string; labels?: Record<string, string> } }>;
    let calls = 0;
    try {
      const [d, s, p, svc] = await Promise.all([
        kube.listAll<V1Deployment>("Deployment", INSTANCE_OBJECTS_SELECTOR, opts),
        kube.listAll<V1StatefulSet>("StatefulSet", INSTANCE_OBJECTS_SELECTOR, opts),
        kube.listAll<V1Pod>("Pod", INSTANCE_OBJECTS_SELECTOR, opts),
        kube.listAll<{ metadata?: { name?: string; labels?: Record<string, string> } }>("Service", INSTANCE_OBJECTS_SELECTOR, opts),
      ]);
      deployments = d.items;
      statefulSets = s.items;
      pods = p.items;
      services = svc.items;
      calls = d.calls + s.calls + p.calls + svc.calls;
    } catch (err) {
      await metricsP;
      this.o.logger.warn({ err: (err as Error).message }, "health sweep: the cluster could not be read");
      return { ...empty, error: (err as Error).message };
    }
    const metrics = await metricsP;
    if (metrics.available) calls += metrics.calls;

    const workloads: FleetView["workloads"] = new Map();
    const addWorkload = (kind: "Deployment" | "StatefulSet", w: V1Deployment | V1StatefulSet) => {
      const id = w.metadata?.labels?.[LABELS.instanceId];
      if (!id || w.metadata?.deletionTimestamp) return;
      workloads.set(id, { kind, name: w.metadata?.name ?? "", desiredReplicas: w.spec?.replicas ?? 1 });
    };
    for (const d of deployments) addWorkload("Deployment", d);
    for (const s of statefulSets) addWorkload("StatefulSet", s);

    const serviceNames: FleetView["services"] = new Map();
    for (const s of services) {
      const id = s.metadata?.labels?.[LABELS.instanceId];
      if (!id) continue;
      const set = serviceNames.get(id) ?? new Set<string>();
      set.add(s.metadata?.name ?? "");
      serviceNames.set(id, set);
    }

    // Usage per instance: a pod's metrics belong to the instance its pod (or the metrics' labels) names.
    const usage: FleetView["usage"] = new Map();
    if (metrics.available) {
      const podOwner = new Map<string, string>();
      for (const p of pods) {
        const id = p.metadata?.labels?.[LABELS.instanceId];
        if (id) podOwner.set(`${p.metadata?.namespace}/${p.metadata?.name}`, id);
      }
      for (const m of metrics.pods as PodUsage[]) {
        const id = podOwner.get(`${m.namespace}/${m.name}`) ?? m.labels[LABELS.instanceId];
        if (!id) continue;
        const u = usage.get(id) ?? { cpuMilli: 0, memoryMb: 0 };
        u.cpuMilli += m.cpuMilli;
        u.memoryMb += m.memoryMb;
        usage.set(id, u);
      }
    }
    return {
      readable: true,
      calls,
      metricsAvailable: metrics.available,
      workloads,
      services: serviceNames,
      pods: summarizePodsBy(pods, LABELS.instanceId),
      usage,
    };
  }

  private judge(row: Row, fleet: FleetView): Observation {
    const kind = workloadKind(row.template as ServiceTemplate);
    const n = names(row.k8s_name);
    const svc = fleet.services.get(row.id);
    return observe({
      clusterReadable: fleet.readable,
      clusterError: fleet.error,
      plan: { cpuMilli: row.plan_cpu_milli, memoryMb: row.plan_memory_mb },
      expectedWorkload: { kind, name: n.workload },
      workload: fleet.workloads.get(row.id),
      missingObjects: fleet.readable && !svc?.has(n.service) ? [`Service/${n.service}`] : [],
      pods: fleet.pods.get(row.id),
      usage: fleet.usage.get(row.id),
      previousRestartCount: row.health_checked_at ? row.last_restart_count : undefined,
    });
  }

  /** One INSERT for every record of the sweep. */
  private async insertChecks(tx: Tx, sweepId: string, checkedAt: Date, results: InstanceHealthResult[]): Promise<void> {
    await tx.$executeRawUnsafe(
      `INSERT INTO "health_checks" ("instance_id","sweep_id","status","pod_phase","ready_replicas","desired_replicas","restart_count","cpu_milli","memory_mb","reason","checked_at")
       SELECT v.id, $1, v.status::"HealthStatus", v.phase, v.ready, v.desired, v.restarts, v.cpu, v.mem, v.reason, $2
         FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[], $11::text[])
              AS v(id, status, phase, ready, desired, restarts, cpu, mem, reason)`,
      sweepId,
      checkedAt,
      results.map((r) => r.instanceId),
      results.map((r) => r.observed),
      results.map((r) => r.podPhase),
      results.map((r) => r.readyReplicas),
      results.map((r) => r.desiredReplicas),
      results.map((r) => r.restartCount),
      results.map((r) => r.cpuMilli),
      results.map((r) => r.memoryMb),
      results.map((r) => r.reason),
    );
  }

  /** One UPDATE for every instance's current health (only while it is still RUNNING). */
  private async updateInstances(tx: Tx, checkedAt: Date, results: InstanceHealthResult[], lastRestart: number[]): Promise<void> {
    await tx.$executeRawUnsafe(
      `UPDATE "instances" i
          SET "health_status" = v.status::"HealthStatus",
              "health_reason" = v.reason,
              "health_candidate" = v.candidate::"HealthStatus",
              "health_candidate_count" = v.cnt,
              "last_restart_count" = v.restarts,
              "health_checked_at" = $1
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[])
              AS v(id, status, reason, candidate, cnt, restarts)
        WHERE i."id" = v.id AND i."status" = 'RUNNING'`,
      checkedAt,
      results.map((r) => r.instanceId),
      results.map((r) => r.healthStatus),
      results.map((r) => r.reason),
      results.map((r) => r.candidate),
      results.map((r) => r.candidateCount),
      lastRestart,
    );
  }

  /**
   * One instance event per judged change of health (after hysteresis), so the instance's timeline shows
   * when it became UNHEALTHY and when it recovered. One INSERT for the whole sweep; the first judgement
   * of a new instance (UNKNOWN -> HEALTHY) is not news and is left out.
   */
  private async recordHealthChanges(tx: Tx, at: Date, results: InstanceHealthResult[]): Promise<void> {
    const changed = results.filter(
      (r) => r.healthStatus !== r.previousHealthStatus && !(r.previousHealthStatus === "UNKNOWN" && r.healthStatus === "HEALTHY"),
    );
    if (!changed.length) return;
    await tx.$executeRawUnsafe(
      `INSERT INTO "instance_events" ("id","instance_id","type","level","message","data","created_at")
       SELECT v.eid, v.id, 'HEALTH_CHANGED', v.level, v.message, v.data::jsonb, $1
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS v(eid, id, level, message, data)
         JOIN "instances" i ON i."id" = v.id AND i."status" = 'RUNNING'`,
      at,
      changed.map(() => randomUUID()),
      changed.map((r) => r.instanceId),
      changed.map((r) => (r.healthStatus === "UNHEALTHY" || r.healthStatus === "DEGRADED" ? "WARN" : "INFO")),
      changed.map((r) => `Health ${r.previousHealthStatus} -> ${r.healthStatus}: ${r.reason}`),
      changed.map((r) => JSON.stringify({ from: r.previousHealthStatus, to: r.healthStatus, reason: r.reason })),
    );
  }

  /**
   * Instances that are not meant to be running (SUSPENDED, FAILED, TERMINATING, TERMINATED) have no
   * health: UNKNOWN, with the reason, and no pending change. PENDING/PROVISIONING have never been
   * judged; UPDATING/RESTARTING keep their last health until they are RUNNING again.
   */
  private async resetNotRunning(tx: Tx): Promise<void> {
    await tx.$executeRawUnsafe(
      `UPDATE "instances"
          SET "health_status" = 'UNKNOWN', "health_candidate" = NULL, "health_candidate_count" = 0,
              "health_reason" = 'not judged: instance is ' || "status"::text
        WHERE "status" IN ('SUSPENDED','FAILED','TERMINATING','TERMINATED')
          AND ("health_status" <> 'UNKNOWN' OR "health_candidate" IS NOT NULL)`,
    );
  }
}

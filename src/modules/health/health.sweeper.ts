/**
 * One health sweep over the fleet (or a subset of it):
 *
 *   1. read the instances that should be running (status RUNNING) with their plan limits,
 *      hysteresis state and the fields the reconciler last applied — one query — and, at the same
 *      time,
 *   2. observe the whole fleet (kube-fleet-reader.ts): Deployments, StatefulSets, Pods and
 *      PodMetrics in full, and every other owned kind as metadata only — each kind from its
 *      informer's cache when that is synced, else with one label-selected, paginated LIST across
 *      all namespaces: at most thirteen LISTs (plus pages) whatever the fleet size, with synced
 *      informers one (PodMetrics), never a call per instance;
 *   3. judge each instance with the pure rules (health.rules.ts), and compare every object it
 *      (and its tenant) owns with what was applied (drift, src/kube/ownership.ts);
 *   4. write the whole result in ONE transaction: the sweep row, one health record per instance and
 *      every instance's current health (one statement from json_to_recordset(...): an INSERT in a
 *      CTE, then the UPDATE), and the repair of instances whose objects are missing.
 *
 * A sweep that is abandoned (the process stops, the lease is lost, the database fails) before step 4
 * commits writes nothing: there is never half a sweep in the database.
 *
 * Missing or drifted objects: the instance's generation is bumped (with next_attempt_at = now) in
 * the same transaction, an instance event naming them is recorded, and after commit the reconciler is signalled. The
 * reconciler re-applies every object whenever generation > applied_generation; bumping the
 * generation (instead of lowering applied/observed_generation) is what makes this safe against a
 * reconcile pass in flight: its final update is guarded by the generation it read, so it cannot mark
 * the instance converged over the repair request.
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../../platform/clock.js";
import type { SqlTarget, SqlTransaction } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";
import type { SweepMetrics } from "../../platform/metrics.js";
import { inSqlTransaction } from "../../platform/transaction.js";
import type { InstanceSignal } from "../../platform/signals.js";
import type { InstanceManifests } from "../instances/instance-manifests.js";
import { recordVolumesLost, requestRepairs, VOLUME_LOST } from "../instances/instance-state.js";
import { objectKey } from "../../kube/ownership.js";
import type { FleetObservation, FleetReader } from "./fleet-reader.js";
import type { HealthRecord, HealthRepository, SweptInstanceRow } from "./health.repository.js";
import { nextHealth, type Observation, observe } from "./health.rules.js";
import type { InstanceHealthResult, SweepView } from "./health.schema.js";

export type SweepTrigger = "scheduled" | "manual";

export interface SweepRequest {
  trigger: SweepTrigger;
  /** Only these instances (the LISTs stay fleet-wide and are filtered in memory). */
  instanceIds?: string[];
  /**
   * Called inside the write transaction before anything is written; returning false abandons the
   * sweep without writing (e.g. the sweeper lease was lost meanwhile).
   */
  stillOwner?: (tx: SqlTarget) => Promise<boolean>;
}

export type { InstanceHealthResult, SweepView };

export interface SweepResult {
  sweep: SweepView;
  results: InstanceHealthResult[];
  /** Instances sent to the reconciler because objects were missing. */
  repaired: string[];
}

/** The sweep was abandoned before writing (lease lost): nothing was written. */
export class SweepAbandonedError extends Error {}

export interface HealthSweeperOptions {
  /** Where the sweep writes: one transaction on the driver (`Database.transaction`, see `inSqlTransaction`). */
  db: { transaction: SqlTransaction };
  /** The fleet as the cluster shows it (KubeFleetReader). */
  fleet: FleetReader;
  /** Object names and workload kinds, as the reconciler renders them. */
  manifests: InstanceManifests;
  /** The sweep's reads and writes (HealthRepository). */
  repository: HealthRepository;
  clock: Clock;
  logger: Logger;
  /** Told about instances whose objects are missing (the reconciler). */
  signal: InstanceSignal;
  /** Consecutive observations a status change needs (HEALTH_CONSECUTIVE_OBSERVATIONS). */
  consecutiveObservations: number;
  /** Prometheus: one observation per sweep (ok = the cluster was read and the result committed). */
  metrics?: SweepMetrics;
}

export class HealthSweeper {
  /** Where the last sweep's time went (for the benchmark and debug logs); loadInstances and listCluster run at the same time, each counted from the start. */
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
    // The instances' rows and the fleet's observation live only in readAndJudge: they are garbage
    // before the write starts, not held (with 10,000 instances, tens of MB) until the sweep ends.
    const { checkedAt, results, records, volumeLost, toRepair, driftedTenants, fleet, tLoaded, tRead } = await this.readAndJudge(req);
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
    const tFetched = Math.max(tLoaded, tRead);
    const repaired = await inSqlTransaction(
      this.o.db,
      async (tx) => {
        if (req.stillOwner && !(await req.stillOwner(tx)))
          throw new SweepAbandonedError("the health sweeper lease was lost; sweep abandoned");
        const { repository } = this.o;
        if (records.length) await repository.writeRecords(tx, sweepId, checkedAt, records);
        if (!req.instanceIds) await repository.resetNotRunning(tx);
        const repairedIds = await requestRepairs(tx, checkedAt, toRepair);
        await repository.forgetTenantBaselines(tx, driftedTenants);
        await recordVolumesLost(tx, checkedAt, volumeLost);
        // The sweep row last, so its duration covers reading, judging and (all but the commit of) writing.
        sweep.durationMs = Math.round(performance.now() - started);
        const finishedAt = new Date(startedAt.getTime() + sweep.durationMs);
        sweep.finishedAt = finishedAt.toISOString();
        await repository.insertSweep(tx, { ...sweep, startedAt, finishedAt });
        return repairedIds;
      },
      { timeoutMs: 60_000 },
    );
    const tWritten = performance.now();
    this.lastPhasesMs = {
      loadInstances: Math.round(tLoaded - started),
      listCluster: Math.round(tRead - started),
      judge: Math.round(tJudged - tFetched),
      write: Math.round(tWritten - tJudged),
    };
    for (const id of repaired) this.o.signal.instanceChanged(id);
    if (repaired.length)
      this.o.logger.warn({ instances: repaired }, "health sweep found missing or drifted objects; reconciler asked to re-apply");
    if (volumeLost.length)
      this.o.logger.error({ instances: volumeLost.map((v) => v.instanceId) }, "health sweep: data volumes were deleted");
    this.o.logger.debug(
      {
        sweepId,
        durationMs: sweep.durationMs,
        phasesMs: this.lastPhasesMs,
        instances: results.length,
        calls: fleet.calls,
        cached: fleet.sources.cached,
        listed: fleet.sources.listed,
      },
      "health sweep",
    );
    return { sweep, results, repaired };
  }

  /** Reads the instances and the fleet (at the same time) and judges every instance: what the write needs, and nothing else. */
  private async readAndJudge(req: SweepRequest) {
    // The database and the cluster are read at the same time (neither depends on the other).
    let tLoaded = 0;
    let tRead = 0;
    const [rows, fleet] = await Promise.all([
      this.o.repository.runningInstances(req.instanceIds).then((r) => {
        tLoaded = performance.now();
        return r;
      }),
      this.o.fleet.read().then((f) => {
        tRead = performance.now();
        return f;
      }),
    ]);
    const checkedAt = this.o.clock.now();

    const results: InstanceHealthResult[] = [];
    const records: HealthRecord[] = [];
    const volumeLost: Array<{ instanceId: string; object: string; reason: string }> = [];
    const tenantDrift = new Map<string, string[]>();
    const tenantFields = new Map<string, Record<string, string>>();
    for (const row of rows) if (row.tenant_applied_fields) tenantFields.set(row.user_id, row.tenant_applied_fields);
    for (const row of rows) {
      const found = this.judge(row, fleet, tenantDrift, tenantFields);
      const obs = found.observation;
      let state = nextHealth(
        { status: row.health_status, candidate: row.health_candidate, candidateCount: row.health_candidate_count },
        obs.status,
        this.o.consecutiveObservations,
      );
      // Data loss is not a blip to confirm twice: UNHEALTHY at once.
      if (found.volumeLost) {
        state = { status: "UNHEALTHY", candidate: null, candidateCount: 0 };
        if (row.health_reason !== obs.reason) volumeLost.push({ instanceId: row.id, object: found.volumeLost, reason: obs.reason });
      }
      const result: InstanceHealthResult = {
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
        drifted: found.drifted,
        volumeLost: Boolean(found.volumeLost),
      };
      results.push(result);
      // An unreadable sweep keeps the previous restart baseline.
      records.push({ judgement: result, lastRestartCount: obs.status === "UNKNOWN" ? row.last_restart_count : obs.restartCount });
    }

    const generations = new Map(rows.map((r) => [r.id, r.generation]));
    // An instance whose volume is gone is never re-applied: that would create an empty volume under it.
    const toRepair = results
      .filter((r) => !r.volumeLost && (r.missing.length > 0 || r.drifted.length > 0))
      .map((r) => ({ instanceId: r.instanceId, generation: generations.get(r.instanceId) ?? 0, missing: r.missing, drifted: r.drifted }));
    // Users whose baseline drifted: its objects are applied again with their instances' repair.
    const driftedTenants = [...new Set(rows.filter((r) => (tenantDrift.get(r.namespace)?.length ?? 0) > 0).map((r) => r.user_id))];
    const { readable, error, calls, metricsAvailable, sources } = fleet;
    return {
      checkedAt,
      results,
      records,
      volumeLost,
      toRepair,
      driftedTenants,
      fleet: { readable, error, calls, metricsAvailable, sources },
      tLoaded,
      tRead,
    };
  }

  /**
   * One instance against the fleet: health (the rules), and drift of every object it owns and of
   * its tenant baseline. The objects expected are those the reconciler last applied (their field
   * hashes, `applied_fields`); an instance applied before those were recorded is checked for its
   * workload, Service and volume only. `tenantDrift` caches each tenant's drift for the sweep.
   */
  private judge(
    row: SweptInstanceRow,
    fleet: FleetObservation,
    tenantDrift: Map<string, string[]>,
    tenantFields: Map<string, Record<string, string>>,
  ): { observation: Observation; drifted: string[]; volumeLost?: string } {
    const kind = this.o.manifests.workloadKind({ service: { template: row.template, slug: row.service_slug } });
    const n = this.o.manifests.names({ k8sName: row.k8s_name });
    const workloadKey = objectKey(kind, n.workload);
    const pvcKey = objectKey("PersistentVolumeClaim", n.pvc);
    const applied = row.applied_fields;
    const expected = applied ? Object.keys(applied) : [objectKey("Service", n.service), ...(row.plan_storage_gb > 0 ? [pvcKey] : [])];

    const missing: string[] = [];
    const drifted: string[] = [];
    let volumeLost: string | undefined;
    if (fleet.readable) {
      for (const key of expected) {
        if (key === workloadKey && !applied) continue;
        const obj = fleet.owned(row.namespace, key, row.id);
        const stamp = applied?.[key] ?? "";
        // An observation older than our last apply of the object (a cache lagging behind the
        // reconciler) judges nothing: the next sweep will.
        if (!obj && applied && fleet.absent(key, stamp) === "behind") continue;
        if (key === pvcKey && (!obj || obj.terminating)) {
          volumeLost = key;
          continue;
        }
        if (!obj) {
          if (key !== workloadKey) missing.push(key);
          continue;
        }
        if (applied && obj.verdict(stamp) === "changed") drifted.push(`${key}: ${changedText(obj.writers())}`);
      }
      drifted.push(...this.tenantDrift(row, fleet, tenantDrift, tenantFields.get(row.user_id) ?? null));
    }
    // The workload absent from an observation older than our last apply of it (a cache lagging behind
    // a repair that re-created it): not judged this sweep — the rules would call it missing and the
    // repair would be requested again.
    const workloadStamp = applied?.[workloadKey];
    const workloadBehind =
      fleet.readable &&
      workloadStamp !== undefined &&
      !fleet.workloads.get(row.id) &&
      fleet.absent(workloadKey, workloadStamp) === "behind";
    const observation = observe({
      clusterReadable: fleet.readable && !workloadBehind,
      clusterError: fleet.error,
      plan: { cpuMilli: row.plan_cpu_milli, memoryMb: row.plan_memory_mb },
      expectedWorkload: { kind, name: n.workload },
      workload: fleet.workloads.get(row.id),
      missingObjects: missing,
      pods: fleet.pods.get(row.id),
      usage: fleet.usage.get(row.id),
      previousRestartCount: row.health_checked_at ? row.last_restart_count : undefined,
    });
    if (workloadBehind) observation.reason = `not judged: the cluster cache has not yet seen the last apply of ${workloadKey}`;
    if (volumeLost) {
      observation.status = "UNHEALTHY";
      observation.reason = `${VOLUME_LOST}: ${volumeLost} is gone; it is not recreated empty (delete the instance, or restore its data elsewhere)`;
    }
    return { observation, drifted, volumeLost };
  }

  /** Drift of the tenant baseline of the instance's namespace (once per namespace per sweep). */
  private tenantDrift(
    row: SweptInstanceRow,
    fleet: FleetObservation,
    cache: Map<string, string[]>,
    applied: Record<string, string> | null,
  ): string[] {
    if (!applied) return [];
    const cached = cache.get(row.namespace);
    if (cached) return cached;
    const out: string[] = [];
    for (const [key, hash] of Object.entries(applied)) {
      if (key.startsWith("Namespace/")) continue; // cluster-scoped: not listed (its labels are fenced by admission)
      const obj = fleet.tenant(row.namespace, key);
      if (!obj) {
        if (fleet.absent(key, hash) === "missing") out.push(`${key}: missing`);
      } else if (obj.verdict(hash) === "changed") out.push(`${key}: ${changedText(obj.writers())}`);
    }
    cache.set(row.namespace, out);
    return out;
  }
}

function changedText(writers: string[]): string {
  return `fields we applied were changed or removed${writers.length ? ` (written by ${writers.join(", ")})` : ""}`;
}

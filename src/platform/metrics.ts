/**
 * Prometheus metrics (`GET /metrics`). One `Metrics` per container, on its own registry (never
 * prom-client's global one), so several apps in one process (tests, replicas) do not collide.
 *
 * Producers get narrow hooks rather than prom-client itself:
 *  - HTTP: `httpMetricsMiddleware` (route label = the matched route pattern, never raw ids);
 *  - reconciler: `ReconcilerMetrics` (`provisioned`, `reconcileError`);
 *  - health sweep: `observeSweep(durationMs, ok)` — call it once per sweep;
 *  - backup loop: `BackupMetrics` (`backupsFinished`);
 *  - cluster client: `kubeCall` is KubeClient's `onCall`;
 *  - the database's hot path: `readCounts`, read at scrape time.
 * Instance gauges are read from the database at scrape time with one small query (the counts the
 * database keeps per change), and the overdue-backup gauge is the count the backup loop stored (so
 * every replica reports the same, whichever runs the loop).
 */
import { HealthStatus, InstanceStatus } from "../generated/prisma/enums.js";
import type { RequestHandler } from "express";
import type { ReadCounts } from "./db/pipelined-reads.js";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface InstanceCount {
  status: string;
  health: string;
  count: number;
}

/** What the reconciler reports (implemented by `Metrics`; a no-op by default). */
export interface ReconcilerMetrics {
  /** An instance reached RUNNING for the first time, `durationMs` after provisioning started. */
  provisioned(durationMs: number, service: string): void;
  /** A reconcile pass failed: `transient` errors are retried, `permanent` ones fail the instance. */
  reconcileError(kind: "transient" | "permanent"): void;
}

/** What the health sweep reports. */
export interface SweepMetrics {
  observeSweep(durationMs: number, ok: boolean): void;
}

/** What the backup loop reports. */
export interface BackupMetrics {
  /** Backups that ended in a pass: READY, or FAILED (each FAILED one is also an ERROR instance event). */
  backupsFinished(ready: number, failed: number): void;
}

/** Every status and health value, from the Prisma schema's enums, so each series exists from the start. */
export const INSTANCE_STATUS_VALUES = Object.values(InstanceStatus);
export const HEALTH_STATUS_VALUES = Object.values(HealthStatus);

export interface MetricsOptions {
  /** Instance counts by (status, health); called at scrape time. */
  countInstances?: () => Promise<InstanceCount[]>;
  /** Instances with no good backup in 48 h although their plan schedules backups (the stored count); called at scrape time. */
  countBackupsOverdue?: () => Promise<number>;
  /**
   * Statements sent through `Database.read` and the writes to PostgreSQL that carried them; read at
   * scrape time (undefined: not counted, as on PGlite).
   */
  readCounts?: () => ReadCounts | undefined;
  /** Node.js process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
}

export class Metrics implements ReconcilerMetrics, SweepMetrics, BackupMetrics {
  readonly registry = new Registry();
  readonly httpRequestDuration: Histogram<"method" | "route" | "status">;
  readonly provisioningDuration: Histogram<"service">;
  readonly reconcilerErrors: Counter<"kind">;
  readonly healthSweepDuration: Histogram<"result">;
  readonly kubeApiCalls: Counter<"verb" | "resource" | "result">;
  readonly backups: Counter<"result">;
  private pendingCounts: Promise<InstanceCount[]> | undefined;

  constructor(private readonly opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.httpRequestDuration = new Histogram({
      name: "minispod_http_request_duration_seconds",
      help: "HTTP request duration by method, route pattern and status code",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.provisioningDuration = new Histogram({
      name: "minispod_provisioning_duration_seconds",
      help: "Time from the start of provisioning to an instance's first RUNNING, by service",
      labelNames: ["service"],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    this.reconcilerErrors = new Counter({
      name: "minispod_reconciler_errors_total",
      help: "Reconcile passes that failed: transient (retried) or permanent (instance FAILED)",
      labelNames: ["kind"],
      registers,
    });
    this.healthSweepDuration = new Histogram({
      name: "minispod_health_sweep_duration_seconds",
      help: "Duration of fleet health sweeps by result (ok, error)",
      labelNames: ["result"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.kubeApiCalls = new Counter({
      name: "minispod_kube_api_calls_total",
      help: "Kubernetes API calls (every HTTP attempt, retries included) by verb, resource kind and result",
      labelNames: ["verb", "resource", "result"],
      registers,
    });
    this.backups = new Counter({
      name: "minispod_backups_total",
      help: "Instance backups (volume snapshots) that ended, by result: ready or failed (alert on failed)",
      labelNames: ["result"],
      registers,
    });
    // Both series exist from the start, so `increase(minispod_backups_total{result="failed"}[1d]) > 0` works at once.
    this.backups.inc({ result: "ready" }, 0);
    this.backups.inc({ result: "failed" }, 0);
    const countOverdue = opts.countBackupsOverdue;
    new Gauge({
      name: "minispod_backups_overdue",
      help: "Instances whose plan schedules daily backups but that have no READY backup from the last 48 h (alert when > 0)",
      registers,
      async collect() {
        this.set(countOverdue ? await countOverdue() : 0);
      },
    });
    const counts = () => this.instanceCounts();
    new Gauge({
      name: "minispod_instances_by_status",
      help: "Instances by lifecycle status (read from the database at scrape time)",
      labelNames: ["status"],
      registers,
      async collect() {
        const rows = await counts();
        this.reset();
        for (const s of INSTANCE_STATUS_VALUES) this.set({ status: s }, 0);
        for (const r of rows) this.inc({ status: r.status }, r.count);
      },
    });
    new Gauge({
      name: "minispod_instances_by_health",
      help: "Instances not TERMINATED by last observed health (read from the database at scrape time)",
      labelNames: ["health"],
      registers,
      async collect() {
        const rows = await counts();
        this.reset();
        for (const h of HEALTH_STATUS_VALUES) this.set({ health: h }, 0);
        for (const r of rows) if (r.status !== "TERMINATED") this.inc({ health: r.health }, r.count);
      },
    });
    const readCounts = opts.readCounts;
    if (readCounts) {
      // Counted by the database layer as plain numbers (no work per read here), copied at scrape time.
      new Counter({
        name: "minispod_db_reads_total",
        help: "Statements sent through the driver's hot path (Database.read: the read endpoints' queries, the reconciler's single statements)",
        registers,
        collect() {
          this.reset();
          this.inc(readCounts()?.reads ?? 0);
        },
      });
      new Counter({
        name: "minispod_db_read_writes_total",
        help: "Writes to PostgreSQL that carried those statements: reads that waited for a connection go together, so reads per write shows the batching",
        registers,
        collect() {
          this.reset();
          this.inc(readCounts()?.writes ?? 0);
        },
      });
    }
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: "minispod_" });
  }

  /** One query per scrape, shared by both instance gauges (prom-client collects them concurrently). */
  private instanceCounts(): Promise<InstanceCount[]> {
    if (!this.opts.countInstances) return Promise.resolve([]);
    this.pendingCounts ??= this.opts.countInstances().finally(() => {
      this.pendingCounts = undefined;
    });
    return this.pendingCounts;
  }

  backupsFinished(ready: number, failed: number): void {
    if (ready) this.backups.inc({ result: "ready" }, ready);
    if (failed) this.backups.inc({ result: "failed" }, failed);
  }

  provisioned(durationMs: number, service: string): void {
    this.provisioningDuration.observe({ service }, durationMs / 1000);
  }

  reconcileError(kind: "transient" | "permanent"): void {
    this.reconcilerErrors.inc({ kind });
  }

  /** For the health sweep: call once per sweep with its duration and whether it completed. */
  observeSweep(durationMs: number, ok: boolean): void {
    this.healthSweepDuration.observe({ result: ok ? "ok" : "error" }, durationMs / 1000);
  }

  /** KubeClient's `onCall` hook. */
  readonly kubeCall = (verb: string, resource: string, result: { ok: boolean }): void => {
    this.kubeApiCalls.inc({ verb, resource, result: result.ok ? "ok" : "error" });
  };

  contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * Observes every response's duration under its route pattern. `routeOf` maps a request to the
 * pattern of the route serving it (undefined for paths no route serves: labelled "unmatched").
 */
export function httpMetricsMiddleware(metrics: Metrics, routeOf: (method: string, path: string) => string | undefined): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // Read now: routers rewrite req.url while the request travels through them.
    const path = req.path;
    res.once("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(req.method, path) ?? "unmatched";
      metrics.httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
    });
    next();
  };
}

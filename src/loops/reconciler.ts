/**
 * The reconciler: level-triggered convergence of each instance's desired state (its database row)
 * into the cluster. Four parts, each in its own file under `reconciler/`:
 *
 *   - the work queue (`work-queue.ts`): claims with leases, due times, the loop and its signals;
 *   - the tenant sync (`tenant-sync.ts`): users' namespace baselines follow their quotas;
 *   - the lifecycle (`lifecycle.ts`): one pass over one instance, PENDING to RUNNING to TERMINATED,
 *     with the refunds of failed provisioning going through the billing service; it renders each
 *     instance's Secret from the credentials stored in the database;
 *   - the credentials adoption (`credentials-adoption.ts`): instances provisioned before credentials
 *     were stored adopt their live Secret's values once.
 *
 * API actions kick the loop at once (it is their `InstanceSignal`); a periodic resync finds anything
 * missed, and tenant baselines (and unadopted credentials) are re-checked once per resync interval.
 */
import { randomBytes } from "node:crypto";
import { CatalogCache } from "../modules/catalog/catalog-cache.js";
import type { InstanceCluster } from "../modules/instances/instance-cluster.js";
import type { InstanceCredentialsStore } from "../modules/instances/instance-credentials.js";
import type { InstanceManifests } from "../modules/instances/instance-manifests.js";
import type { QuotaService } from "../modules/quotas/quotas.service.js";
import type { Clock } from "../platform/clock.js";
import { type PrismaClient, prismaRead, type SqlRead } from "../platform/db/index.js";
import type { Logger } from "../platform/logger.js";
import type { ReconcilerMetrics } from "../platform/metrics.js";
import type { InstanceSignal } from "../platform/signals.js";
import { CredentialsAdoption } from "./reconciler/credentials-adoption.js";
import { InstanceLifecycle, type LifecycleOptions } from "./reconciler/lifecycle.js";
import { TenantSync } from "./reconciler/tenant-sync.js";
import { TenantTeardown } from "./reconciler/tenant-teardown.js";
import { InstanceWorkQueue, type ReconcileOutcome } from "./reconciler/work-queue.js";

export { PermanentReconcileError } from "./reconciler/lifecycle.js";
export type { ReconcileOutcome } from "./reconciler/work-queue.js";

export interface ReconcilerOptions {
  prisma: PrismaClient;
  /** Plans and services from memory (the container's); absent: read from the database on every pass. */
  catalog?: CatalogCache;
  /** Raw statements outside transactions straight on the driver (`Database.read`); absent: through Prisma. */
  read?: SqlRead;
  cluster: InstanceCluster;
  manifests: InstanceManifests;
  /** Instance credentials kept in the database (Secrets are rendered from them). */
  credentials: InstanceCredentialsStore;
  /** Refunds and subscription endings of failed and terminated instances. */
  billing: LifecycleOptions["billing"];
  quotas: QuotaService;
  clock: Clock;
  logger: Logger;
  /** Identifies this process in lease rows. */
  owner?: string;
  /** Provisioning durations and error counts (Prometheus); a no-op when absent. */
  metrics?: ReconcilerMetrics;
  /** Instances worked on at once by this process (RECONCILE_CONCURRENCY). */
  concurrency: number;
  /** How long a claim lasts before another reconciler may take the instance over (RECONCILE_LEASE). */
  leaseMs: number;
  /** Periodic resync: the longest a missed signal can delay work (RECONCILE_RESYNC_INTERVAL). */
  resyncIntervalMs: number;
  /** A rollout not done within this is a permanent failure (ROLLOUT_TIMEOUT). */
  rolloutTimeoutMs: number;
  /** Pods stuck in ImagePullBackOff / CrashLoopBackOff this long fail the transition (STUCK_POD_GRACE). */
  stuckPodGraceMs: number;
  /** While waiting for a rollout: how long one pass polls in-process before yielding the claim. */
  rolloutPollBudgetMs?: number;
  /** How often a waiting rollout is looked at again. */
  rolloutRecheckMs?: number;
  /** Backoff bounds for transient errors. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A terminated instance's newest READY backup is kept this long (BACKUP_RETENTION_AFTER_DELETE; default 0: none). */
  backupRetentionAfterDeleteMs?: number;
}

const NO_METRICS: ReconcilerMetrics = { provisioned: () => {}, reconcileError: () => {} };

export class Reconciler implements InstanceSignal {
  readonly owner: string;
  private readonly queue: InstanceWorkQueue;
  private readonly tenants: TenantSync;
  private readonly adoption: CredentialsAdoption;

  constructor(opts: ReconcilerOptions) {
    this.owner = opts.owner ?? `reconciler-${randomBytes(6).toString("hex")}`;
    const retryBaseMs = opts.retryBaseMs ?? 1_000;
    const read = opts.read ?? prismaRead(opts.prisma);
    this.tenants = new TenantSync({
      prisma: opts.prisma,
      read,
      cluster: opts.cluster,
      manifests: opts.manifests,
      quotas: opts.quotas,
      logger: opts.logger,
      intervalMs: opts.resyncIntervalMs,
    });
    this.adoption = new CredentialsAdoption({
      prisma: opts.prisma,
      cluster: opts.cluster,
      credentials: opts.credentials,
      logger: opts.logger,
      intervalMs: opts.resyncIntervalMs,
    });
    const lifecycle = new InstanceLifecycle({
      prisma: opts.prisma,
      catalog: opts.catalog ?? new CatalogCache({ prisma: opts.prisma, ttlMs: 0 }),
      read,
      cluster: opts.cluster,
      manifests: opts.manifests,
      credentials: opts.credentials,
      tenants: this.tenants,
      teardown: new TenantTeardown({ prisma: opts.prisma, cluster: opts.cluster }),
      backupRetentionAfterDeleteMs: opts.backupRetentionAfterDeleteMs ?? 0,
      billing: opts.billing,
      clock: opts.clock,
      logger: opts.logger,
      metrics: opts.metrics ?? NO_METRICS,
      owner: this.owner,
      rolloutTimeoutMs: opts.rolloutTimeoutMs,
      stuckPodGraceMs: opts.stuckPodGraceMs,
      rolloutPollBudgetMs: opts.rolloutPollBudgetMs ?? 2_000,
      rolloutRecheckMs: opts.rolloutRecheckMs ?? 1_000,
      retryBaseMs,
      retryMaxMs: opts.retryMaxMs ?? 60_000,
    });
    this.queue = new InstanceWorkQueue({
      read,
      clock: opts.clock,
      logger: opts.logger,
      owner: this.owner,
      leaseMs: opts.leaseMs,
      concurrency: opts.concurrency,
      resyncIntervalMs: opts.resyncIntervalMs,
      retryMs: retryBaseMs,
      work: (id, row) => lifecycle.run(id, row),
      afterPass: async () => {
        await this.tenants.maybeSyncAll();
        await this.adoption.maybeAdoptAll();
      },
    });
  }

  start(): void {
    this.queue.start();
  }

  /** Stops claiming new work and waits for in-flight work to finish (graceful shutdown). */
  stop(): Promise<void> {
    return this.queue.stop();
  }

  /** InstanceSignal: an instance's desired state changed; look at it now. */
  instanceChanged(_instanceId: string): void {
    this.queue.kick();
  }

  kick(): void {
    this.queue.kick();
  }

  /** Runs passes until no instance has due work (tests, benchmarks). */
  runUntilIdle(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.queue.runUntilIdle(opts);
  }

  /** Claims and reconciles one instance now (tests). Returns undefined when it was not claimable. */
  reconcileNow(id: string): Promise<ReconcileOutcome | undefined> {
    return this.queue.processNow(id);
  }

  /** Stores the live Secret's credentials of every instance that has none stored yet; returns the ids adopted. */
  adoptCredentials(): Promise<string[]> {
    return this.adoption.adoptAll();
  }

  /** Re-applies every changed tenant baseline now; returns the users whose baseline was applied. */
  syncTenants(): Promise<string[]> {
    return this.tenants.syncAll();
  }
}

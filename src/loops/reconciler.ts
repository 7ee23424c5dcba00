/**
 * The reconciler: level-triggered convergence of each instance's desired state (its database row)
 * into the cluster.
 *
 *   PENDING -> PROVISIONING -> RUNNING            (tenant baseline, objects, rollout)
 *   RUNNING -> UPDATING | RESTARTING -> RUNNING   (a new generation: plan change, restart, resume)
 *   RUNNING -> SUSPENDED                          (billing: desired SUSPENDED scales to 0)
 *   any -> TERMINATING -> TERMINATED              (desired TERMINATED: objects deleted)
 *   any -> FAILED                                 (a permanent error; never-ran instances are rolled back and refunded)
 *
 * Work on one instance is claimed with a lease row update under `FOR UPDATE SKIP LOCKED`, so several
 * reconcilers (replicas) on one database never work on the same instance at once; a crashed holder's
 * lease simply expires. API actions kick the loop at once; a periodic resync finds anything missed.
 * Every step is safe to repeat: manifests go through server-side apply, deletes tolerate 404, and
 * the refund has an idempotency key.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Instance, Plan, Service } from "../generated/prisma/client.js";
import { KubeError, KubeNotFoundError } from "../kube/errors.js";
import type { Manifest } from "../kube/types.js";
import type { LedgerService } from "../modules/credits/ledger.service.js";
import type { InstanceManifests } from "../modules/instances/instance-manifests.js";
import type { QuotaService } from "../modules/quotas/quotas.service.js";
import type { Clock } from "../platform/clock.js";
import type { PrismaClient } from "../platform/db/index.js";
import type { Logger } from "../platform/logger.js";
import type { ReconcilerMetrics } from "../platform/metrics.js";
import type { InstanceSignal } from "../platform/signals.js";
import { inTransaction } from "../platform/transaction.js";
import type { InstanceCluster, RolloutState } from "../modules/instances/instance-cluster.js";
import { recordRolloutHealth } from "../modules/health/rollout-health.js";

export interface ReconcilerOptions {
  prisma: PrismaClient;
  cluster: InstanceCluster;
  manifests: InstanceManifests;
  ledger: LedgerService;
  quotas: QuotaService;
  clock: Clock;
  logger: Logger;
  /** Identifies this process in lease rows. */
  owner?: string;
  /** Provisioning durations and error counts (Prometheus); a no-op when absent. */
  metrics?: ReconcilerMetrics;
  /** Instances worked on at once by this process. */
  concurrency?: number;
  /** How long a claim lasts before another reconciler may take the instance over. */
  leaseMs?: number;
  /** Periodic resync: the longest a missed signal can delay work. */
  resyncIntervalMs: number;
  /** A rollout not done within this is a permanent failure. */
  rolloutTimeoutMs: number;
  /** Pods stuck in ImagePullBackOff / CrashLoopBackOff this long fail the transition. */
  stuckPodGraceMs?: number;
  /** While waiting for a rollout: how long one pass polls in-process before yielding the claim. */
  rolloutPollBudgetMs?: number;
  /** How often a waiting rollout is looked at again. */
  rolloutRecheckMs?: number;
  /** Backoff bounds for transient errors. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/** A failure that retrying cannot fix: the transition ends in FAILED. */
export class PermanentReconcileError extends Error {}

type Loaded = Instance & { plan: Plan; service: Service };

const NO_METRICS: ReconcilerMetrics = { provisioned: () => {}, reconcileError: () => {} };

const TRANSITIONAL = ["PENDING", "PROVISIONING", "UPDATING", "RESTARTING", "TERMINATING"] as const;

export interface ReconcileOutcome {
  instanceId: string;
  status: Instance["status"];
  /** "done": converged; "waiting": rollout in progress; "retry": transient error; "failed". */
  result: "done" | "waiting" | "retry" | "failed" | "skipped";
}

export class Reconciler implements InstanceSignal {
  readonly owner: string;
  private readonly o: Required<Omit<ReconcilerOptions, "owner">>;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private kicked = false;
  private readonly inFlight = new Map<string, Promise<ReconcileOutcome>>();

  constructor(opts: ReconcilerOptions) {
    this.owner = opts.owner ?? `reconciler-${randomBytes(6).toString("hex")}`;
    this.o = {
      concurrency: 8,
      leaseMs: 60_000,
      stuckPodGraceMs: 120_000,
      rolloutPollBudgetMs: 2_000,
      rolloutRecheckMs: 1_000,
      retryBaseMs: 1_000,
      retryMaxMs: 60_000,
      metrics: NO_METRICS,
      ...opts,
    } as Required<Omit<ReconcilerOptions, "owner">>;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops claiming new work and waits for in-flight work to finish (graceful shutdown). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** InstanceSignal: an instance's desired state changed; look at it now. */
  instanceChanged(_instanceId: string): void {
    this.kick();
  }

  kick(): void {
    this.kicked = true;
    if (this.running) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pump(), Math.max(0, delayMs));
    this.timer.unref?.();
  }

  private async pump(): Promise<void> {
    if (!this.running || this.pumping) return;
    this.pumping = true;
    try {
      do {
        this.kicked = false;
        const free = this.o.concurrency - this.inFlight.size;
        if (free <= 0) break;
        const ids = await this.claim(free);
        for (const id of ids) {
          const p = this.process(id).finally(() => {
            this.inFlight.delete(id);
            if (this.running) this.schedule(0);
          });
          this.inFlight.set(id, p);
        }
        if (ids.length < free && !this.kicked) break;
      } while (this.running);
      await this.maybeSyncTenants();
      const next = await this.nextDueInMs();
      this.schedule(Math.min(next ?? this.o.resyncIntervalMs, this.o.resyncIntervalMs));
    } catch (err) {
      this.o.logger.error({ err }, "reconciler pass failed; retrying");
      this.schedule(this.o.retryBaseMs);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Runs passes until no instance has due work (tests, benchmarks, and `POST` handlers in tests).
   * Waits for rollouts by sleeping until their recheck time.
   */
  async runUntilIdle(opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const ids = await this.claim(this.o.concurrency);
      if (ids.length) {
        await Promise.all(ids.map((id) => this.process(id)));
        continue;
      }
      const next = await this.nextDueInMs({ includeLeased: false });
      if (next === undefined) return;
      if (Date.now() + next > deadline) throw new Error("reconciler did not become idle in time");
      await new Promise((r) => setTimeout(r, Math.max(5, next)));
    }
  }

  // ---- claims ----------------------------------------------------------------------------------

  /** Work is due when the instance is mid-transition or a newer generation awaits, and it is not held. */
  private static readonly DUE = `
    "status" <> 'TERMINATED'
    AND ("status" <> 'FAILED' OR "desired_state" = 'TERMINATED')
    AND ("generation" > "observed_generation" OR "status" IN ('PENDING','PROVISIONING','UPDATING','RESTARTING','TERMINATING')
         OR ("desired_state" = 'TERMINATED'))`;

  /** Claims up to `limit` due instances for this owner. */
  async claim(limit: number, onlyIds?: string[]): Promise<string[]> {
    const now = this.o.clock.now();
    const until = new Date(now.getTime() + this.o.leaseMs);
    const idFilter = onlyIds?.length ? `AND "id" = ANY($5::text[])` : "";
    const params: unknown[] = [this.owner, until, now, limit];
    if (onlyIds?.length) params.push(onlyIds);
    const rows = await this.o.prisma.$queryRawUnsafe<Array<{ id: string }>>(
      `UPDATE "instances" SET "lease_owner" = $1, "lease_expires_at" = $2
        WHERE "id" IN (
          SELECT "id" FROM "instances"
           WHERE ${Reconciler.DUE}
             AND "next_attempt_at" <= $3
             AND ("lease_expires_at" IS NULL OR "lease_expires_at" <= $3)
             ${idFilter}
           ORDER BY "next_attempt_at"
           LIMIT $4
           FOR UPDATE SKIP LOCKED)
        RETURNING "id"`,
      ...params,
    );
    return rows.map((r) => r.id).filter((id) => !this.inFlight.has(id));
  }

  /**
   * Milliseconds until some instance's work is next due (undefined: none). With `includeLeased`,
   * instances another reconciler holds count from their lease expiry (a dead holder's work is taken
   * over then); without, they are left to their holder.
   */
  private async nextDueInMs(opts: { includeLeased: boolean } = { includeLeased: true }): Promise<number | undefined> {
    const now = this.o.clock.now();
    const rows = await this.o.prisma.$queryRawUnsafe<Array<{ at: Date | null }>>(
      opts.includeLeased
        ? `SELECT min(CASE WHEN "lease_expires_at" > $1 THEN GREATEST("next_attempt_at", "lease_expires_at") ELSE "next_attempt_at" END) AS "at"
             FROM "instances" WHERE ${Reconciler.DUE}`
        : `SELECT min("next_attempt_at") AS "at" FROM "instances"
            WHERE ${Reconciler.DUE} AND ("lease_expires_at" IS NULL OR "lease_expires_at" <= $1)`,
      now,
    );
    const at = rows[0]?.at;
    if (!at) return undefined;
    return Math.max(0, new Date(at).getTime() - now.getTime());
  }

  /** Gives the claim back, setting when the instance should be looked at next. */
  private async release(id: string, data: Partial<Instance> = {}): Promise<void> {
    await this.o.prisma.instance.updateMany({
      where: { id, leaseOwner: this.owner },
      data: { ...data, leaseOwner: null, leaseExpiresAt: null },
    });
  }

  // ---- tenant baselines -----------------------------------------------------------------------

  /**
   * Re-applies the tenant baseline of every user with a live instance whose rendered baseline (quota,
   * policies) differs from what was last applied — so an admin's quota change, or new quota defaults,
   * reach the cluster without any instance changing. Idempotent; safe to run on several replicas.
   * Returns the users whose baseline was applied.
   */
  async syncTenants(): Promise<string[]> {
    const users = await this.o.prisma.user.findMany({
      where: { instances: { some: { status: { in: ["PROVISIONING", "RUNNING", "UPDATING", "RESTARTING", "SUSPENDED"] } } } },
      select: { id: true, tenantAppliedHash: true, quota: true },
    });
    const applied: string[] = [];
    for (const u of users) {
      // Quotas come with the users: one query for the whole pass, not one per user.
      const tenant = this.o.manifests.tenant(u.id, this.o.quotas.limitsOf(u.quota));
      const hash = hashManifests(tenant);
      if (hash === u.tenantAppliedHash) continue;
      try {
        await this.o.cluster.applyAll(tenant);
      } catch (err) {
        // Next sync tries again. One broken namespace does not stop the others, but an unreachable
        // cluster ends the pass (it would fail the same way for every user, delaying instance work).
        this.o.logger.warn({ err: (err as Error).message, userId: u.id }, "tenant baseline sync failed");
        if (err instanceof KubeError && err.transient) break;
        continue;
      }
      await this.o.prisma.user.update({ where: { id: u.id }, data: { tenantAppliedHash: hash } });
      applied.push(u.id);
    }
    return applied;
  }

  private lastTenantSync = 0;

  /** At most once per resync interval. */
  private async maybeSyncTenants(): Promise<void> {
    if (Date.now() - this.lastTenantSync < this.o.resyncIntervalMs) return;
    this.lastTenantSync = Date.now();
    await this.syncTenants();
  }

  // ---- one instance ----------------------------------------------------------------------------

  /** Claims and reconciles one instance now (tests). Returns undefined when it was not claimable. */
  async reconcileNow(id: string): Promise<ReconcileOutcome | undefined> {
    const ids = await this.claim(1, [id]);
    if (!ids.length) return undefined;
    return this.process(id);
  }

  private async process(id: string): Promise<ReconcileOutcome> {
    const inst = await this.o.prisma.instance.findUnique({ where: { id }, include: { plan: true, service: true } });
    if (!inst || inst.leaseOwner !== this.owner) return { instanceId: id, status: inst?.status ?? "TERMINATED", result: "skipped" };
    const log = this.o.logger.child({ instanceId: id });
    try {
      if (inst.desiredState === "TERMINATED") return await this.terminate(inst);
      return await this.converge(inst, log);
    } catch (err) {
      return await this.handleError(inst, err, log);
    }
  }

  private async event(instanceId: string, type: string, message: string, level: "INFO" | "WARN" | "ERROR" = "INFO", data?: object) {
    await this.o.prisma.instanceEvent.create({ data: { instanceId, type, message, level, data: data as never } });
  }

  private async converge(inst: Loaded, log: Logger): Promise<ReconcileOutcome> {
    const now = this.o.clock.now();
    const replicas: 0 | 1 = inst.desiredState === "SUSPENDED" ? 0 : 1;
    let status = inst.status;

    // Entering a transition: decide the status it is shown under, and start its clock.
    if (inst.generation > inst.appliedGeneration || TRANSITIONAL.includes(status as never)) {
      let next = status;
      if (status === "PENDING") next = "PROVISIONING";
      else if (status === "SUSPENDED" && replicas === 1) next = "UPDATING";
      else if (status === "RUNNING" && replicas === 1 && inst.generation > inst.appliedGeneration) next = "UPDATING";
      if (next !== status || !inst.transitionStartedAt) {
        await this.o.prisma.instance.update({
          where: { id: inst.id },
          data: {
            status: next,
            transitionStartedAt: inst.transitionStartedAt ?? now,
            transitionDeadline: inst.transitionDeadline ?? new Date(now.getTime() + this.o.rolloutTimeoutMs),
          },
        });
        if (next === "PROVISIONING") await this.event(inst.id, "PROVISIONING_STARTED", "Provisioning started");
        if (next === "UPDATING" && status === "SUSPENDED") await this.event(inst.id, "RESUMING", "Resuming: scaling back up");
        status = next;
        inst.transitionStartedAt ??= now;
        inst.transitionDeadline ??= new Date(now.getTime() + this.o.rolloutTimeoutMs);
      }
    }

    // Apply the whole desired state once per generation (idempotent: re-running after a crash is safe).
    if (inst.appliedGeneration < inst.generation) {
      const quota = await this.o.quotas.limits(this.o.prisma, inst.userId);
      const tenant = this.o.manifests.tenant(inst.userId, quota);
      await this.o.cluster.applyAll(tenant);
      await this.o.prisma.user.update({ where: { id: inst.userId }, data: { tenantAppliedHash: hashManifests(tenant) } });
      if (inst.appliedGeneration === 0) {
        await this.event(inst.id, "TENANT_READY", `Namespace ${inst.namespace} and its baseline are in place`, "INFO", {
          objects: tenant.map(describe),
        });
      }
      const credentials = await this.o.cluster.readCredentials(inst.namespace, this.o.manifests.names(inst).secret);
      const objects = this.o.manifests.instance(inst, { replicas, credentials });
      await this.o.cluster.applyAll(objects);
      await this.o.prisma.instance.update({ where: { id: inst.id }, data: { appliedGeneration: inst.generation } });
      await this.event(inst.id, "OBJECTS_APPLIED", `Applied ${objects.length} objects`, "INFO", { objects: objects.map(describe) });
      log.debug({ generation: inst.generation }, "manifests applied");
    }

    // Wait for the workload to settle.
    const rollout = await this.waitForRollout(inst, replicas);
    if (!rollout.done) {
      const stuck = rollout.podProblem;
      const since = (inst.transitionStartedAt ?? now).getTime();
      if (stuck && this.o.clock.now().getTime() - since > this.o.stuckPodGraceMs) {
        throw new PermanentReconcileError(`Pods are stuck in ${stuck.reason}: ${stuck.message ?? "no message"}`);
      }
      if (inst.transitionDeadline && this.o.clock.now() > inst.transitionDeadline) {
        throw new PermanentReconcileError(
          `Rollout did not complete within ${Math.round(this.o.rolloutTimeoutMs / 1000)}s: ${rollout.message ?? "not ready"}`,
        );
      }
      if (inst.attempts === 0 || stuck) {
        const key = stuck ? `POD_${stuck.reason.toUpperCase()}` : "ROLLOUT_WAITING";
        const already = await this.o.prisma.instanceEvent.findFirst({
          where: { instanceId: inst.id, type: key, createdAt: { gte: inst.transitionStartedAt ?? now } },
        });
        if (!already) {
          await this.event(
            inst.id,
            key,
            stuck ? `Pod ${stuck.reason}: ${stuck.message ?? ""}`.trim() : "Waiting for the rollout",
            stuck ? "WARN" : "INFO",
          );
        }
      }
      await this.release(inst.id, {
        attempts: inst.attempts + 1,
        nextAttemptAt: new Date(this.o.clock.now().getTime() + this.o.rolloutRecheckMs),
      });
      return { instanceId: inst.id, status, result: "waiting" };
    }

    // Converged.
    const final = replicas === 0 ? "SUSPENDED" : "RUNNING";
    const firstRun = !inst.provisionedAt && final === "RUNNING";
    const doneAt = this.o.clock.now();
    await this.o.prisma.instance.updateMany({
      where: { id: inst.id, leaseOwner: this.owner, generation: inst.generation },
      data: {
        status: final,
        statusMessage: null,
        observedGeneration: inst.generation,
        url: this.o.manifests.url(inst),
        provisionedAt: inst.provisionedAt ?? (final === "RUNNING" ? doneAt : null),
        transitionStartedAt: null,
        transitionDeadline: null,
        attempts: 0,
        leaseOwner: null,
        leaseExpiresAt: null,
      },
    });
    if (final === "RUNNING") await recordRolloutHealth(this.o.prisma, inst.id, doneAt);
    const tookMs = doneAt.getTime() - (inst.transitionStartedAt ?? doneAt).getTime();
    if (firstRun) this.o.metrics.provisioned(tookMs, inst.service.slug);
    const verb =
      final === "SUSPENDED" ? "Suspended (scaled to 0)" : firstRun ? "Running" : status === "RESTARTING" ? "Restarted" : "Updated";
    await this.event(
      inst.id,
      final === "SUSPENDED" ? "SUSPENDED" : firstRun ? "RUNNING" : `${status}_COMPLETE`,
      `${verb} in ${tookMs} ms`,
      "INFO",
      {
        durationMs: tookMs,
      },
    );
    // A newer generation may have arrived meanwhile: the guarded update above left it due.
    await this.release(inst.id);
    return { instanceId: inst.id, status: final, result: "done" };
  }

  private async waitForRollout(inst: Loaded, replicas: 0 | 1): Promise<RolloutState> {
    const names = this.o.manifests.names(inst);
    const kind = this.o.manifests.workloadKind(inst);
    const budgetEnd = Date.now() + this.o.rolloutPollBudgetMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      const state = await this.o.cluster.rolloutState(inst.namespace, names.workload, kind, replicas, inst.id);
      if (state.done || state.podProblem || Date.now() + delay > budgetEnd) return state;
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async terminate(inst: Loaded): Promise<ReconcileOutcome> {
    if (inst.status !== "TERMINATING") {
      await this.o.prisma.instance.update({ where: { id: inst.id }, data: { status: "TERMINATING" } });
      await this.event(inst.id, "TERMINATING", "Deleting the instance's cluster objects");
    }
    const removed = await this.removeObjects(inst);
    const now = this.o.clock.now();
    await this.o.prisma.$transaction(async (tx) => {
      await tx.instance.update({
        where: { id: inst.id },
        data: {
          status: "TERMINATED",
          observedGeneration: inst.generation,
          terminatedAt: now,
          transitionStartedAt: null,
          transitionDeadline: null,
          attempts: 0,
          leaseOwner: null,
          leaseExpiresAt: null,
        },
      });
      await tx.subscription.updateMany({
        where: { id: inst.subscriptionId, status: { in: ["ACTIVE", "PAST_DUE"] } },
        data: { status: "CANCELLED", cancelledAt: now, cancelReason: "instance terminated" },
      });
      await tx.instanceEvent.create({
        data: { instanceId: inst.id, type: "TERMINATED", message: "Terminated; cluster objects removed", data: { removed } },
      });
    });
    return { instanceId: inst.id, status: "TERMINATED", result: "done" };
  }

  /** Deletes every object of the instance, and the tenant namespace when the user has no other live instance. */
  private async removeObjects(inst: Loaded): Promise<string[]> {
    const removed: string[] = [];
    for (const ref of this.o.manifests.instanceRefs(inst)) {
      if (await this.o.cluster.delete(ref)) removed.push(`${ref.kind}/${ref.name}`);
    }
    const others = await this.o.prisma.instance.count({
      where: { userId: inst.userId, id: { not: inst.id }, status: { notIn: ["TERMINATED", "FAILED"] } },
    });
    if (others === 0) {
      if (await this.o.cluster.deleteNamespace(inst.namespace)) removed.push(`Namespace/${inst.namespace}`);
      await this.o.prisma.user.update({ where: { id: inst.userId }, data: { tenantAppliedHash: null } });
    }
    return removed;
  }

  private async handleError(inst: Loaded, err: unknown, log: Logger): Promise<ReconcileOutcome> {
    const permanent =
      err instanceof PermanentReconcileError || (err instanceof KubeError && !isTransientKubeError(err)) || isInvalidManifest(err);
    const message = err instanceof Error ? err.message : String(err);
    if (permanent && !(err instanceof KubeNotFoundError && inst.desiredState === "TERMINATED")) {
      this.o.metrics.reconcileError("permanent");
      log.warn({ err }, "reconcile failed permanently");
      return this.fail(inst, message);
    }
    // Transient (cluster down, 5xx, timeouts, our own database blips): retry with backoff, lose nothing.
    this.o.metrics.reconcileError("transient");
    const attempts = inst.attempts + 1;
    const backoff = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(attempts - 1, 10));
    const jitter = Math.floor(Math.random() * (backoff / 4));
    log.warn({ err: message, attempts }, "reconcile failed; will retry");
    if (attempts === 1 || attempts % 5 === 0) {
      await this.event(inst.id, "RETRYING", `Cluster error, retrying (attempt ${attempts}): ${message}`, "WARN").catch(() => {});
    }
    await this.release(inst.id, { attempts, nextAttemptAt: new Date(this.o.clock.now().getTime() + backoff + jitter) }).catch(
      (releaseErr: unknown) => log.error({ err: releaseErr }, "could not release claim; it will expire"),
    );
    const current = await this.o.prisma.instance.findUnique({ where: { id: inst.id }, select: { status: true } }).catch(() => null);
    return { instanceId: inst.id, status: current?.status ?? inst.status, result: "retry" };
  }

  /**
   * FAILED. An instance that never ran is rolled back (its objects removed) and its first period
   * refunded exactly once, and its subscription is cancelled. One that ran keeps its objects and data.
   */
  private async fail(inst: Loaded, message: string): Promise<ReconcileOutcome> {
    const neverRan = !inst.provisionedAt;
    let removed: string[] = [];
    if (neverRan) {
      try {
        removed = await this.removeObjects(inst);
      } catch (err) {
        // Cannot roll back now (cluster unreachable): retry the whole failure later, nothing is lost.
        if (err instanceof KubeError && isTransientKubeError(err)) return this.handleError(inst, err, this.o.logger);
        throw err;
      }
    }
    const now = this.o.clock.now();
    await inTransaction(this.o.prisma, async (tx) => {
      await tx.instance.update({
        where: { id: inst.id },
        data: {
          status: "FAILED",
          statusMessage: message.slice(0, 1000),
          observedGeneration: inst.generation,
          transitionStartedAt: null,
          transitionDeadline: null,
          leaseOwner: null,
          leaseExpiresAt: null,
        },
      });
      await tx.instanceEvent.create({ data: { instanceId: inst.id, type: "FAILED", level: "ERROR", message, data: { removed } } });
      if (!neverRan) return;
      const charge = await tx.creditTransaction.findFirst({
        where: { userId: inst.userId, type: "SUBSCRIPTION_CHARGE", referenceType: "subscription", referenceId: inst.subscriptionId },
      });
      if (charge && charge.amount < 0) {
        const { replayed } = await this.o.ledger.post(tx, {
          userId: inst.userId,
          type: "REFUND",
          amount: -charge.amount,
          reason: `Refund: instance '${inst.name}' could not be provisioned`,
          referenceType: "instance",
          referenceId: inst.id,
          idempotencyKey: `refund:first-period:${inst.id}`,
        });
        if (!replayed) {
          await tx.instanceEvent.create({
            data: { instanceId: inst.id, type: "REFUNDED", message: `Refunded ${-charge.amount} credits for the first period` },
          });
        }
      }
      await tx.subscription.updateMany({
        where: { id: inst.subscriptionId, status: { in: ["ACTIVE", "PAST_DUE"] } },
        data: { status: "CANCELLED", cancelledAt: now, cancelReason: "provisioning failed" },
      });
    });
    return { instanceId: inst.id, status: "FAILED", result: "failed" };
  }
}

/** A stable digest of rendered manifests (object key order is fixed by the templates). */
function hashManifests(objects: Manifest[]): string {
  return createHash("sha256").update(JSON.stringify(objects)).digest("hex");
}

function isTransientKubeError(err: KubeError): boolean {
  return err.transient;
}

function describe(m: Manifest): string {
  return `${m.kind}/${m.metadata?.name ?? ""}`;
}

function isInvalidManifest(err: unknown): boolean {
  return err instanceof Error && (err.name === "InvalidManifestError" || err.name === "InvalidNameError");
}

/**
 * The instance lifecycle: one pass over one claimed instance, converging the cluster to its row.
 *
 *   PENDING -> PROVISIONING -> RUNNING            (tenant baseline, objects, rollout)
 *   RUNNING -> UPDATING | RESTARTING -> RUNNING   (a new generation: plan change, restart, resume)
 *   RUNNING -> SUSPENDED                          (billing: desired SUSPENDED scales to 0)
 *   RUNNING -> STOPPED -> UPDATING -> RUNNING      (the owner: desired STOPPED scales to 0; start scales back up)
 *   RUNNING -> RESTORING -> RUNNING               (a new PVC from a backup's snapshot; the old one deleted once it runs,
 *                                                  or back to the old one — UPDATING — if the new one never does)
 *   RUNNING -> UPGRADING -> RUNNING               (a new image version after a pre-upgrade snapshot; if it never runs,
 *                                                  the previous version — RESTORING from that snapshot — then RUNNING)
 *   any -> TERMINATING -> TERMINATED              (desired TERMINATED: objects deleted)
 *   any -> FAILED                                 (a permanent error; never-ran instances are rolled back and refunded)
 *
 * Every step is safe to repeat: manifests go through server-side apply, deletes tolerate 404, and
 * the refund (through the billing service) has an idempotency key. The claim itself is the work
 * queue's: a pass returns when the instance is due again, and the queue gives the claim back.
 */
import type { Instance, Plan, Service } from "../../generated/prisma/client.js";
import { KubeError, KubeNotFoundError } from "../../kube/kube-errors.js";
import type { Manifest } from "../../kube/objects.js";
import { recordRolloutHealth, rolloutHealthAssignments } from "../../modules/health/rollout-health.js";
import type { CatalogCache } from "../../modules/catalog/catalog-cache.js";
import type { InstanceCluster, RolloutState } from "../../modules/instances/instance-cluster.js";
import { CredentialsLostError, type InstanceCredentialsStore } from "../../modules/instances/instance-credentials.js";
import type { InstanceManifests } from "../../modules/instances/instance-manifests.js";
import * as state from "../../modules/instances/instance-state.js";
import { retainNewestBackup } from "../../modules/backups/backup-retention.js";
import type { BillingService } from "../../modules/subscriptions/billing.service.js";
import { rollBackUpgrade } from "../../modules/upgrades/upgrade-steps.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient, SqlRead } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";
import type { ReconcilerMetrics } from "../../platform/metrics.js";
import { inTransaction } from "../../platform/transaction.js";
import { resolveCredentials } from "../../modules/instances/credentials-resolution.js";
import type { TenantSync } from "./tenant-sync.js";
import type { TenantTeardown } from "./tenant-teardown.js";
import type { WorkResult } from "./work-queue.js";

/** A failure that retrying cannot fix: the transition ends in FAILED. */
export class PermanentReconcileError extends Error {}

type Loaded = Instance & { plan: Plan; service: Service };

const TRANSITIONAL = ["PENDING", "PROVISIONING", "UPDATING", "RESTARTING", "RESTORING", "UPGRADING", "TERMINATING"] as const;

export interface LifecycleOptions {
  prisma: PrismaClient;
  /** The instance's plan and service (from memory: they are read on every pass). */
  catalog: CatalogCache;
  /** The pass's own statements outside transactions, past Prisma's engine (`Database.read`). */
  read: SqlRead;
  cluster: InstanceCluster;
  manifests: InstanceManifests;
  /** The instance's credentials, kept in the database: its Secret is rendered from them. */
  credentials: InstanceCredentialsStore;
  tenants: TenantSync;
  /** Deletes the tenant namespace once nothing in it is needed. */
  teardown: TenantTeardown;
  /** A terminated instance's newest READY backup is kept this long (0: none). */
  backupRetentionAfterDeleteMs: number;
  /** Refunds and subscription endings of failed and terminated instances. */
  billing: Pick<BillingService, "refundFailedProvisioning" | "endSubscription">;
  clock: Clock;
  logger: Logger;
  metrics: ReconcilerMetrics;
  /** Whose claims this lifecycle works under (an instance held by another owner is skipped). */
  owner: string;
  /** A rollout not done within this is a permanent failure. */
  rolloutTimeoutMs: number;
  /** Pods stuck in ImagePullBackOff / CrashLoopBackOff this long fail the transition. */
  stuckPodGraceMs: number;
  /** While waiting for a rollout: how long one pass polls in-process before yielding the claim. */
  rolloutPollBudgetMs: number;
  /** How often a waiting rollout is looked at again. */
  rolloutRecheckMs: number;
  /** Backoff bounds for transient errors. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export class InstanceLifecycle {
  constructor(private readonly o: LifecycleOptions) {}

  /** One pass over a claimed instance (its row as the claim returned it, when at hand). */
  async run(id: string, claimed?: Instance): Promise<WorkResult> {
    const inst = await this.load(id, claimed);
    if (!inst || inst.leaseOwner !== this.o.owner) {
      return { outcome: { instanceId: id, status: inst?.status ?? "TERMINATED", result: "skipped" } };
    }
    const log = this.o.logger.child({ instanceId: id });
    try {
      if (inst.desiredState === "TERMINATED") return await this.terminate(inst);
      return await this.converge(inst, log);
    } catch (err) {
      return await this.handleError(inst, err, log);
    }
  }

  /** The instance row (from the claim, or one statement) with its plan and service (the catalog cache). */
  private async load(id: string, claimed?: Instance): Promise<Loaded | null> {
    const row = claimed ?? (await this.o.prisma.instance.findUnique({ where: { id } }));
    if (!row) return null;
    const [plan, service] = await Promise.all([this.o.catalog.plan(row.planId), this.o.catalog.service(row.serviceId)]);
    if (plan && service) {
      const { service: _planService, ...planRow } = plan;
      return { ...row, plan: planRow, service };
    }
    return this.o.prisma.instance.findUnique({ where: { id }, include: { plan: true, service: true } });
  }

  private async converge(inst: Loaded, log: Logger): Promise<WorkResult> {
    const now = this.o.clock.now();
    const replicas: 0 | 1 = inst.desiredState === "SUSPENDED" || inst.desiredState === "STOPPED" ? 0 : 1;
    let status = inst.status;

    // Entering a transition: decide the status it is shown under, and start its clock.
    if (inst.generation > inst.appliedGeneration || TRANSITIONAL.includes(status as never)) {
      let next = status;
      if (status === "PENDING") next = "PROVISIONING";
      else if ((status === "SUSPENDED" || status === "STOPPED") && replicas === 1) next = "UPDATING";
      else if (status === "RUNNING" && replicas === 1 && inst.generation > inst.appliedGeneration) next = "UPDATING";
      if (next !== status || !inst.transitionStartedAt) {
        inst.transitionStartedAt ??= now;
        inst.transitionDeadline ??= new Date(now.getTime() + this.o.rolloutTimeoutMs);
        // The status and the event that says why, in one statement.
        const event: state.InstanceEventInput | undefined =
          next === "PROVISIONING"
            ? { type: "PROVISIONING_STARTED", message: "Provisioning started" }
            : next === "UPDATING" && status === "SUSPENDED"
              ? { type: "RESUMING", message: "Resuming: scaling back up" }
              : next === "UPDATING" && status === "STOPPED"
                ? { type: "STARTING", message: "Starting: scaling back up" }
                : undefined;
        await state.beginTransition(
          this.o.read,
          inst.id,
          { status: next, startedAt: inst.transitionStartedAt, deadline: inst.transitionDeadline },
          event,
        );
        status = next;
      }
    }

    // Apply the whole desired state once per generation (idempotent: re-running after a crash is safe).
    if (inst.appliedGeneration < inst.generation) {
      const tenant = await this.o.tenants.ensure(inst.userId);
      if (inst.appliedGeneration === 0) {
        await state.recordEvent(this.o.prisma, inst.id, {
          type: "TENANT_READY",
          message: `Namespace ${inst.namespace} and its baseline are in place`,
          data: { objects: tenant.map(describe) },
        });
      }
      const credentials = await this.credentialsFor(inst);
      const objects = this.o.manifests.instance(inst, { replicas, credentials });
      await this.refuseEmptyVolume(inst, objects);
      const applied = await this.o.cluster.applyAll(objects);
      await state.markApplied(this.o.read, inst.id, inst.generation, applied, {
        type: "OBJECTS_APPLIED",
        message: `Applied ${objects.length} objects`,
        data: { objects: objects.map(describe) },
      });
      log.debug({ generation: inst.generation }, "manifests applied");
    }

    // Wait for the workload to settle.
    const rollout = await this.waitForRollout(inst, replicas);
    if (rollout.deletedStuckPods?.length) {
      await state.recordEvent(this.o.prisma, inst.id, {
        type: "STUCK_POD_DELETED",
        level: "WARN",
        message: `Deleted ${rollout.deletedStuckPods.map((p) => `pod ${p.name} (${p.reason})`).join(", ")}: stuck at an old revision, which an OrderedReady StatefulSet never replaces by itself`,
        data: { pods: rollout.deletedStuckPods },
      });
    }
    if (!rollout.done) {
      const stuck = rollout.podProblem;
      const since = (inst.transitionStartedAt ?? now).getTime();
      let problem: string | undefined;
      if (stuck && this.o.clock.now().getTime() - since > this.o.stuckPodGraceMs) {
        problem = `Pods are stuck in ${stuck.reason}: ${stuck.message ?? "no message"}`;
      } else if (inst.transitionDeadline && this.o.clock.now() > inst.transitionDeadline) {
        problem = `Rollout did not complete within ${Math.round(this.o.rolloutTimeoutMs / 1000)}s: ${rollout.message ?? "not ready"}`;
      }
      if (problem && status === "RESTORING") return this.rollBackRestore(inst, problem);
      if (problem && status === "UPGRADING") return this.rollBackUpgrade(inst, problem);
      if (problem) throw new PermanentReconcileError(problem);
      if (inst.attempts === 0 || stuck) {
        const type = stuck ? state.podProblemEvent(stuck.reason) : "ROLLOUT_WAITING";
        const already = await this.o.prisma.instanceEvent.findFirst({
          where: { instanceId: inst.id, type, createdAt: { gte: inst.transitionStartedAt ?? now } },
        });
        if (!already) {
          await state.recordEvent(this.o.prisma, inst.id, {
            type,
            message: stuck ? `Pod ${stuck.reason}: ${stuck.message ?? ""}`.trim() : "Waiting for the rollout",
            level: stuck ? "WARN" : "INFO",
          });
        }
      }
      return {
        outcome: { instanceId: inst.id, status, result: "waiting" },
        next: { attempts: inst.attempts + 1, nextAttemptAt: new Date(this.o.clock.now().getTime() + this.o.rolloutRecheckMs) },
      };
    }

    // Converged. The update is guarded by the generation read: a newer one that arrived meanwhile stays due.
    const final = replicas === 1 ? "RUNNING" : inst.desiredState === "STOPPED" ? "STOPPED" : "SUSPENDED";
    const firstRun = !inst.provisionedAt && final === "RUNNING";
    const doneAt = this.o.clock.now();
    const tookMs = doneAt.getTime() - (inst.transitionStartedAt ?? doneAt).getTime();
    const verb =
      final === "SUSPENDED"
        ? "Suspended (scaled to 0)"
        : final === "STOPPED"
          ? "Stopped (scaled to 0; objects and data kept)"
          : firstRun
            ? "Running"
            : status === "RESTARTING"
              ? "Restarted"
              : status === "RESTORING"
                ? "Restored from the backup (new volume in use, the old one deleted)"
                : status === "UPGRADING"
                  ? `Upgraded to ${inst.version ?? "?"}`
                  : "Updated";
    // A restore runs on its new volume: the old one goes (deleting twice after a crash is harmless).
    if (status === "RESTORING" && inst.restoreClaim) {
      const old = inst.volumeClaim ?? this.o.manifests.names(inst).pvc;
      await this.o.cluster.delete({ apiVersion: "v1", kind: "PersistentVolumeClaim", name: old, namespace: inst.namespace });
    }
    // The status and its event commit together: a reader never sees RUNNING without its event.
    const event: state.InstanceEventInput = {
      type: final !== "RUNNING" ? final : firstRun ? "RUNNING" : `${status}_COMPLETE`,
      message: `${verb} in ${tookMs} ms`,
      data: { durationMs: tookMs },
    };
    const url = this.o.manifests.url(inst);
    let released = false;
    if (status !== "RESTORING" && !(final === "RUNNING" && inst.upgradeFromVersion)) {
      // The usual end: one statement (the status, its event, the first health observation below, and
      // the claim given back).
      released = await state.converged(
        this.o.read,
        inst,
        {
          owner: this.o.owner,
          status: final,
          url,
          at: doneAt,
          releaseClaim: true,
          ...(final === "RUNNING" ? { alsoSet: rolloutHealthAssignments(doneAt) } : {}),
        },
        event,
      );
    } else {
      await inTransaction(this.o.prisma, async (tx) => {
        if (status === "RESTORING") await state.restoreSwitched(tx, inst);
        await state.converged(tx, inst, { owner: this.o.owner, status: final, url, at: doneAt });
        await state.recordEvent(tx, inst.id, event);
        // A version upgrade ends here: rolled out, or (after a failure) rolled back to the previous version.
        // (Suspended mid-rollout, it ends when it runs again: on the new version unless it was rolled back.)
        if (final === "RUNNING" && inst.upgradeFromVersion) {
          if (status === "UPGRADING" || inst.version === inst.upgradeToVersion) await state.upgradeRolledOut(tx, inst, tookMs);
          else await state.upgradeRolledBack(tx, inst, status === "RESTORING");
        }
      });
    }
    // The rollout just watched is the instance's first health observation (the sweep takes over after).
    // (Already taken by the converged update when it matched.)
    if (final === "RUNNING" && !released) await recordRolloutHealth(this.o.prisma, inst.id, doneAt);
    if (firstRun) this.o.metrics.provisioned(tookMs, inst.service.slug);
    return { outcome: { instanceId: inst.id, status: final, result: "done" }, released };
  }

  /**
   * The credentials to render into the Secret: always the stored ones (a deleted or edited Secret gets
   * the same values back). Generated once for a new instance, adopted once from the live Secret of one
   * provisioned before they were stored; lost ones are never regenerated (the transition fails).
   */
  private async credentialsFor(inst: Loaded): Promise<Record<string, string>> {
    try {
      return await resolveCredentials(this.o, inst, this.o.manifests.names(inst).secret);
    } catch (err) {
      if (err instanceof CredentialsLostError) throw new PermanentReconcileError(err.message);
      throw err;
    }
  }

  /** The restored workload never became ready: back to the old volume (next pass), the new claim deleted. */
  private async rollBackRestore(inst: Loaded, reason: string): Promise<WorkResult> {
    const claim = inst.restoreClaim;
    await state.restoreRolledBack(this.o.prisma, inst, reason, this.o.clock.now());
    if (claim) await this.o.cluster.delete({ apiVersion: "v1", kind: "PersistentVolumeClaim", name: claim, namespace: inst.namespace });
    return {
      outcome: { instanceId: inst.id, status: "UPDATING", result: "waiting" },
      next: { attempts: 0, nextAttemptAt: this.o.clock.now() },
    };
  }

  /** The new version never became ready: back to the previous one (next pass), from the pre-upgrade snapshot. */
  private async rollBackUpgrade(inst: Loaded, reason: string): Promise<WorkResult> {
    const now = this.o.clock.now();
    const status = await rollBackUpgrade(this.o.prisma, inst, reason, now);
    return { outcome: { instanceId: inst.id, status, result: "waiting" }, next: { attempts: 0, nextAttemptAt: now } };
  }

  /**
   * A volume the instance already had that is gone now took its data with it. Re-applying would
   * create an empty one and start the app on it as if nothing happened: refuse (the instance ends
   * FAILED with the reason; it keeps its other objects, and the owner decides — delete it, or
   * create a new instance and restore their data there). Whether it had one: the PVC is among the
   * objects last applied, or (applied before those were recorded) its workload mounts the claim.
   */
  private async refuseEmptyVolume(inst: Loaded, objects: Manifest[]): Promise<void> {
    const pvc = objects.find((m) => m.kind === "PersistentVolumeClaim");
    if (!pvc) return;
    const claim = pvc.metadata?.name ?? "";
    const key = `PersistentVolumeClaim/${claim}`;
    const applied = inst.appliedFields as Record<string, string> | null;
    if (applied ? !(key in applied) : inst.provisionedAt === null) return; // a new volume: create it
    const live = await this.o.cluster.existing(inst.namespace, inst.id, "PersistentVolumeClaim");
    if (live.has(key)) return;
    // Applied before the objects were recorded: it had a volume if its workload mounts the claim
    // (a plan change from no storage to some creates its first volume).
    if (!applied) {
      const names = this.o.manifests.names(inst);
      const kind = this.o.manifests.workloadKind(inst);
      if (!(await this.o.cluster.mountsClaim(inst.namespace, kind, names.workload, claim))) return;
    }
    throw new PermanentReconcileError(
      `${state.VOLUME_LOST}: ${key} was deleted outside MinisPod; an empty volume is not created in its place. Delete this instance (or create a new one and restore the data there)`,
    );
  }

  private async waitForRollout(inst: Loaded, replicas: 0 | 1): Promise<RolloutState> {
    const names = this.o.manifests.names(inst);
    const kind = this.o.manifests.workloadKind(inst);
    const budgetEnd = Date.now() + this.o.rolloutPollBudgetMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      const state = await this.o.cluster.rolloutState(inst.namespace, names.workload, kind, replicas, inst.id);
      if (state.done || state.podProblem || state.deletedStuckPods || Date.now() + delay > budgetEnd) return state;
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async terminate(inst: Loaded): Promise<WorkResult> {
    if (inst.status !== "TERMINATING") {
      await state.beginTerminating(this.o.prisma, inst.id);
    }
    // Its newest READY backup outlives it (BACKUP_RETENTION_AFTER_DELETE), and with it the namespace that
    // holds the snapshot; the backup loop deletes the others, and this one when its retention is over.
    if (this.o.backupRetentionAfterDeleteMs > 0) {
      await retainNewestBackup(this.o.prisma, inst.id, new Date(this.o.clock.now().getTime() + this.o.backupRetentionAfterDeleteMs));
    }
    const removed = await this.removeObjects(inst);
    const now = this.o.clock.now();
    await inTransaction(this.o.prisma, async (tx) => {
      await state.terminated(tx, inst, now, removed);
      // Its objects and data are gone: its credentials have nothing left to open.
      await this.o.credentials.forget(inst.id, tx);
      await this.o.billing.endSubscription(tx, inst.subscriptionId, now, "instance terminated");
    });
    return { outcome: { instanceId: inst.id, status: "TERMINATED", result: "done" } };
  }

  /**
   * Deletes every object of the instance, and the tenant namespace when the user has no other live
   * instance and no retained backup (tenant-teardown.ts).
   */
  private async removeObjects(inst: Loaded): Promise<string[]> {
    const removed: string[] = [];
    for (const ref of this.o.manifests.instanceRefs(inst)) {
      if (await this.o.cluster.delete(ref)) removed.push(`${ref.kind}/${ref.name}`);
    }
    const teardown = await this.o.teardown.removeIfUnused(inst.userId, inst.namespace, inst.id);
    if (teardown.deleted) removed.push(`Namespace/${inst.namespace}`);
    return removed;
  }

  private async handleError(inst: Loaded, err: unknown, log: Logger): Promise<WorkResult> {
    const permanent = err instanceof PermanentReconcileError || (err instanceof KubeError && !err.transient) || isInvalidManifest(err);
    const message = err instanceof Error ? err.message : String(err);
    if (permanent && inst.status === "RESTORING" && inst.desiredState !== "TERMINATED") {
      // The new volume was refused (e.g. the namespace's storage quota): back to the old one.
      log.warn({ err }, "restore failed; switching back");
      return this.rollBackRestore(inst, message);
    }
    if (permanent && inst.status === "UPGRADING" && inst.desiredState !== "TERMINATED") {
      // The new version's objects were refused: back to the previous version.
      log.warn({ err }, "upgrade failed; rolling back");
      return this.rollBackUpgrade(inst, message);
    }
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
      await state
        .recordEvent(this.o.prisma, inst.id, {
          type: "RETRYING",
          message: `Cluster error, retrying (attempt ${attempts}): ${message}`,
          level: "WARN",
        })
        .catch(() => {});
    }
    const current = await this.o.prisma.instance.findUnique({ where: { id: inst.id }, select: { status: true } }).catch(() => null);
    return {
      outcome: { instanceId: inst.id, status: current?.status ?? inst.status, result: "retry" },
      next: { attempts, nextAttemptAt: new Date(this.o.clock.now().getTime() + backoff + jitter) },
    };
  }

  /**
   * FAILED. An instance that never ran is rolled back (its objects removed) and its first period
   * refunded exactly once, and its subscription is cancelled. One that ran keeps its objects and data.
   */
  private async fail(inst: Loaded, message: string): Promise<WorkResult> {
    const neverRan = !inst.provisionedAt;
    let removed: string[] = [];
    if (neverRan) {
      try {
        removed = await this.removeObjects(inst);
      } catch (err) {
        // Cannot roll back now (cluster unreachable): retry the whole failure later, nothing is lost.
        if (err instanceof KubeError && err.transient) return this.handleError(inst, err, this.o.logger);
        throw err;
      }
    }
    const now = this.o.clock.now();
    await inTransaction(this.o.prisma, async (tx) => {
      await state.failed(tx, inst, message, removed);
      if (!neverRan) return;
      // Rolled back (objects and volume deleted) and never restartable: its credentials go too.
      await this.o.credentials.forget(inst.id, tx);
      const refunded = await this.o.billing.refundFailedProvisioning(tx, inst);
      if (refunded > 0) {
        await state.recordEvent(tx, inst.id, { type: "REFUNDED", message: `Refunded ${refunded} credits for the first period` });
      }
      await this.o.billing.endSubscription(tx, inst.subscriptionId, now, "provisioning failed");
    });
    return { outcome: { instanceId: inst.id, status: "FAILED", result: "failed" } };
  }
}

function describe(m: Manifest): string {
  return `${m.kind}/${m.metadata?.name ?? ""}`;
}

function isInvalidManifest(err: unknown): boolean {
  return err instanceof Error && (err.name === "InvalidManifestError" || err.name === "InvalidNameError");
}

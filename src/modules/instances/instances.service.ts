/**
 * The instance API's logic. Every query is scoped to the caller: another user's instance is a 404
 * (admins may read any, but credentials stay owner-only). Actions change the desired state in the
 * database and signal the reconciler, which converges the cluster; they never call the cluster
 * themselves, except reads (logs). Credentials are read from the database (instance-credentials.ts).
 */
import { randomBytes } from "node:crypto";
import type { AuditService } from "../audit/audit.service.js";
import type { Readable } from "node:stream";
import type { Instance, Plan, Prisma as PrismaNs, Service } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import { type PrismaClient, prismaRead, type SqlRead } from "../../platform/db/index.js";
import { KubeError, KubeNotFoundError } from "../../kube/kube-errors.js";
import {
  ConflictError,
  DependencyUnavailableError,
  InvalidStateError,
  NotFoundError,
  ValidationError,
} from "../../platform/domain-errors.js";
import type { AuthIdentity } from "../../platform/http/auth.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { InstanceSignal } from "../../platform/signals.js";
import { inTransaction } from "../../platform/transaction.js";
import { lockUser } from "../credits/ledger.service.js";
import type { QuotaService } from "../quotas/quotas.service.js";
import type { IdempotentResponse } from "../../platform/idempotency.js";
import type { InstanceCluster } from "./instance-cluster.js";
import { resolveCredentials } from "./credentials-resolution.js";
import { CredentialsLostError, type InstanceCredentialsStore } from "./instance-credentials.js";
import type { InstanceManifests } from "./instance-manifests.js";
import { createInstanceRow } from "./instance-rows.js";
import * as state from "./instance-state.js";
import type { InstanceSubscriptions, Purchase } from "./instance-subscriptions.js";
import { readInstance, readInstancePage } from "./instances.read.js";
import type {
  InstanceCredentials,
  InstanceEventsQuery,
  InstanceEventView,
  InstanceListQuery,
  InstanceLogsQuery,
} from "./instances.schema.js";
import { type InstanceView, instanceViewInclude, toInstanceView } from "./instances.view.js";

export type { InstanceEventView };

export function toEventView(e: {
  id: string;
  type: string;
  level: string;
  message: string;
  data: unknown;
  createdAt: Date;
}): InstanceEventView {
  return { id: e.id, type: e.type, level: e.level, message: e.message, data: e.data ?? null, createdAt: e.createdAt.toISOString() };
}

/**
 * A read from the cluster on behalf of a request: an unreachable cluster is a 503, and a pod that
 * vanished between listing and reading (a restart) is a 409 like "no running pod".
 */
async function clusterRead<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof KubeError && err.transient)
      throw new DependencyUnavailableError("The cluster is unavailable; try again", { cause: err });
    if (err instanceof KubeNotFoundError) throw new InvalidStateError("The instance's pod went away; try again", { cause: err });
    throw err;
  }
}

import { type PostgresSslmode, postgresTls } from "./postgres-tls.js";

export interface InstancesServiceOptions {
  prisma: PrismaClient;
  /** The hot reads (list, get) past Prisma's query engine: `Database.read` (default: through `prisma`). */
  read?: SqlRead;
  clock: Clock;
  signal: InstanceSignal;
  quotas: QuotaService;
  /** The instance's subscription: plan changes are paid there, and deleting an instance cancels it. */
  subscriptions: InstanceSubscriptions;
  cluster: InstanceCluster;
  manifests: InstanceManifests;
  /** Stored instance credentials (the endpoint never reads the cluster's Secret). */
  credentials: InstanceCredentialsStore;
  baseDomain: string;
  /** What PostgreSQL connection details say about TLS (POSTGRES_TLS_SSLMODE; postgres-tls.ts). */
  postgresSslmode?: PostgresSslmode;
  audit?: AuditService;
}

type Owned = Instance & { plan: Plan; service: Service };

const EVENTS_PAGE = 500;

export class InstancesService {
  private readonly read: SqlRead;

  constructor(private readonly o: InstancesServiceOptions) {
    this.read = o.read ?? prismaRead(o.prisma);
  }

  private scope(caller: AuthIdentity): PrismaNs.InstanceWhereInput {
    return caller.role === "ADMIN" ? {} : { userId: caller.userId };
  }

  /** The instance if the caller may see it; 404 otherwise (also for another tenant's instance). */
  private async load(caller: AuthIdentity, id: string, opts: { ownerOnly?: boolean } = {}): Promise<Owned> {
    const where = opts.ownerOnly ? { id, userId: caller.userId } : { id, ...this.scope(caller) };
    const inst = await this.o.prisma.instance.findFirst({ where, include: instanceViewInclude });
    if (!inst) throw new NotFoundError("Instance not found");
    return inst;
  }

  /** One SQL statement: the page's JSON built by PostgreSQL, and the total (see instances.read.ts). */
  async list(caller: AuthIdentity, q: InstanceListQuery): Promise<Paginated<InstanceView>> {
    const { rows, total } = await readInstancePage(
      this.read,
      {
        userId: caller.role === "ADMIN" ? undefined : caller.userId,
        status: q.status,
        // TERMINATED instances are history: listed only when asked for.
        statusNotIn: q.status || q.includeTerminated ? undefined : ["TERMINATED"],
        service: q.service,
        ...(q.backupOverdue ? { backupOverdueAt: this.o.clock.now() } : {}),
      },
      skipTake(q),
    );
    return paginated(rows, total, q);
  }

  /** One SQL statement; 404 for an instance the caller may not see. */
  async get(caller: AuthIdentity, id: string): Promise<InstanceView> {
    const view = await readInstance(this.read, id, caller.role === "ADMIN" ? undefined : caller.userId);
    if (!view) throw new NotFoundError("Instance not found");
    return view;
  }

  /**
   * Buys a plan and provisions its instance in one call: exactly POST /api/subscriptions (the same
   * charge, quota check, idempotency scope and reconciler signal), with the instance's name as `name`.
   */
  async buy(caller: AuthIdentity, body: { planId: string; name: string }, idempotencyKey?: string): Promise<IdempotentResponse<Purchase>> {
    return this.o.subscriptions.create(caller, { planId: body.planId, instanceName: body.name }, idempotencyKey);
  }

  /** A new instance for a paid-up subscription that has no live instance (e.g. after its instance FAILED). */
  async create(caller: AuthIdentity, body: { subscriptionId: string; name?: string }): Promise<InstanceView> {
    const view = await inTransaction(this.o.prisma, async (tx) => {
      await lockUser(tx, caller.userId);
      const sub = await tx.subscription.findFirst({
        where: { id: body.subscriptionId, userId: caller.userId },
        include: { plan: { include: { service: true } }, instances: { orderBy: { createdAt: "desc" } } },
      });
      if (!sub) throw new NotFoundError("Subscription not found");
      if (sub.status !== "ACTIVE") {
        throw new InvalidStateError(`The subscription is ${sub.status}; only an ACTIVE subscription can get an instance`, {
          details: { status: sub.status },
        });
      }
      // A FAILED instance that had run still owns its objects and data: restart or delete it first.
      const live = sub.instances.find((i) => i.status !== "TERMINATED" && !(i.status === "FAILED" && !i.provisionedAt));
      if (live) {
        const hint = live.status === "FAILED" ? "; restart or delete it first" : "";
        throw new ConflictError(`The subscription already has instance '${live.name}' (${live.status})${hint}`, {
          details: { instanceId: live.id, status: live.status },
        });
      }
      const plan = sub.plan;
      await this.o.quotas.assertWithinQuota(tx, caller.userId, {
        instances: 1,
        cpuMilli: plan.cpuMilli,
        memoryMb: plan.memoryMb,
        storageGb: plan.storageGb,
      });
      const name = body.name ?? sub.instances[0]?.name ?? plan.service.slug;
      const inst = await createInstanceRow(tx, {
        userId: caller.userId,
        subscriptionId: sub.id,
        plan,
        name,
        baseDomain: this.o.baseDomain,
        eventMessage: `Instance requested for subscription to ${plan.service.name} ${plan.name}`,
        // The audit entry goes in the instance's statement (one round trip).
        alongside: (instanceId) =>
          this.o.audit
            ? [
                this.o.audit.entrySql({
                  request: caller.request,
                  action: "instance.create",
                  objectType: "instance",
                  objectId: instanceId,
                  details: { subscriptionId: sub.id, planId: plan.id, name },
                }),
              ]
            : [],
      });
      return toInstanceView(inst);
    });
    this.o.signal.instanceChanged(view.id);
    return view;
  }

  /** Resize to another plan of the same service: quota, pro-rata price difference, storage never shrinks. */
  async update(caller: AuthIdentity, id: string, body: { planId: string }): Promise<InstanceView> {
    const view = await inTransaction(this.o.prisma, async (tx) => {
      await lockUser(tx, caller.userId);
      const inst = await tx.instance.findFirst({
        where: { id, userId: caller.userId },
        include: { ...instanceViewInclude, subscription: true },
      });
      if (!inst) throw new NotFoundError("Instance not found");
      if (inst.status !== "RUNNING" || inst.desiredState !== "RUNNING") {
        throw new InvalidStateError(`Instance is ${inst.status}; only a RUNNING instance can change plan`, {
          details: { status: inst.status },
        });
      }
      const plan = await tx.plan.findUnique({ where: { id: body.planId }, include: { service: true } });
      if (!plan) throw new NotFoundError("Plan not found");
      if (plan.serviceId !== inst.serviceId) {
        throw new ConflictError(`Plan '${plan.service.slug}/${plan.slug}' belongs to another service`, { details: { planId: plan.id } });
      }
      if (!plan.isActive || !plan.service.isActive) throw new ConflictError(`Plan '${plan.service.slug}/${plan.slug}' is not available`);
      if (plan.id === inst.planId) throw new ConflictError("The instance already has this plan");
      if (plan.storageGb < inst.plan.storageGb) {
        throw new ConflictError(`Storage can only grow: ${inst.plan.storageGb} GB -> ${plan.storageGb} GB is a shrink`, {
          details: { currentStorageGb: inst.plan.storageGb, requestedStorageGb: plan.storageGb },
        });
      }
      await this.o.quotas.assertWithinQuota(tx, caller.userId, {
        instances: 0,
        cpuMilli: plan.cpuMilli - inst.plan.cpuMilli,
        memoryMb: plan.memoryMb - inst.plan.memoryMb,
        storageGb: plan.storageGb - inst.plan.storageGb,
      });
      const now = this.o.clock.now();
      const credits = await this.o.subscriptions.changePlan(tx, {
        userId: caller.userId,
        subscription: inst.subscription,
        instance: inst,
        fromPlan: inst.plan,
        toPlan: plan,
        now,
      });
      const updated = await state.requestPlanChange(tx, inst, {
        planId: plan.id,
        now,
        include: instanceViewInclude,
        message: `Plan change ${inst.plan.slug} -> ${plan.slug} requested`,
        data: { fromPlanId: inst.planId, toPlanId: plan.id, credits },
      });
      await this.o.audit?.record(tx, {
        request: caller.request,
        action: "instance.update",
        objectType: "instance",
        objectId: inst.id,
        details: { fromPlanId: inst.planId, toPlanId: plan.id },
      });
      return toInstanceView(updated);
    });
    this.o.signal.instanceChanged(id);
    return view;
  }

  async restart(caller: AuthIdentity, id: string): Promise<InstanceView> {
    const inst = await this.load(caller, id, { ownerOnly: true });
    // A FAILED instance that had run (e.g. a failed plan change) can be restarted to recover it.
    const recoverable = inst.status === "FAILED" && inst.provisionedAt !== null;
    if ((inst.status !== "RUNNING" && !recoverable) || inst.desiredState !== "RUNNING") {
      throw new InvalidStateError(`Instance is ${inst.status}; only a RUNNING instance (or a FAILED one that had run) can be restarted`, {
        details: { status: inst.status },
      });
    }
    if (!(await state.requestRestart(this.o.prisma, inst, this.o.clock.now()))) {
      throw new InvalidStateError("Instance changed state meanwhile; try again");
    }
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.restart",
      objectType: "instance",
      objectId: id,
      details: { fromStatus: inst.status },
    });
    this.o.signal.instanceChanged(id);
    return this.get(caller, id);
  }

  /**
   * Stops a RUNNING instance: scaled to 0 by the reconciler, every object, the volume and its data kept.
   * Billing does not pause: the plan's resources stay reserved (quota, storage), so the subscription
   * renews as usual — as a powered-off server still costs at DigitalOcean or Elestio.
   */
  async stop(caller: AuthIdentity, id: string): Promise<InstanceView> {
    const inst = await this.load(caller, id, { ownerOnly: true });
    if (inst.status !== "RUNNING" || inst.desiredState !== "RUNNING") {
      const shown = inst.desiredState === "STOPPED" ? "STOPPED" : inst.status;
      throw new InvalidStateError(
        `Instance is ${shown === "STOPPED" && inst.status !== "STOPPED" ? "already stopping" : shown}; only a RUNNING instance can be stopped`,
        {
          details: { status: inst.status, desiredState: inst.desiredState },
        },
      );
    }
    if (!(await state.requestStop(this.o.prisma, inst, this.o.clock.now()))) {
      throw new InvalidStateError("Instance changed state meanwhile; try again");
    }
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.stop",
      objectType: "instance",
      objectId: id,
      details: {},
    });
    this.o.signal.instanceChanged(id);
    return this.get(caller, id);
  }

  /** Starts a STOPPED instance again (its subscription must be ACTIVE: a PAST_DUE one is paid first). */
  async start(caller: AuthIdentity, id: string): Promise<InstanceView> {
    const inst = await this.load(caller, id, { ownerOnly: true });
    if (inst.status !== "STOPPED" || inst.desiredState !== "STOPPED") {
      throw new InvalidStateError(`Instance is ${inst.status}; only a STOPPED instance can be started`, {
        details: { status: inst.status, desiredState: inst.desiredState },
      });
    }
    const quiescing = await this.o.prisma.backup.findFirst({ where: { instanceId: id, status: "PENDING", quiescedAt: { not: null } } });
    if (quiescing) {
      throw new InvalidStateError("The instance is stopped for a backup and starts again by itself once the snapshot is cut", {
        details: { status: inst.status, backupId: quiescing.id },
      });
    }
    const sub = await this.o.prisma.subscription.findUnique({ where: { id: inst.subscriptionId }, select: { status: true } });
    if (sub?.status !== "ACTIVE") {
      throw new InvalidStateError(`The subscription is ${sub?.status ?? "gone"}; pay the renewal (add credits) before starting`, {
        details: { subscriptionStatus: sub?.status ?? null },
      });
    }
    if (!(await state.requestStart(this.o.prisma, inst, this.o.clock.now()))) {
      throw new InvalidStateError("Instance changed state meanwhile; try again");
    }
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.start",
      objectType: "instance",
      objectId: id,
      details: {},
    });
    this.o.signal.instanceChanged(id);
    return this.get(caller, id);
  }

  /**
   * Restores a READY backup: RESTORING — a new PVC from the backup's VolumeSnapshot, the workload
   * switched to it (scaled down and up again, as its Recreate/StatefulSet rollout does), the old PVC
   * deleted once the instance runs on the new one, or kept and switched back to if it never does.
   */
  async restore(caller: AuthIdentity, id: string, body: { backupId: string }): Promise<InstanceView> {
    const inst = await this.load(caller, id, { ownerOnly: true });
    if (inst.status !== "RUNNING" || inst.desiredState !== "RUNNING") {
      throw new InvalidStateError(`Instance is ${inst.status}; only a RUNNING instance can be restored`, {
        details: { status: inst.status, desiredState: inst.desiredState },
      });
    }
    const backup = await this.o.prisma.backup.findFirst({ where: { id: body.backupId, instanceId: id, deleteRequestedAt: null } });
    if (!backup) throw new NotFoundError("Backup not found");
    if (backup.status !== "READY") {
      throw new InvalidStateError(`Backup is ${backup.status}; only a READY backup can be restored`, {
        details: { backupStatus: backup.status },
      });
    }
    const claim = `${inst.k8sName}-restore-${randomBytes(3).toString("hex")}`;
    // While it runs, the old and the new volume both exist: the storage quota (also the namespace's
    // ResourceQuota) must have room for the plan's storage once more.
    const ok = await inTransaction(this.o.prisma, async (tx) => {
      await lockUser(tx, inst.userId);
      await this.o.quotas.assertWithinQuota(tx, inst.userId, { instances: 0, cpuMilli: 0, memoryMb: 0, storageGb: inst.plan.storageGb });
      return state.requestRestore(tx, inst, { claim, snapshot: backup.snapshotName, backupId: backup.id, now: this.o.clock.now() });
    });
    if (!ok) throw new InvalidStateError("Instance changed state meanwhile; try again");
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.restore",
      objectType: "instance",
      objectId: id,
      details: { backupId: backup.id },
    });
    this.o.signal.instanceChanged(id);
    return this.get(caller, id);
  }

  /** Terminates the instance and cancels its subscription (unused whole days refunded, as for a cancel). */
  async delete(caller: AuthIdentity, id: string): Promise<InstanceView> {
    const inst = await this.load(caller, id, { ownerOnly: true });
    if (inst.status === "TERMINATED" || inst.status === "TERMINATING" || inst.desiredState === "TERMINATED") {
      throw new InvalidStateError(`Instance is already ${inst.status === "TERMINATED" ? "TERMINATED" : "TERMINATING"}`, {
        details: { status: inst.status },
      });
    }
    const sub = await this.o.prisma.subscription.findUnique({ where: { id: inst.subscriptionId } });
    if (sub && sub.status !== "CANCELLED") {
      // Cancelling marks the subscription's instances for termination and signals the reconciler.
      await this.o.subscriptions.cancel(caller, sub.id);
    } else {
      await inTransaction(this.o.prisma, (tx) => state.requestTermination(tx, id));
    }
    await state.showTerminating(this.o.prisma, id, this.o.clock.now());
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.delete",
      objectType: "instance",
      objectId: id,
      details: { subscriptionId: inst.subscriptionId },
    });
    this.o.signal.instanceChanged(id);
    return this.get(caller, id);
  }

  async events(caller: AuthIdentity, id: string, q: InstanceEventsQuery): Promise<Paginated<InstanceEventView>> {
    await this.load(caller, id);
    const where = { instanceId: id, ...(q.after ? { createdAt: { gt: new Date(q.after) } } : {}) };
    const [rows, total] = await Promise.all([
      this.o.prisma.instanceEvent.findMany({ where, orderBy: [{ createdAt: "asc" }, { id: "asc" }], ...skipTake(q) }),
      this.o.prisma.instanceEvent.count({ where }),
    ]);
    return paginated(rows.map(toEventView), total, q);
  }

  /** The position of one of the instance's events, for resuming a stream (`Last-Event-ID`); 400 if unknown. */
  async eventCursor(id: string, eventId: string): Promise<{ createdAt: Date; id: string }> {
    const e = await this.o.prisma.instanceEvent.findFirst({
      where: { id: eventId, instanceId: id },
      select: { id: true, createdAt: true },
    });
    if (!e) {
      throw new ValidationError("Last-Event-ID is not an event of this instance", {
        details: [{ path: "Last-Event-ID", message: "unknown event id" }],
      });
    }
    return e;
  }

  /** Every event after a cursor (all of them without one), oldest first, for a stream's backlog. */
  async allEventsSince(id: string, after: { createdAt: Date; id: string } | undefined): Promise<InstanceEventView[]> {
    const out: InstanceEventView[] = [];
    let cursor = after;
    for (;;) {
      const batch = await this.eventsSince(id, cursor);
      out.push(...batch);
      const last = batch.at(-1);
      if (batch.length < EVENTS_PAGE || !last) return out;
      cursor = { createdAt: new Date(last.createdAt), id: last.id };
    }
  }

  /** Events newer than a cursor, for the live stream (read-only, already authorised by the caller). */
  async eventsSince(id: string, after: { createdAt: Date; id: string } | undefined): Promise<InstanceEventView[]> {
    const rows = await this.o.prisma.instanceEvent.findMany({
      where: {
        instanceId: id,
        ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: EVENTS_PAGE,
    });
    return rows.map(toEventView);
  }

  private async podFor(inst: Owned): Promise<{ name: string; container: string }> {
    if (inst.status === "TERMINATED" || inst.status === "TERMINATING") {
      throw new InvalidStateError(`Instance is ${inst.status}; it has no logs`, { details: { status: inst.status } });
    }
    const pod = await clusterRead(() => this.o.cluster.runningPod(inst.namespace, inst.id));
    if (!pod) throw new InvalidStateError("The instance has no running pod", { details: { status: inst.status } });
    return pod;
  }

  async logs(caller: AuthIdentity, id: string, q: InstanceLogsQuery): Promise<string[]> {
    const inst = await this.load(caller, id);
    const pod = await this.podFor(inst);
    return clusterRead(() =>
      this.o.cluster.logs(inst.namespace, pod.name, pod.container, { tailLines: q.tailLines, sinceSeconds: q.sinceSeconds }),
    );
  }

  async followLogs(caller: AuthIdentity, id: string, q: InstanceLogsQuery): Promise<Readable> {
    const inst = await this.load(caller, id);
    const pod = await this.podFor(inst);
    return clusterRead(() =>
      this.o.cluster.followLogs(inst.namespace, pod.name, pod.container, { tailLines: q.tailLines, sinceSeconds: q.sinceSeconds }),
    );
  }

  /**
   * An applied instance with no stored credentials was provisioned before they were kept in the
   * database, and the reconciler's adoption pass has not reached it yet: adopt its live Secret now
   * (once; the same path as the pass), instead of answering "not created yet" for a running instance.
   * Lost credentials (no row, no Secret) are a 409 saying so; nothing is ever generated here.
   */
  private async adoptCredentials(inst: Owned): Promise<Record<string, string> | undefined> {
    if (inst.appliedGeneration === 0) return undefined;
    try {
      return await clusterRead(() => resolveCredentials(this.o, inst, this.o.manifests.names(inst).secret));
    } catch (err) {
      if (err instanceof CredentialsLostError) throw new InvalidStateError(err.message, { details: { status: inst.status } });
      throw err;
    }
  }

  /**
   * Connection details, from the credentials stored in the database (the Secret is rendered from
   * them; no cluster call). Owner only: an admin gets a 404 too.
   */
  async credentials(caller: AuthIdentity, id: string): Promise<InstanceCredentials> {
    const inst = await this.load(caller, id, { ownerOnly: true });
    if (inst.status === "TERMINATED" || inst.status === "PENDING") {
      throw new InvalidStateError(`Instance is ${inst.status}; it has no credentials`, { details: { status: inst.status } });
    }
    const secret = (await this.o.credentials.read(inst.id)) ?? (await this.adoptCredentials(inst));
    if (!secret) throw new InvalidStateError("The instance's credentials are not created yet", { details: { status: inst.status } });
    const base = { instanceId: inst.id, service: inst.service.slug, url: this.o.manifests.url(inst) };
    if (inst.service.template === "postgresql") {
      const host = `${this.o.manifests.names(inst).service}.${inst.namespace}.svc.cluster.local`;
      const user = secret.POSTGRES_USER ?? "postgres";
      const database = secret.POSTGRES_DB ?? user;
      const password = secret.POSTGRES_PASSWORD ?? "";
      const connectionString = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${inst.service.port}/${encodeURIComponent(database)}`;
      return {
        ...base,
        host,
        port: inst.service.port,
        username: user,
        password,
        database,
        connectionString,
        ...postgresTls(this.o.postgresSslmode ?? "disable", connectionString),
      };
    }
    return { ...base, secrets: secret };
  }
}

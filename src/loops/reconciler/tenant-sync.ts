/**
 * Tenant baselines (namespace, ServiceAccount, ResourceQuota, LimitRange, NetworkPolicies) follow
 * the users' quotas. `ensure` applies one user's baseline while an instance is provisioned; `syncAll`
 * re-applies every active user's baseline whose rendering differs from what was last applied
 * (`users.tenant_applied_hash`), so an admin's quota change, or new quota defaults, reach the cluster
 * without any instance changing. Idempotent; safe to run on several replicas.
 */
import { createHash } from "node:crypto";
import { KubeError } from "../../kube/kube-errors.js";
import type { Manifest } from "../../kube/objects.js";
import type { InstanceCluster } from "../../modules/instances/instance-cluster.js";
import type { InstanceManifests } from "../../modules/instances/instance-manifests.js";
import type { QuotaService } from "../../modules/quotas/quotas.service.js";
import { Prisma, type PrismaClient, type SqlRead } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";

export interface TenantSyncOptions {
  prisma: PrismaClient;
  /** The per-instance check, past Prisma's engine. */
  read: SqlRead;
  cluster: InstanceCluster;
  manifests: InstanceManifests;
  quotas: QuotaService;
  logger: Logger;
  /** `syncAll` runs at most once per this interval from `maybeSyncAll`. */
  intervalMs: number;
}

/** A stable digest of rendered manifests (object key order is fixed by the templates). */
export function hashManifests(objects: Manifest[]): string {
  return createHash("sha256").update(JSON.stringify(objects)).digest("hex");
}

function namespaceOf(tenant: Manifest[]): string {
  const ns = tenant.find((m) => m.kind === "Namespace")?.metadata?.name;
  if (!ns) throw new Error("a tenant baseline always renders its Namespace");
  return ns;
}

/** The tenant namespace is still being deleted; retried by the reconciler (not a permanent error). */
export class TenantNamespaceTerminatingError extends Error {
  constructor(readonly namespace: string) {
    super(`namespace ${namespace} is still being deleted; the tenant baseline is applied once it is gone`);
    this.name = "TenantNamespaceTerminatingError";
  }
}

/** The user's namespace was deleted: nothing of its baseline is applied any more. */
export async function forgetTenant(prisma: PrismaClient, userId: string): Promise<void> {
  await prisma.user.update({ where: { id: userId }, data: { tenantAppliedHash: null, tenantAppliedFields: Prisma.DbNull } });
}

/** Records the baseline applied to the user's namespace: its hash and the fields each object got (one raw statement). */
async function recordTenantApplied(read: SqlRead, userId: string, hash: string, fields: Record<string, string>): Promise<void> {
  await read(Prisma.sql`
    UPDATE "users" SET "tenant_applied_hash" = ${hash}, "tenant_applied_fields" = ${JSON.stringify(fields)}::jsonb, "updated_at" = ${new Date()}
     WHERE "id" = ${userId}`);
}

export class TenantSync {
  private lastSync = 0;
  /** The last pass's rendering hash per user, with the limits it was rendered from. */
  private rendered = new Map<string, { limits: string; hash: string }>();

  constructor(private readonly o: TenantSyncOptions) {}

  /**
   * Makes sure the user's current baseline is in the cluster and records it as applied (with the
   * fields each object got, for the drift check). A baseline whose rendering equals the one last
   * applied is not applied again when its namespace is still there (one GET instead of ten applies
   * for a user's second instance; the GET is made for a first instance too, to find a namespace
   * still being deleted); the health sweep's drift repair forgets the applied hash of a
   * baseline whose objects were deleted or edited, so it is applied again. Returns the baseline.
   */
  async ensure(userId: string, opts: { force?: boolean } = {}): Promise<Manifest[]> {
    // The applied hash and the quota row in one statement.
    const [user] = await this.o.read<{
      hash: string | null;
      maxInstances: number | null;
      cpuMilli: number | null;
      memoryMb: number | null;
      storageGb: number | null;
    }>(Prisma.sql`
      SELECT u."tenant_applied_hash" AS "hash", q."max_instances" AS "maxInstances", q."cpu_milli" AS "cpuMilli",
             q."memory_mb" AS "memoryMb", q."storage_gb" AS "storageGb"
        FROM "users" u LEFT JOIN "quotas" q ON q."user_id" = u."id" WHERE u."id" = ${userId}`);
    if (!user) throw new Error(`user ${userId} not found`);
    const quota =
      user.maxInstances === null
        ? null
        : {
            maxInstances: user.maxInstances,
            cpuMilli: Number(user.cpuMilli),
            memoryMb: Number(user.memoryMb),
            storageGb: Number(user.storageGb),
          };
    const tenant = this.o.manifests.tenant(userId, this.o.quotas.limitsOf(quota));
    const hash = hashManifests(tenant);
    const namespace = namespaceOf(tenant);
    const state = await this.o.cluster.namespaceState(namespace);
    // The user's last instance was just removed and its namespace is still being deleted: applying the
    // Namespace does not stop that, and nothing new can be created in it (a real API server answers
    // 403 "being terminated", then 404 once it is gone). A transient error: the reconciler retries with
    // its backoff until the namespace is gone, then applies the baseline afresh.
    if (state === "terminating") throw new TenantNamespaceTerminatingError(namespace);
    if (!opts.force && hash === user.hash && state === "active") return tenant;
    const fields = await this.o.cluster.applyAll(tenant);
    await recordTenantApplied(this.o.read, userId, hash, fields);
    return tenant;
  }

  /** Re-applies every changed baseline of a user with a live instance. Returns the users whose baseline was applied. */
  async syncAll(): Promise<string[]> {
    const users = await this.o.prisma.user.findMany({
      where: {
        instances: {
          some: { status: { in: ["PROVISIONING", "RUNNING", "UPDATING", "RESTARTING", "SUSPENDED", "STOPPED", "RESTORING", "UPGRADING"] } },
        },
      },
      select: { id: true, tenantAppliedHash: true, quota: true },
    });
    const applied: string[] = [];
    const rendered = new Map<string, { limits: string; hash: string }>();
    for (const [k, u] of users.entries()) {
      // A pass over thousands of users must not hold the event loop (the API answers requests on it).
      if (k % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      // Quotas come with the users: one query for the whole pass, not one per user.
      const limits = this.o.quotas.limitsOf(u.quota);
      const key = `${limits.maxInstances}/${limits.cpuMilli}/${limits.memoryMb}/${limits.storageGb}`;
      // A baseline renders from the user's id, their limits and this process's configuration: rendered
      // (and hashed: ~40 us a user) again only when the limits changed since the last pass.
      const last = this.rendered.get(u.id);
      const hash = last?.limits === key ? last.hash : hashManifests(this.o.manifests.tenant(u.id, limits));
      rendered.set(u.id, { limits: key, hash });
      if (hash === u.tenantAppliedHash) continue;
      const tenant = this.o.manifests.tenant(u.id, limits);
      let fields: Record<string, string>;
      try {
        fields = await this.o.cluster.applyAll(tenant);
      } catch (err) {
        // Next sync tries again. One broken namespace does not stop the others, but an unreachable
        // cluster ends the pass (it would fail the same way for every user, delaying instance work).
        this.o.logger.warn({ err: (err as Error).message, userId: u.id }, "tenant baseline sync failed");
        if (err instanceof KubeError && err.transient) break;
        continue;
      }
      await recordTenantApplied(this.o.read, u.id, hash, fields);
      applied.push(u.id);
    }
    // Only the users of this pass: a user without a live instance any more drops out.
    this.rendered = rendered;
    return applied;
  }

  /** `syncAll`, at most once per interval. */
  async maybeSyncAll(): Promise<void> {
    if (Date.now() - this.lastSync < this.o.intervalMs) return;
    this.lastSync = Date.now();
    await this.syncAll();
  }
}

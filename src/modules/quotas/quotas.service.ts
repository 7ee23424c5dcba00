/**
 * Per-user resource limits and usage. A user without a `quotas` row gets the configured defaults.
 * Usage counts the user's instances that hold (or are about to hold) resources: status not TERMINATED
 * or FAILED, and not already asked to terminate (desiredState TERMINATED) — a cancelled instance frees
 * its share at once, even while the cluster is still removing it. Storage also counts the user's
 * backups (PENDING or READY, not being deleted, of a live instance or retained after a deleted one):
 * each its restore size in whole GiB, rounded up (the instance's plan storage while it is pending).
 */
import type { RequestContext } from "../../platform/request-context.js";
import type { AuditService } from "../audit/audit.service.js";
import { type Db, Prisma, type PrismaClient, type SqlTarget, sqlRows } from "../../platform/db/index.js";
import { NotFoundError, QuotaExceededError } from "../../platform/domain-errors.js";
import type { AdminQuotaView, QuotaLimits, QuotaPutReq, QuotaUsage, QuotaView } from "./quotas.schema.js";

export type { QuotaLimits, QuotaUsage, QuotaView };

export const QUOTA_LIMITS = ["maxInstances", "cpuMilli", "memoryMb", "storageGb"] as const;
export type QuotaLimitName = (typeof QUOTA_LIMITS)[number];

/** What an operation adds (or, negative, frees): a new instance is {instances: 1, ...plan}; a plan change is the difference. */
export type ResourceDelta = QuotaUsage;

const USAGE_KEY: Record<QuotaLimitName, keyof QuotaUsage> = {
  maxInstances: "instances",
  cpuMilli: "cpuMilli",
  memoryMb: "memoryMb",
  storageGb: "storageGb",
};

export class QuotaService {
  constructor(private readonly opts: { prisma: PrismaClient; defaults: QuotaLimits; audit?: AuditService }) {}

  async limits(db: Db, userId: string): Promise<QuotaLimits> {
    return this.limitsOf(await db.quota.findUnique({ where: { userId } }));
  }

  /** A user's limits from their quota row (already loaded), or the defaults when they have none. */
  limitsOf(q: QuotaLimits | null | undefined): QuotaLimits {
    if (!q) return { ...this.opts.defaults };
    return { maxInstances: q.maxInstances, cpuMilli: q.cpuMilli, memoryMb: q.memoryMb, storageGb: q.storageGb };
  }

  /**
   * Resources held by the user's live instances (a FAILED instance that had run still holds its volume
   * and objects), optionally ignoring some (e.g. the one being resized).
   */
  async usage(db: Db, userId: string, opts: { excludeInstanceIds?: string[] } = {}): Promise<QuotaUsage> {
    return (await this.limitsAndUsage(db, userId, opts)).usage;
  }

  /**
   * The user's limits and usage in one statement: the usage rule (see the top of this file) as SQL,
   * the limits from the quota row or the defaults.
   */
  private async limitsAndUsage(db: SqlTarget, userId: string, opts: { excludeInstanceIds?: string[] } = {}): Promise<QuotaView> {
    const exclude = opts.excludeInstanceIds?.length ? Prisma.sql`AND i."id" <> ALL(${opts.excludeInstanceIds}::text[])` : Prisma.empty;
    const rows = await sqlRows<{
      has_quota: boolean;
      max_instances: number | null;
      q_cpu: number | null;
      q_memory: number | null;
      q_storage: number | null;
      instances: number;
      cpu: number;
      memory: number;
      storage: number;
      backup_storage: number;
    }>(
      db,
      Prisma.sql`
      SELECT q."user_id" IS NOT NULL AS "has_quota", q."max_instances", q."cpu_milli" AS "q_cpu", q."memory_mb" AS "q_memory",
             q."storage_gb" AS "q_storage", u."instances", u."cpu", u."memory", u."storage", b."backup_storage"
        FROM (SELECT 1) AS one
        LEFT JOIN "quotas" q ON q."user_id" = ${userId}
       CROSS JOIN (
         SELECT count(*)::int AS "instances", coalesce(sum(p."cpu_milli"), 0)::int AS "cpu",
                coalesce(sum(p."memory_mb"), 0)::int AS "memory", coalesce(sum(p."storage_gb"), 0)::int AS "storage"
           FROM "instances" i JOIN "plans" p ON p."id" = i."plan_id"
          WHERE i."user_id" = ${userId} AND i."status" <> 'TERMINATED' AND i."desired_state" <> 'TERMINATED'
            AND NOT (i."status" = 'FAILED' AND i."provisioned_at" IS NULL) ${exclude}) AS u
       CROSS JOIN (
         SELECT coalesce(sum(CASE WHEN b."size_bytes" IS NULL THEN p."storage_gb" ELSE ceil(b."size_bytes" / 1073741824.0) END), 0)::int AS "backup_storage"
           FROM "backups" b JOIN "instances" i ON i."id" = b."instance_id" JOIN "plans" p ON p."id" = i."plan_id"
          WHERE b."user_id" = ${userId} AND b."status" IN ('PENDING', 'READY') AND b."delete_requested_at" IS NULL
            AND (i."status" <> 'TERMINATED' OR b."retained_until" IS NOT NULL)) AS b`,
    );
    const r = rows[0];
    if (!r) throw new Error("quota usage query returned no row");
    const limits = this.limitsOf(
      r.has_quota
        ? { maxInstances: Number(r.max_instances), cpuMilli: Number(r.q_cpu), memoryMb: Number(r.q_memory), storageGb: Number(r.q_storage) }
        : null,
    );
    return {
      limits,
      usage: {
        instances: Number(r.instances),
        cpuMilli: Number(r.cpu),
        memoryMb: Number(r.memory),
        storageGb: Number(r.storage) + Number(r.backup_storage),
      },
    };
  }

  async view(userId: string, db: Db = this.opts.prisma): Promise<QuotaView> {
    return this.limitsAndUsage(db, userId);
  }

  /**
   * Throws QuotaExceededError (422 QUOTA_EXCEEDED, details {limit, max, current, requested}) when
   * adding `requested` to the current usage would exceed a limit. Only growing resources are checked.
   * Call it inside the transaction that creates or grows the instance, AFTER `lockUser(tx, userId)`,
   * so that two concurrent requests cannot both pass on the same usage.
   */
  async assertWithinQuota(
    tx: SqlTarget,
    userId: string,
    requested: ResourceDelta,
    opts: { excludeInstanceIds?: string[] } = {},
  ): Promise<void> {
    const { limits, usage } = await this.limitsAndUsage(tx, userId, opts);
    for (const limit of QUOTA_LIMITS) {
      const key = USAGE_KEY[limit];
      const req = requested[key];
      if (req <= 0) continue;
      const max = limits[limit];
      const current = usage[key];
      if (current + req > max) {
        throw new QuotaExceededError(`Quota exceeded: ${limit} is ${max}, ${current} in use, ${req} requested`, {
          details: { limit, max, current, requested: req },
        });
      }
    }
  }

  /** Admin: replaces the user's limits. */
  async setLimits(userId: string, limits: QuotaPutReq, request: RequestContext | undefined): Promise<AdminQuotaView> {
    const user = await this.opts.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!user) throw new NotFoundError("User not found");
    await this.opts.prisma.quota.upsert({ where: { userId }, create: { userId, ...limits }, update: limits });
    await this.opts.audit?.record(this.opts.prisma, {
      request,
      action: "admin.quota.set",
      objectType: "user",
      objectId: userId,
      details: { ...limits },
    });
    return { userId, ...(await this.view(userId)) };
  }

  async adminView(userId: string): Promise<AdminQuotaView> {
    const user = await this.opts.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!user) throw new NotFoundError("User not found");
    return { userId, ...(await this.view(userId)) };
  }
}

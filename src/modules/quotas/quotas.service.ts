/**
 * Per-user resource limits and usage. A user without a `quotas` row gets the configured defaults.
 * Usage counts the user's instances that hold (or are about to hold) resources: status not TERMINATED
 * or FAILED, and not already asked to terminate (desiredState TERMINATED) — a cancelled instance frees
 * its share at once, even while the cluster is still removing it. Storage also counts the user's
 * backups (PENDING or READY, not being deleted, of a live instance or retained after a deleted one):
 * each its restore size in whole GiB, rounded up (the instance's plan storage while it is pending).
 */
import type { AuditService } from "../audit/audit.service.js";
import type { Db, PrismaClient, Tx } from "../../platform/db/index.js";
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
    const rows = await db.instance.findMany({
      where: {
        userId,
        status: { not: "TERMINATED" },
        desiredState: { not: "TERMINATED" },
        // A FAILED instance that never ran was rolled back; one that had run keeps its objects and data.
        NOT: { status: "FAILED", provisionedAt: null },
        ...(opts.excludeInstanceIds?.length ? { id: { notIn: opts.excludeInstanceIds } } : {}),
      },
      select: { plan: { select: { cpuMilli: true, memoryMb: true, storageGb: true } } },
    });
    const usage: QuotaUsage = { instances: 0, cpuMilli: 0, memoryMb: 0, storageGb: 0 };
    for (const { plan } of rows) {
      usage.instances += 1;
      usage.cpuMilli += plan.cpuMilli;
      usage.memoryMb += plan.memoryMb;
      usage.storageGb += plan.storageGb;
    }
    const backups = await db.backup.findMany({
      where: {
        userId,
        status: { in: ["PENDING", "READY"] },
        deleteRequestedAt: null,
        // A deleted instance's retained backup still holds its snapshot.
        OR: [{ instance: { status: { not: "TERMINATED" } } }, { retainedUntil: { not: null } }],
      },
      select: { sizeBytes: true, instance: { select: { plan: { select: { storageGb: true } } } } },
    });
    for (const b of backups) {
      usage.storageGb += b.sizeBytes === null ? b.instance.plan.storageGb : Math.ceil(Number(b.sizeBytes) / 2 ** 30);
    }
    return usage;
  }

  async view(userId: string, db: Db = this.opts.prisma): Promise<QuotaView> {
    const [limits, usage] = await Promise.all([this.limits(db, userId), this.usage(db, userId)]);
    return { limits, usage };
  }

  /**
   * Throws QuotaExceededError (422 QUOTA_EXCEEDED, details {limit, max, current, requested}) when
   * adding `requested` to the current usage would exceed a limit. Only growing resources are checked.
   * Call it inside the transaction that creates or grows the instance, AFTER `lockUser(tx, userId)`,
   * so that two concurrent requests cannot both pass on the same usage.
   */
  async assertWithinQuota(tx: Tx, userId: string, requested: ResourceDelta, opts: { excludeInstanceIds?: string[] } = {}): Promise<void> {
    const limits = await this.limits(tx, userId);
    const usage = await this.usage(tx, userId, opts);
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
  async setLimits(userId: string, limits: QuotaPutReq): Promise<AdminQuotaView> {
    const user = await this.opts.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!user) throw new NotFoundError("User not found");
    await this.opts.prisma.quota.upsert({ where: { userId }, create: { userId, ...limits }, update: limits });
    await this.opts.audit?.record(this.opts.prisma, {
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

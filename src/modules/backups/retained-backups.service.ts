/**
 * Backups kept after their instance was deleted, as their owner sees them: the list (restorable ones
 * only: retention not over, not being deleted) and giving one up early. Restoring one into a new
 * instance goes through POST /api/subscriptions {restoreBackupId} (billing, quota and idempotency on
 * the one purchase path; see backup-retention.ts). Owner only: another user's backup is a 404.
 */
import type { Backup, Instance, Plan, Service } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { NotFoundError } from "../../platform/domain-errors.js";
import type { AuthIdentity } from "../../platform/http/auth.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { AuditService } from "../audit/audit.service.js";
import { releaseRetained, retainedWhere } from "./backup-retention.js";
import { planSummary, serviceSummary } from "../instances/instances.view.js";
import { toBackupView } from "./backups.service.js";
import type { RetainedBackupListQuery, RetainedBackupView } from "./retained-backups.schema.js";

type Row = Backup & { instance: Instance & { plan: Plan; service: Service } };
const include = { instance: { include: { plan: true, service: true } } } as const;

function toRetainedBackupView(b: Row): RetainedBackupView {
  const { instance: i } = b;
  return {
    ...toBackupView(b),
    retainedUntil: (b.retainedUntil ?? new Date(0)).toISOString(),
    instance: { id: i.id, name: i.name, terminatedAt: i.terminatedAt?.toISOString() ?? null },
    service: serviceSummary(i.service),
    plan: planSummary(i.plan),
  };
}

export class RetainedBackupsService {
  constructor(private readonly o: { prisma: PrismaClient; clock: Clock; wake: () => void; audit?: AuditService }) {}

  /** The caller's restorable retained backups, newest first. */
  async list(caller: AuthIdentity, q: RetainedBackupListQuery): Promise<Paginated<RetainedBackupView>> {
    const where = retainedWhere(caller.userId, this.o.clock.now());
    const [rows, total] = await Promise.all([
      this.o.prisma.backup.findMany({ where, include, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      this.o.prisma.backup.count({ where }),
    ]);
    return paginated(rows.map(toRetainedBackupView), total, q);
  }

  /** Gives a retained backup up before its retention ends: the loop deletes its snapshot (and then the namespace if it was the last thing in it). */
  async release(caller: AuthIdentity, backupId: string): Promise<RetainedBackupView> {
    const now = this.o.clock.now();
    const row = await this.o.prisma.backup.findFirst({ where: { id: backupId, ...retainedWhere(caller.userId, now) }, include });
    if (!row || !(await releaseRetained(this.o.prisma, row, now))) throw new NotFoundError("Backup not found");
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.backup.delete",
      objectType: "instance",
      objectId: row.instanceId,
      details: { backupId, retained: true },
    });
    this.o.wake();
    const updated = await this.o.prisma.backup.findUniqueOrThrow({ where: { id: backupId }, include });
    return toRetainedBackupView(updated);
  }
}

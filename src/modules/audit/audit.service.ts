/**
 * The audit log: who did what to which object, from which IP, and when. Services call `record` in
 * the same transaction as the action (so a rolled-back action leaves no entry) with one line; the
 * actor, IP and request id come from the request's context (`request`: the caller's identity carries
 * it, or the controller hands it down). The table is append-only in the database (see the
 * migration); retention deletes only through `audit_events_prune()`. Details never carry secrets:
 * keys that look like one are dropped before writing.
 */
import type { AuditEvent } from "../../generated/prisma/client.js";
import { Prisma, type PrismaClient, type SqlTarget, sqlRows } from "../../platform/db/index.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { Logger } from "../../platform/logger.js";
import type { RequestContext } from "../../platform/request-context.js";
import type { AuditEventView, AuditListQuery } from "./audit.schema.js";

export interface AuditEntry {
  /** e.g. `auth.login.failed`, `admin.quota.set`, `instance.restart`. */
  action: string;
  objectType: string;
  objectId?: string | null;
  /** Non-secret context; secret-looking keys are dropped. */
  details?: Record<string, unknown>;
  /** The request the action came from (its id, client IP and caller); undefined outside a request. */
  request: RequestContext | undefined;
  /** Defaults to the authenticated caller of `request`. */
  actorId?: string | null;
  actorRole?: string | null;
}

const SECRET_KEY = /pass(word)?|token|secret|credential|hash|authorization|cookie|private/i;

/** A copy without secret-looking keys (at any depth). */
export function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (!SECRET_KEY.test(k)) out[k] = withoutSecrets(v, depth + 1);
  return out;
}

export function toAuditEventView(e: AuditEvent): AuditEventView {
  return {
    id: e.id.toString(),
    createdAt: e.createdAt.toISOString(),
    actorId: e.actorId,
    actorRole: e.actorRole,
    action: e.action,
    objectType: e.objectType,
    objectId: e.objectId,
    ip: e.ip,
    requestId: e.requestId,
    details: (e.details as Record<string, unknown> | null) ?? null,
  };
}

export class AuditService {
  constructor(private readonly opts: { prisma: PrismaClient; logger: Logger }) {}

  /** Records one event, in `db` (pass the action's transaction). One raw statement. */
  async record(db: SqlTarget, entry: AuditEntry): Promise<void> {
    await sqlRows(db, this.entrySql(entry));
  }

  /**
   * The INSERT of one event, to run alone (`record`) or inside the statement of the action it records
   * (e.g. as a CTE of the instance's INSERT, `createInstanceRow`'s `alongside`).
   */
  entrySql(entry: AuditEntry): Prisma.Sql {
    const ctx = entry.request;
    const actorId = entry.actorId !== undefined ? entry.actorId : (ctx?.actor?.userId ?? null);
    const actorRole = entry.actorRole !== undefined ? entry.actorRole : (ctx?.actor?.role ?? null);
    const details = entry.details ? JSON.stringify(withoutSecrets(entry.details)) : null;
    return Prisma.sql`
      INSERT INTO "audit_events" ("created_at", "actor_id", "actor_role", "action", "object_type", "object_id", "ip", "request_id", "details")
      VALUES (${new Date()}, ${actorId}, ${actorRole}, ${entry.action}, ${entry.objectType}, ${entry.objectId ?? null},
              ${ctx?.ip ?? null}, ${ctx?.requestId ?? null}, ${details}::jsonb)`;
  }

  async list(q: AuditListQuery): Promise<Paginated<AuditEventView>> {
    const action = q.action?.endsWith(".") ? { startsWith: q.action } : q.action;
    const where = {
      ...(q.actorId ? { actorId: q.actorId } : {}),
      ...(q.objectType ? { objectType: q.objectType } : {}),
      ...(q.objectId ? { objectId: q.objectId } : {}),
      ...(action ? { action } : {}),
      ...(q.from || q.to ? { createdAt: { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lt: q.to } : {}) } } : {}),
    };
    const [rows, total] = await Promise.all([
      this.opts.prisma.auditEvent.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      this.opts.prisma.auditEvent.count({ where }),
    ]);
    return paginated(rows.map(toAuditEventView), total, q);
  }

  /**
   * Retention: deletes events older than `cutoff` in batches through the database function that is
   * the only way past the append-only trigger (it never deletes anything younger than a day).
   */
  async pruneOlderThan(cutoff: Date, batchSize = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const [r] = await this.opts.prisma.$queryRaw<
        Array<{ n: number }>
      >`SELECT audit_events_prune(${cutoff}::timestamptz, ${batchSize}::int) AS n`;
      const n = Number(r?.n ?? 0);
      total += n;
      if (n < batchSize) break;
    }
    if (total) this.opts.logger.info({ deleted: total, cutoff }, "pruned audit events past retention");
    return total;
  }
}

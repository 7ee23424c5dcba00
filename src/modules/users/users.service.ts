/** Admin view of accounts: who they are, their balance and quota. */
import type { RequestContext } from "../../platform/request-context.js";
import type { User } from "../../generated/prisma/client.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, found } from "../../platform/domain-errors.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { QuotaService } from "../quotas/quotas.service.js";
import type { AuditService } from "../audit/audit.service.js";
import type { SessionRevocations } from "../auth/session-revocations.js";
import type { AdminUserDetail, AdminUsersListQuery, AdminUserUpdateReq, AdminUserView } from "./users.schema.js";
import { inTransaction } from "../../platform/transaction.js";

export type { AdminUserView };

export function toAdminUserView(u: User): AdminUserView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    creditBalance: u.creditBalance,
    disabledAt: u.disabledAt?.toISOString() ?? null,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}

export class UsersService {
  constructor(
    private readonly opts: {
      prisma: PrismaClient;
      quotas: QuotaService;
      revocations?: SessionRevocations;
      audit?: AuditService;
      clock?: Clock;
    },
  ) {}

  async list(q: AdminUsersListQuery): Promise<Paginated<AdminUserView>> {
    const where = q.email ? { email: { contains: q.email.toLowerCase() } } : {};
    const [rows, total] = await Promise.all([
      this.opts.prisma.user.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      this.opts.prisma.user.count({ where }),
    ]);
    return paginated(rows.map(toAdminUserView), total, q);
  }

  async get(id: string): Promise<AdminUserDetail> {
    const user = found(await this.opts.prisma.user.findUnique({ where: { id } }), "User");
    return { ...toAdminUserView(user), quota: await this.opts.quotas.view(id) };
  }

  /**
   * Disables/enables an account or changes its role. Disabling or a role change revokes every
   * session of the user (access tokens carry the role), on every replica within about a second.
   */
  async update(adminId: string, id: string, body: AdminUserUpdateReq, request: RequestContext | undefined): Promise<AdminUserView> {
    if (id === adminId) throw new ConflictError("An admin cannot disable or change the role of their own account");
    return inTransaction(this.opts.prisma, async (tx) => {
      const before = found(await tx.user.findUnique({ where: { id } }), "User");
      const disable = body.disabled === true && !before.disabledAt;
      const enable = body.disabled === false && !!before.disabledAt;
      const roleChange = body.role !== undefined && body.role !== before.role;
      const now = this.opts.clock?.now() ?? new Date();
      const user = await tx.user.update({
        where: { id },
        data: { ...(disable ? { disabledAt: now } : enable ? { disabledAt: null } : {}), ...(roleChange ? { role: body.role } : {}) },
      });
      const reason = disable ? "user-disabled" : "role-change";
      const revoked = disable || roleChange ? await this.opts.revocations?.revokeUser(tx, id, reason) : 0;
      if (disable)
        await this.opts.audit?.record(tx, {
          request,
          action: "admin.user.disable",
          objectType: "user",
          objectId: id,
          details: { sessionsRevoked: revoked },
        });
      if (enable) await this.opts.audit?.record(tx, { request, action: "admin.user.enable", objectType: "user", objectId: id });
      if (roleChange)
        await this.opts.audit?.record(tx, {
          request,
          action: "admin.user.role",
          objectType: "user",
          objectId: id,
          details: { from: before.role, to: user.role, sessionsRevoked: revoked },
        });
      return toAdminUserView(user);
    });
  }
}

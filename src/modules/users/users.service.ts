/** Admin view of accounts: who they are, their balance and quota. */
import type { Role, User } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { found } from "../../platform/domain-errors.js";
import { type Paginated, paginated, skipTake } from "../../platform/http/pagination.js";
import type { QuotaService, QuotaView } from "../quotas/quotas.service.js";
import type { AdminUsersListQuery } from "./users.schema.js";

export interface AdminUserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  creditBalance: number;
  createdAt: string;
  updatedAt: string;
}

export function toAdminUserView(u: User): AdminUserView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    creditBalance: u.creditBalance,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}

export class UsersService {
  constructor(private readonly opts: { prisma: PrismaClient; quotas: QuotaService }) {}

  async list(q: AdminUsersListQuery): Promise<Paginated<AdminUserView>> {
    const where = q.email ? { email: { contains: q.email.toLowerCase() } } : {};
    const [rows, total] = await Promise.all([
      this.opts.prisma.user.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...skipTake(q) }),
      this.opts.prisma.user.count({ where }),
    ]);
    return paginated(rows.map(toAdminUserView), total, q);
  }

  async get(id: string): Promise<AdminUserView & { quota: QuotaView }> {
    const user = found(await this.opts.prisma.user.findUnique({ where: { id } }), "User");
    return { ...toAdminUserView(user), quota: await this.opts.quotas.view(id) };
  }
}

import { z } from "zod";
import { Role } from "../../generated/prisma/enums.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";
import { QuotaViewSchema } from "../quotas/quotas.schema.js";

export const AdminUsersListQuerySchema = PageQuerySchema.extend({
  /** Substring of the (lowercased) email. */
  email: z.string().trim().min(1).max(254).optional(),
}).strict();
export type AdminUsersListQuery = z.infer<typeof AdminUsersListQuerySchema>;

export const AdminUserParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

/** At least one change; an admin cannot disable or demote their own account. */
export const AdminUserUpdateSchema = z
  .strictObject({
    /** true: no login or refresh, every session revoked; false: may log in again. */
    disabled: z.boolean().optional(),
    /** A role change revokes the user's sessions (access tokens carry the role). */
    role: z.enum(["USER", "ADMIN"]).optional(),
  })
  .refine((b) => b.disabled !== undefined || b.role !== undefined, { message: "give disabled and/or role" });
export type AdminUserUpdateReq = z.infer<typeof AdminUserUpdateSchema>;

// Responses.

export const AdminUserViewSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(Role),
  creditBalance: z.number().int().min(0),
  disabledAt: IsoDateTime.nullable().describe("When an admin disabled the account; null when active"),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type AdminUserView = z.infer<typeof AdminUserViewSchema>;

export const AdminUserDetailSchema = z.object({ ...AdminUserViewSchema.shape, quota: QuotaViewSchema });
export type AdminUserDetail = z.infer<typeof AdminUserDetailSchema>;

export const AdminUsersListResponseSchema = pageOf(AdminUserViewSchema);
export const AdminUserResponseSchema = z.object({ user: AdminUserDetailSchema });
export const AdminUserUpdateResponseSchema = z.object({ user: AdminUserViewSchema });

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

// Responses.

export const AdminUserViewSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(Role),
  creditBalance: z.number().int().min(0),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type AdminUserView = z.infer<typeof AdminUserViewSchema>;

export const AdminUserDetailSchema = z.object({ ...AdminUserViewSchema.shape, quota: QuotaViewSchema });
export type AdminUserDetail = z.infer<typeof AdminUserDetailSchema>;

export const AdminUsersListResponseSchema = pageOf(AdminUserViewSchema);
export const AdminUserResponseSchema = z.object({ user: AdminUserDetailSchema });

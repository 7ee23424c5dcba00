import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";

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

export const AdminUserResponseSchema = z.object({
  user: z.object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(["USER", "ADMIN"]),
    creditBalance: z.number().int(),
    disabledAt: z.string().nullable().describe("When an admin disabled the account; null when active"),
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
});

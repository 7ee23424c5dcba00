import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";

export const AdminUsersListQuerySchema = PageQuerySchema.extend({
  /** Substring of the (lowercased) email. */
  email: z.string().trim().min(1).max(254).optional(),
}).strict();
export type AdminUsersListQuery = z.infer<typeof AdminUsersListQuerySchema>;

export const AdminUserParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

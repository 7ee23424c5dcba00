import { z } from "zod";
import type { PageInfoSchema } from "./schemas.js";

export const PageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});
export type PageQuery = z.infer<typeof PageQuerySchema>;

export type PageInfo = z.infer<typeof PageInfoSchema>;

export interface Paginated<T> {
  data: T[];
  page: PageInfo;
}

export function skipTake(q: PageQuery): { skip: number; take: number } {
  return { skip: (q.page - 1) * q.pageSize, take: q.pageSize };
}

export function paginated<T>(data: T[], total: number, q: PageQuery): Paginated<T> {
  return { data, page: { page: q.page, pageSize: q.pageSize, total, totalPages: Math.ceil(total / q.pageSize) } };
}

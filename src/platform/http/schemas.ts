/**
 * Building blocks of the response schemas. Each module's `<feature>.schema.ts` describes its
 * responses with these, its view mappers are typed with the inferred types (so a mapper cannot
 * return a field the document does not describe), and `doc({ response: { schema } })` puts the same
 * schema into `/openapi.json` (output side: what a client receives).
 */
import { z } from "zod";

/** An ISO-8601 UTC timestamp, as every time in the API is written (`Date#toISOString`). */
export const IsoDateTime = z.iso.datetime();

/** The `page` object of every paginated list. */
export const PageInfoSchema = z.object({
  page: z.number().int().min(1),
  pageSize: z.number().int().min(0),
  total: z.number().int().min(0),
  totalPages: z.number().int().min(0),
});

/** `{data: [item], page}`: the shape of every list. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), page: PageInfoSchema });
}

import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";

export const UserIdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

export const CreditsTransactionsQuerySchema = PageQuerySchema.strict();
export type CreditsTransactionsQuery = z.infer<typeof CreditsTransactionsQuerySchema>;

/** Admin grant: a positive amount is a TOPUP, a negative one an ADJUSTMENT (which cannot overdraw). */
export const CreditsGrantSchema = z.strictObject({
  amount: z
    .number()
    .int()
    .min(-10_000_000)
    .max(10_000_000)
    .refine((v) => v !== 0, "must not be 0"),
  reason: z.string().trim().min(1).max(500),
});
export type CreditsGrantReq = z.infer<typeof CreditsGrantSchema>;

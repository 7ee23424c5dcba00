import { z } from "zod";
import { CreditTransactionType } from "../../generated/prisma/enums.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";

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

// Responses.

export const CreditTransactionViewSchema = z.object({
  id: z.string(),
  userId: z.string(),
  type: z.enum(CreditTransactionType),
  amount: z.number().int().describe("Signed credits: positive adds, negative spends"),
  balanceAfter: z.number().int().min(0),
  reason: z.string(),
  referenceType: z.string().nullable(),
  referenceId: z.string().nullable(),
  createdById: z.string().nullable().describe("The admin who made a manual entry"),
  createdAt: IsoDateTime,
});
export type CreditTransactionView = z.infer<typeof CreditTransactionViewSchema>;

export const CreditsBalanceResponseSchema = z.object({ balance: z.number().int().min(0) });
export const CreditsTransactionsResponseSchema = pageOf(CreditTransactionViewSchema);
export const CreditsGrantResponseSchema = z.object({ transaction: CreditTransactionViewSchema });
export type CreditsGrantResponse = z.infer<typeof CreditsGrantResponseSchema>;

import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { IdempotencyKeySchema } from "../../platform/idempotency.js";
import { validate } from "../../platform/http/request-validation.js";
import { CreditsController } from "./credits.controller.js";
import {
  CreditsBalanceResponseSchema,
  CreditsGrantResponseSchema,
  CreditsGrantSchema,
  CreditsTransactionsQuerySchema,
  CreditsTransactionsResponseSchema,
  UserIdParamsSchema,
} from "./credits.schema.js";
import type { CreditsService } from "./credits.service.js";

/** The caller's credits: mounted at /api/credits behind authenticate. */
export function creditsRoutes(deps: { credits: CreditsService }): Router {
  const c = new CreditsController(deps.credits);
  const r = Router();
  r.get(
    "/",
    doc({
      summary: "The caller's credit balance",
      tags: ["credits"],
      response: { description: "{balance}", schema: CreditsBalanceResponseSchema },
    }),
    c.balance,
  );
  r.get(
    "/transactions",
    doc({
      summary: "The caller's ledger, newest first",
      tags: ["credits"],
      response: { description: "{data: [transaction], page}", schema: CreditsTransactionsResponseSchema },
    }),
    validate({ query: CreditsTransactionsQuerySchema }),
    c.transactions,
  );
  return r;
}

/** Admin credits: mounted inside the /api/admin router. */
export function adminCreditsRoutes(deps: { credits: CreditsService }): Router {
  const c = new CreditsController(deps.credits);
  const r = Router();
  r.post(
    "/users/:id/credits",
    doc({
      summary: "Grant (or, negative, adjust) a user's credits",
      tags: ["admin: credits"],
      status: 201,
      response: { description: "{transaction}: the ledger entry; its balanceAfter is the new balance", schema: CreditsGrantResponseSchema },
      errors: [402, 409],
      headers: [
        {
          name: "Idempotency-Key",
          required: true,
          description: "Replays return the stored response; a different body is 409",
          schema: IdempotencyKeySchema,
        },
      ],
    }),
    validate({ params: UserIdParamsSchema, body: CreditsGrantSchema }),
    c.grant,
  );
  r.get(
    "/users/:id/credits/transactions",
    doc({
      summary: "A user's ledger",
      tags: ["admin: credits"],
      response: { description: "{data: [transaction], page}", schema: CreditsTransactionsResponseSchema },
    }),
    validate({ params: UserIdParamsSchema, query: CreditsTransactionsQuerySchema }),
    c.adminTransactions,
  );
  return r;
}

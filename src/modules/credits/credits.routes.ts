import { Router } from "express";
import { validate } from "../../platform/http/validate.js";
import { CreditsController } from "./credits.controller.js";
import { CreditsGrantSchema, CreditsTransactionsQuerySchema, UserIdParamsSchema } from "./credits.schema.js";
import type { CreditsService } from "./credits.service.js";

/** The caller's credits: mounted at /api/credits behind authenticate. */
export function creditsRoutes(deps: { credits: CreditsService }): Router {
  const c = new CreditsController(deps.credits);
  const r = Router();
  r.get("/", c.balance);
  r.get("/transactions", validate({ query: CreditsTransactionsQuerySchema }), c.transactions);
  return r;
}

/** Admin credits: mounted inside the /api/admin router. */
export function adminCreditsRoutes(deps: { credits: CreditsService }): Router {
  const c = new CreditsController(deps.credits);
  const r = Router();
  r.post("/users/:id/credits", validate({ params: UserIdParamsSchema, body: CreditsGrantSchema }), c.grant);
  r.get("/users/:id/credits/transactions", validate({ params: UserIdParamsSchema, query: CreditsTransactionsQuerySchema }), c.adminTransactions);
  return r;
}

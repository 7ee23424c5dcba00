import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { QuotasController } from "./quotas.controller.js";
import { AdminQuotaResponseSchema, QuotaPutSchema, QuotaUserParamsSchema, QuotaViewSchema } from "./quotas.schema.js";
import type { QuotaService } from "./quotas.service.js";

/** The caller's quota: mounted at /api/quotas behind authenticate. */
export function quotasRoutes(deps: { quotas: QuotaService }): Router {
  const c = new QuotasController(deps.quotas);
  const r = Router();
  r.get(
    "/",
    doc({
      summary: "The caller's quota limits and usage",
      tags: ["quotas"],
      response: { description: "{limits, usage}", schema: QuotaViewSchema },
    }),
    c.mine,
  );
  return r;
}

/** Admin quotas: mounted inside the /api/admin router. */
export function adminQuotasRoutes(deps: { quotas: QuotaService }): Router {
  const c = new QuotasController(deps.quotas);
  const r = Router();
  r.get(
    "/users/:id/quota",
    doc({
      summary: "A user's quota limits and usage",
      tags: ["admin: quotas"],
      response: { description: "{quota: {userId, limits, usage}}", schema: AdminQuotaResponseSchema },
    }),
    validate({ params: QuotaUserParamsSchema }),
    c.adminGet,
  );
  r.put(
    "/users/:id/quota",
    doc({
      summary: "Set a user's quota (all four limits)",
      tags: ["admin: quotas"],
      response: { description: "{quota: {userId, limits, usage}}", schema: AdminQuotaResponseSchema },
    }),
    validate({ params: QuotaUserParamsSchema, body: QuotaPutSchema }),
    c.adminPut,
  );
  return r;
}

import { Router } from "express";
import { validate } from "../../platform/http/validate.js";
import { HealthController } from "./health.controller.js";
import { HealthCheckSchema, HealthInstanceParamsSchema, HealthInstanceQuerySchema, HealthStatsQuerySchema } from "./health.schema.js";
import type { HealthService } from "./health.service.js";

/** Mounted inside the admin router (authenticated, ADMIN only): /api/admin/health/... */
export function adminHealthRoutes(deps: { health: HealthService }): Router {
  const c = new HealthController(deps.health);
  const r = Router();
  r.get("/health/summary", c.summary);
  r.post("/health/check", validate({ body: HealthCheckSchema }), c.check);
  r.get("/health/instances/:id", validate({ params: HealthInstanceParamsSchema, query: HealthInstanceQuerySchema }), c.instance);
  r.get("/health/stats", validate({ query: HealthStatsQuerySchema }), c.stats);
  return r;
}

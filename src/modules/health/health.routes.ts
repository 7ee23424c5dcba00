import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/validate.js";
import { HealthController } from "./health.controller.js";
import { HealthCheckSchema, HealthInstanceParamsSchema, HealthInstanceQuerySchema, HealthStatsQuerySchema } from "./health.schema.js";
import type { HealthService } from "./health.service.js";

/** Mounted inside the admin router (authenticated, ADMIN only): /api/admin/health/... */
export function adminHealthRoutes(deps: { health: HealthService }): Router {
  const c = new HealthController(deps.health);
  const r = Router();
  r.get("/health/summary", doc({ summary: "Fleet counts by status and health, last sweep, cluster reachability", tags: ["admin: health"], response: { description: "summary" } }), c.summary);
  r.post("/health/check", doc({ summary: "Run a health sweep now (optionally for some instances)", tags: ["admin: health"], response: { description: "the sweep and its results" }, errors: [404, 409] }), validate({ body: HealthCheckSchema }), c.check);
  r.get("/health/instances/:id", doc({ summary: "An instance's latest health and recent history", tags: ["admin: health"], response: { description: "latest health and history" } }), validate({ params: HealthInstanceParamsSchema, query: HealthInstanceQuerySchema }), c.instance);
  r.get("/health/stats", doc({ summary: "Time-bucketed uptime, checks, CPU/memory and incidents", tags: ["admin: health"], response: { description: "buckets and totals" } }), validate({ query: HealthStatsQuerySchema }), c.stats);
  return r;
}

import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { HealthController } from "./health.controller.js";
import {
  HealthCheckResponseSchema,
  HealthCheckSchema,
  HealthInstanceParamsSchema,
  HealthInstanceQuerySchema,
  HealthInstanceResponseSchema,
  HealthStatsQuerySchema,
  HealthStatsResponseSchema,
  HealthSummaryResponseSchema,
} from "./health.schema.js";
import type { HealthService } from "./health.service.js";

const tags = ["admin: health"];

/** Mounted inside the admin router (authenticated, ADMIN only): /api/admin/health/... */
export function adminHealthRoutes(deps: { health: HealthService }): Router {
  const c = new HealthController(deps.health);
  const r = Router();
  r.get(
    "/health/summary",
    doc({
      summary: "Fleet health: instances by status and health, the last sweep, cluster reachability",
      tags,
      response: { description: "{summary}", schema: HealthSummaryResponseSchema },
    }),
    c.summary,
  );
  r.post(
    "/health/check",
    doc({
      summary: "Run a health sweep now (all RUNNING instances, or the given ones) and return its results",
      description:
        "One result per judged instance. The body is written 64 KB at a time as it is serialised, so a sweep of a large " +
        "fleet is never held in memory as one text: such an answer is chunked (no Content-Length). It carries no ETag.",
      tags,
      response: { description: "{sweep, results, repaired, skipped}", schema: HealthCheckResponseSchema },
      errors: [404, 409],
    }),
    validate({ body: HealthCheckSchema }),
    c.check,
  );
  r.get(
    "/health/instances/:id",
    doc({
      summary: "An instance's current health and its recent health records",
      tags,
      response: { description: "{health}", schema: HealthInstanceResponseSchema },
    }),
    validate({ params: HealthInstanceParamsSchema, query: HealthInstanceQuerySchema }),
    c.instance,
  );
  r.get(
    "/health/stats",
    doc({
      summary: "Time-bucketed uptime %, check counts, average/peak CPU and memory, and incidents",
      tags,
      response: { description: "{stats}", schema: HealthStatsResponseSchema },
    }),
    validate({ query: HealthStatsQuerySchema }),
    c.stats,
  );
  return r;
}

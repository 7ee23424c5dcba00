import { Router } from "express";
import { validate } from "../../platform/http/validate.js";
import { CatalogController } from "./catalog.controller.js";
import {
  IdParamsSchema,
  PlanCreateSchema,
  PlanUpdateSchema,
  ServiceCreateSchema,
  ServiceSlugParamsSchema,
  ServiceUpdateSchema,
} from "./catalog.schema.js";
import type { CatalogService } from "./catalog.service.js";

/** Public catalog: mounted at /api/services. */
export function catalogRoutes(deps: { catalog: CatalogService }): Router {
  const c = new CatalogController(deps.catalog);
  const r = Router();
  r.get("/", c.list);
  r.get("/:slug", validate({ params: ServiceSlugParamsSchema }), c.get);
  return r;
}

/** Admin catalog: mounted at /api/admin (behind authenticate + requireRole('ADMIN')). */
export function adminCatalogRoutes(deps: { catalog: CatalogService }): Router {
  const c = new CatalogController(deps.catalog);
  const r = Router();
  r.get("/services", c.adminList);
  r.post("/services", validate({ body: ServiceCreateSchema }), c.createService);
  r.patch("/services/:id", validate({ params: IdParamsSchema, body: ServiceUpdateSchema }), c.updateService);
  r.post("/services/:id/plans", validate({ params: IdParamsSchema, body: PlanCreateSchema }), c.createPlan);
  r.patch("/plans/:id", validate({ params: IdParamsSchema, body: PlanUpdateSchema }), c.updatePlan);
  return r;
}

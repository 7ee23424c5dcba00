import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { CatalogController } from "./catalog.controller.js";
import {
  IdParamsSchema,
  PlanCreateSchema,
  PlanResponseSchema,
  PlanUpdateSchema,
  ServiceCreateSchema,
  ServiceListResponseSchema,
  ServiceResponseSchema,
  ServiceSlugParamsSchema,
  ServiceUpdateSchema,
} from "./catalog.schema.js";
import type { CatalogService } from "./catalog.service.js";

/** Public catalog: mounted at /api/services. */
export function catalogRoutes(deps: { catalog: CatalogService }): Router {
  const c = new CatalogController(deps.catalog);
  const r = Router();
  r.get(
    "/",
    doc({
      summary: "Active services with their active plans",
      tags: ["catalog"],
      response: { description: "{data: [service], page} (one page holds them all)", schema: ServiceListResponseSchema },
    }),
    c.list,
  );
  r.get(
    "/:slug",
    doc({
      summary: "One active service by slug",
      tags: ["catalog"],
      response: { description: "{service}", schema: ServiceResponseSchema },
    }),
    validate({ params: ServiceSlugParamsSchema }),
    c.get,
  );
  return r;
}

/** Admin catalog: mounted at /api/admin (behind authenticate + requireRole('ADMIN')). */
export function adminCatalogRoutes(deps: { catalog: CatalogService }): Router {
  const c = new CatalogController(deps.catalog);
  const r = Router();
  r.get(
    "/services",
    doc({
      summary: "All services and plans, inactive included",
      tags: ["admin: catalog"],
      response: { description: "{data: [service], page} (one page holds them all)", schema: ServiceListResponseSchema },
    }),
    c.adminList,
  );
  r.post(
    "/services",
    doc({
      summary: "Create a service",
      tags: ["admin: catalog"],
      status: 201,
      response: { description: "{service}", schema: ServiceResponseSchema },
      errors: [409],
    }),
    validate({ body: ServiceCreateSchema }),
    c.createService,
  );
  r.patch(
    "/services/:id",
    doc({
      summary: "Update a service",
      tags: ["admin: catalog"],
      response: { description: "{service}", schema: ServiceResponseSchema },
      errors: [409],
    }),
    validate({ params: IdParamsSchema, body: ServiceUpdateSchema }),
    c.updateService,
  );
  r.post(
    "/services/:id/plans",
    doc({
      summary: "Add a plan to a service",
      tags: ["admin: catalog"],
      status: 201,
      response: { description: "{plan}", schema: PlanResponseSchema },
      errors: [409],
    }),
    validate({ params: IdParamsSchema, body: PlanCreateSchema }),
    c.createPlan,
  );
  r.patch(
    "/plans/:id",
    doc({
      summary: "Update a plan",
      tags: ["admin: catalog"],
      response: { description: "{plan}", schema: PlanResponseSchema },
      errors: [409],
    }),
    validate({ params: IdParamsSchema, body: PlanUpdateSchema }),
    c.updatePlan,
  );
  return r;
}

import { requestContext } from "../../platform/request-context.js";
import { type Request, type Response, Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { input, validate } from "../../platform/http/request-validation.js";
import { IdParamsSchema } from "./catalog.schema.js";
import {
  type ServiceVersionCreateReq,
  ServiceVersionCreateSchema,
  ServiceVersionListResponseSchema,
  ServiceVersionResponseSchema,
  type ServiceVersionUpdateReq,
  ServiceVersionUpdateSchema,
} from "./service-versions.schema.js";
import type { ServiceVersionsService } from "./service-versions.service.js";

const PATHS_DESCRIPTION =
  "`upgradeFrom` lists the versions an instance may upgrade from to this one. Paths an image cannot take in place are " +
  "refused (400): a PostgreSQL major version (16.x -> 17.x needs pg_upgrade or a dump and restore) and an image that " +
  "runs as another uid (e.g. postgres Alpine <-> Debian). Making a version the default (it must be active) moves the " +
  "default from the previous one and updates the service's image and version: new instances run it.";

/** Admin catalog versions: mounted at /api/admin (behind authenticate + requireRole('ADMIN')). */
export function adminServiceVersionRoutes(deps: { versions: ServiceVersionsService }): Router {
  const r = Router();
  r.get(
    "/services/:id/versions",
    doc({
      summary: "A service's image versions and their upgrade paths, newest first",
      tags: ["admin: catalog"],
      response: { description: "{data: [serviceVersion], page} (one page holds them all)", schema: ServiceVersionListResponseSchema },
    }),
    validate({ params: IdParamsSchema }),
    async (_req: Request, res: Response) => {
      const { params } = input<unknown, unknown, { id: string }>(res);
      const data = await deps.versions.list(params.id);
      res.json({ data, page: { page: 1, pageSize: data.length, total: data.length, totalPages: 1 } });
    },
  );
  r.post(
    "/services/:id/versions",
    doc({
      summary: "Add an image version to a service",
      description: PATHS_DESCRIPTION,
      tags: ["admin: catalog"],
      status: 201,
      response: { description: "{serviceVersion}", schema: ServiceVersionResponseSchema },
      errors: [409],
    }),
    validate({ params: IdParamsSchema, body: ServiceVersionCreateSchema }),
    async (_req: Request, res: Response) => {
      const { params, body } = input<ServiceVersionCreateReq, unknown, { id: string }>(res);
      res.status(201).json({ serviceVersion: await deps.versions.create(params.id, body, requestContext(res)) });
    },
  );
  r.patch(
    "/service-versions/:id",
    doc({
      summary: "Update an image version (image, active, default, upgrade paths, notes)",
      description: `${PATHS_DESCRIPTION} The default version cannot be unset or deactivated (409): make another one the default.`,
      tags: ["admin: catalog"],
      response: { description: "{serviceVersion}", schema: ServiceVersionResponseSchema },
      errors: [409],
    }),
    validate({ params: IdParamsSchema, body: ServiceVersionUpdateSchema }),
    async (_req: Request, res: Response) => {
      const { params, body } = input<ServiceVersionUpdateReq, unknown, { id: string }>(res);
      res.json({ serviceVersion: await deps.versions.update(params.id, body, requestContext(res)) });
    },
  );
  return r;
}

import { type Request, type Response, Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { input, validate } from "../../platform/http/request-validation.js";
import { type AuditListQuery, AuditListQuerySchema, AuditListResponseSchema } from "./audit.schema.js";
import type { AuditService } from "./audit.service.js";

/** Admin audit log: mounted inside the /api/admin router. */
export function adminAuditRoutes(deps: { audit: AuditService }): Router {
  const r = Router();
  r.get(
    "/audit",
    doc({
      summary: "The audit log, newest first (filters: actorId, objectType, objectId, action or action prefix ending in '.', from/to)",
      tags: ["admin: audit"],
      response: { description: "{data: [auditEvent], page}", schema: AuditListResponseSchema },
    }),
    validate({ query: AuditListQuerySchema }),
    async (_req: Request, res: Response) => {
      res.json(await deps.audit.list(input<unknown, AuditListQuery>(res).query));
    },
  );
  return r;
}

import { Router } from "express";
import { validate } from "../../platform/http/validate.js";
import { InstancesController } from "./instances.controller.js";
import {
  InstanceCreateSchema,
  InstanceEventsQuerySchema,
  InstanceIdParamsSchema,
  InstanceListQuerySchema,
  InstanceLogsQuerySchema,
  InstanceUpdateSchema,
} from "./instances.schema.js";
import type { InstancesService } from "./instances.service.js";

/** Mounted at /api/instances behind `authenticate`. */
export function instancesRoutes(deps: { instances: InstancesService; shutdownSignal: AbortSignal; eventPollMs?: number }): Router {
  const c = new InstancesController(deps.instances, {
    eventPollMs: deps.eventPollMs ?? 500,
    heartbeatMs: 15_000,
    shutdownSignal: deps.shutdownSignal,
  });
  const r = Router();
  const id = { params: InstanceIdParamsSchema };
  r.get("/", validate({ query: InstanceListQuerySchema }), c.list);
  r.post("/", validate({ body: InstanceCreateSchema }), c.create);
  r.get("/:id", validate(id), c.get);
  r.put("/:id/update", validate({ ...id, body: InstanceUpdateSchema }), c.update);
  r.delete("/:id", validate(id), c.remove);
  r.post("/:id/restart", validate(id), c.restart);
  r.get("/:id/logs", validate({ ...id, query: InstanceLogsQuerySchema }), c.logs);
  r.get("/:id/events", validate({ ...id, query: InstanceEventsQuerySchema }), c.events);
  r.get("/:id/credentials", validate(id), c.credentials);
  return r;
}

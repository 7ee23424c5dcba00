import { Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
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
  r.get(
    "/",
    doc({ summary: "The caller's instances (admins: all)", tags: ["instances"], response: { description: "{data: [instance], page}" } }),
    validate({ query: InstanceListQuerySchema }),
    c.list,
  );
  r.post(
    "/",
    doc({
      summary: "Provision an instance for a subscription that has none",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance}" },
      errors: [404, 409, 422],
    }),
    validate({ body: InstanceCreateSchema }),
    c.create,
  );
  r.get("/:id", doc({ summary: "Instance details", tags: ["instances"], response: { description: "{instance}" } }), validate(id), c.get);
  r.put(
    "/:id/update",
    doc({
      summary: "Change plan (price difference charged or credited)",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance}" },
      errors: [402, 409, 422],
    }),
    validate({ ...id, body: InstanceUpdateSchema }),
    c.update,
  );
  r.delete(
    "/:id",
    doc({
      summary: "Terminate: TERMINATING then TERMINATED",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance}" },
      errors: [409],
    }),
    validate(id),
    c.remove,
  );
  r.post(
    "/:id/restart",
    doc({
      summary: "Restart: RESTARTING then RUNNING",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance}" },
      errors: [409],
    }),
    validate(id),
    c.restart,
  );
  r.get(
    "/:id/logs",
    doc({
      summary: "Pod logs ({lines}; follow=true streams text/plain)",
      tags: ["instances"],
      response: { description: "{lines: [string]}" },
      errors: [409, 503],
    }),
    validate({ ...id, query: InstanceLogsQuerySchema }),
    c.logs,
  );
  r.get(
    "/:id/events",
    doc({
      summary: "Timeline (Accept: text/event-stream for live updates)",
      tags: ["instances"],
      response: { description: "{data: [event], page}" },
    }),
    validate({ ...id, query: InstanceEventsQuerySchema }),
    c.events,
  );
  r.get(
    "/:id/credentials",
    doc({
      summary: "Generated connection details (owner only)",
      tags: ["instances"],
      response: { description: "{credentials}" },
      errors: [409, 503],
    }),
    validate(id),
    c.credentials,
  );
  return r;
}

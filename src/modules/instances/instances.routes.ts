import { type RequestHandler, Router } from "express";
import { z } from "zod";
import { UnauthorizedError } from "../../platform/domain-errors.js";
import { doc, withRouteMeta } from "../../platform/http/route-meta.js";
import { noStore } from "../../platform/http/no-store.js";
import { validate } from "../../platform/http/request-validation.js";
import { EVENT_STREAM_DESCRIPTION, InstanceStreamMessageSchema } from "./instance-stream.js";
import { type InstanceStreamDeps, InstancesController } from "./instances.controller.js";
import {
  InstanceCreateSchema,
  InstanceCredentialsResponseSchema,
  InstanceEventsQuerySchema,
  InstanceEventsResponseSchema,
  InstanceIdParamsSchema,
  InstanceListQuerySchema,
  InstanceListResponseSchema,
  InstanceLogsQuerySchema,
  InstanceLogsResponseSchema,
  InstanceResponseSchema,
  InstanceRestoreSchema,
  InstanceUpdateSchema,
} from "./instances.schema.js";
import { SubscriptionCreateResponseSchema } from "../subscriptions/subscriptions.schema.js";
import type { InstancesService } from "./instances.service.js";

/**
 * The stream routes' guard: the bearer header as everywhere, or — for a browser's EventSource, which
 * cannot send headers — a single-use `?ticket=` for this instance (used up here, before validation).
 */
function bearerOrStreamTicket(authenticate: RequestHandler, tickets: InstanceStreamDeps["tickets"]): RequestHandler {
  return withRouteMeta(
    async (req, res, next) => {
      const ticket = req.query.ticket;
      if (ticket === undefined || req.headers.authorization) return authenticate(req, res, next);
      if (typeof ticket !== "string" || ticket.length > 128) throw new UnauthorizedError("Invalid stream ticket");
      res.locals.auth = await tickets.redeem(ticket, String(req.params.id));
      next();
    },
    { auth: true },
  );
}

/** How a stopped instance is billed: the one statement of it, shown in the OpenAPI document (README says the same). */
const STOP_BILLING =
  "Only a RUNNING instance can be stopped (409 for STOPPED, PROVISIONING, UPDATING, RESTARTING, SUSPENDED, ...). " +
  "Every object, the volume and its data are kept. Billing: a stopped instance is billed as a running one — its " +
  "plan's CPU, memory and storage stay reserved (they count against the quota) and its subscription renews as " +
  "usual, as a powered-off server still costs at DigitalOcean or Elestio. To stop paying, delete the instance " +
  "(which cancels the subscription and refunds the unused whole days).";

const StreamTicketResponseSchema = z.object({
  ticket: z.string().describe("Use once as ?ticket= on GET /api/instances/{id}/events or /logs?follow=true"),
  instanceId: z.string(),
  expiresAt: z.string().describe("ISO-8601; STREAM_TICKET_TTL after issue"),
});

/**
 * On the router of /api/instances (`r`; the backups' and upgrades' routes come before, each with its
 * own guard). Everything needs `authenticate`; the two stream routes also accept a stream ticket
 * instead, so they are declared before the guard, which applies to every route added after it.
 */
export function instancesRoutes(
  deps: { instances: InstancesService; authenticate: RequestHandler } & InstanceStreamDeps,
  r: Router = Router(),
): Router {
  const c = new InstancesController(deps.instances, deps);
  const id = { params: InstanceIdParamsSchema };
  const streamAuth = bearerOrStreamTicket(deps.authenticate, deps.tickets);
  r.get(
    "/:id/logs",
    streamAuth,
    doc({
      summary: "Pod logs ({lines}; follow=true streams text/plain)",
      description: "follow=true keeps the response open (text/plain); 429 beyond MAX_LOG_FOLLOWS_PER_USER open follows.",
      tags: ["instances"],
      response: { description: "{lines: [string]}", schema: InstanceLogsResponseSchema },
      alsoResponds: [{ status: 200, contentType: "text/plain", description: "with follow=true, the log as a live text stream" }],
      errors: [409, 429, 503],
    }),
    validate({ ...id, query: InstanceLogsQuerySchema }),
    c.logs,
  );
  r.get(
    "/:id/events",
    streamAuth,
    doc({
      summary: "Timeline (Accept: text/event-stream for live updates)",
      description: EVENT_STREAM_DESCRIPTION,
      tags: ["instances"],
      response: { description: "{data: [event], page}", schema: InstanceEventsResponseSchema },
      alsoResponds: [
        {
          status: 200,
          contentType: "text/event-stream",
          description: "with Accept: text/event-stream, a live stream of unnamed events; each data: is one of these",
          schema: InstanceStreamMessageSchema,
        },
        { status: 204, description: "A resume (Last-Event-ID) of a TERMINATED instance with nothing new: stop reconnecting" },
      ],
      errors: [429],
    }),
    validate({ ...id, query: InstanceEventsQuerySchema }),
    c.events,
  );
  r.use(deps.authenticate);
  r.get(
    "/",
    doc({
      summary: "The caller's instances (admins: all); TERMINATED ones only with status=TERMINATED or includeTerminated=true",
      tags: ["instances"],
      response: { description: "{data: [instance], page}", schema: InstanceListResponseSchema },
    }),
    validate({ query: InstanceListQuerySchema }),
    c.list,
  );
  r.post(
    "/",
    doc({
      summary: "Buy and provision an instance ({planId, name}: 201) or re-provision a subscription's ({subscriptionId}: 202)",
      description:
        "`{planId, name}` subscribes to the plan and provisions its instance in one call: the same charge, quota check and " +
        "Idempotency-Key handling as POST /api/subscriptions (same idempotency scope), answering 201 {subscription, instance}. " +
        "`{subscriptionId, name?}` provisions a new instance for an ACTIVE subscription whose instance is gone, answering 202 {instance}.",
      tags: ["instances"],
      status: 201,
      response: {
        description: "{subscription, instance} (with {subscriptionId}: 202 {instance})",
        schema: SubscriptionCreateResponseSchema,
      },
      alsoResponds: [
        {
          status: 202,
          description: "{instance}: with {subscriptionId, name?}, a new instance for the subscription",
          schema: InstanceResponseSchema,
        },
      ],
      errors: [402, 404, 409, 422],
      headers: [{ name: "Idempotency-Key", description: "Optional, with {planId, name}; replays return the stored response" }],
    }),
    validate({ body: InstanceCreateSchema }),
    c.create,
  );
  r.get(
    "/:id",
    doc({ summary: "Instance details", tags: ["instances"], response: { description: "{instance}", schema: InstanceResponseSchema } }),
    validate(id),
    c.get,
  );
  r.put(
    "/:id/update",
    doc({
      summary: "Change plan (price difference charged or credited)",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance}", schema: InstanceResponseSchema },
      errors: [402, 409, 422],
    }),
    validate({ ...id, body: InstanceUpdateSchema }),
    c.update,
  );
  r.delete(
    "/:id",
    doc({
      summary: "Terminate: TERMINATING then TERMINATED",
      description:
        "Its cluster objects and volume are deleted, and its backups but the newest READY one, which is kept for " +
        "BACKUP_RETENTION_AFTER_DELETE and can be restored into a new instance (GET /api/backups/retained).",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance}", schema: InstanceResponseSchema },
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
      response: { description: "{instance}", schema: InstanceResponseSchema },
      errors: [409],
    }),
    validate(id),
    c.restart,
  );
  r.post(
    "/:id/restore",
    doc({
      summary: "Restore a READY backup: RESTORING, then RUNNING on a new volume made from its snapshot",
      description:
        "A new PVC is created from the backup's VolumeSnapshot (spec.dataSource) and the workload is switched to it " +
        "(its pod is replaced: scaled to 0, then up on the new volume). The old PVC is kept until the instance runs on " +
        "the new one, then deleted; if the restored instance never becomes ready (ROLLOUT_TIMEOUT, or pods stuck for " +
        "STUCK_POD_GRACE) it is switched back to the old volume (a RESTORE_FAILED event, UPDATING, then RUNNING). " +
        "Only a RUNNING instance and a READY backup (409 otherwise); an unknown backup is a 404. While it runs both " +
        "volumes exist, so the storage quota must have room for the plan's storage once more (422 QUOTA_EXCEEDED); a new " +
        "volume the cluster refuses (the namespace's ResourceQuota) is switched back the same way.",
      tags: ["instances"],
      status: 202,
      response: { description: "{instance} (status RESTORING)", schema: InstanceResponseSchema },
      errors: [404, 409, 422],
    }),
    validate({ ...id, body: InstanceRestoreSchema }),
    c.restore,
  );
  r.post(
    "/:id/stop",
    doc({
      summary: "Stop: scaled to 0, data kept; desiredState STOPPED now, status STOPPED once no pod is left",
      description: STOP_BILLING,
      tags: ["instances"],
      status: 202,
      response: {
        description: "{instance} (status RUNNING, desiredState STOPPED until the reconciler has scaled it to 0)",
        schema: InstanceResponseSchema,
      },
      errors: [409],
    }),
    validate(id),
    c.stop,
  );
  r.post(
    "/:id/start",
    doc({
      summary: "Start a STOPPED instance: UPDATING then RUNNING",
      description:
        "Only a STOPPED instance whose subscription is ACTIVE can be started (409 otherwise: a PAST_DUE subscription is paid " +
        "by adding credits first). The same volume and data come back.",
      tags: ["instances"],
      status: 202,
      response: {
        description: "{instance} (status STOPPED, desiredState RUNNING until the reconciler has scaled it up)",
        schema: InstanceResponseSchema,
      },
      errors: [409],
    }),
    validate(id),
    c.start,
  );
  r.post(
    "/:id/stream-ticket",
    doc({
      summary: "A single-use ticket for opening this instance's event stream or log follow from a browser",
      description:
        "EventSource cannot send an Authorization header: pass the ticket as ?ticket= instead. Valid once, for STREAM_TICKET_TTL.",
      tags: ["instances"],
      status: 201,
      response: { description: "{ticket, instanceId, expiresAt}", schema: StreamTicketResponseSchema, contentType: "application/json" },
      errors: [429],
    }),
    validate(id),
    c.streamTicket,
  );
  r.get(
    "/:id/credentials",
    doc({
      summary: "Generated connection details (owner only)",
      description:
        "From the credentials stored (encrypted) in the database. An instance provisioned before they were stored adopts its live Secret's values at the first read (503 while the cluster is unreachable); 409 while it has none yet (PENDING, TERMINATED) or when they are lost (no stored row and no Secret): nothing is ever generated for an instance that ran.",
      tags: ["instances"],
      response: { description: "{credentials}", schema: InstanceCredentialsResponseSchema },
      errors: [409, 503],
    }),
    noStore,
    validate(id),
    c.credentials,
  );
  return r;
}

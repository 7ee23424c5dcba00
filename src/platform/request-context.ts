/**
 * Who is asking, for the audit log: the request id, the client IP (as Express computes it under
 * TRUST_PROXY) and, once `authenticate` has run, the caller. The app keeps it on `res.locals` for the
 * duration of a request; controllers hand it to the services that record audit events, which pass it
 * to `AuditService.record` — explicitly, not through an AsyncLocalStorage: on Node 20 that turns on
 * promise hooks for every promise in the process, 8-10% of every request's CPU (bench/RESULTS.md).
 * Outside a request (loops, scripts) there is none: `undefined`.
 */
import type { Request, Response } from "express";

export interface RequestContext {
  requestId: string;
  ip: string | undefined;
  actor?: { userId: string; role: string };
}

/** Gives the request its context (the app, once per request, after the request id is known). */
export function startRequestContext(req: Request, res: Response): void {
  res.locals.requestContext = { requestId: String(req.id), ip: req.ip } satisfies RequestContext;
}

/** The request's context (undefined where the app did not start one, e.g. a bare router in a test). */
export function requestContext(res: Response): RequestContext | undefined {
  return res.locals.requestContext as RequestContext | undefined;
}

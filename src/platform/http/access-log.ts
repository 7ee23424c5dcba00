/**
 * The access log: one line per request when its response ends (or the client goes away), with the
 * request id, method, URL, route, client address, status and duration — the line pino-http wrote, plus
 * the route, written directly by the app's logger (whose destination is asynchronous in the server,
 * flushed on shutdown):
 *
 *   {..., "req": {"id", "method", "url", "route", "remoteAddress"}, "res": {"statusCode"}, "responseTime": ms,
 *    "msg": "request completed" | "request aborted" | "request errored"}
 *
 * `route` is the matched route pattern (`/api/instances/:id`), the same label as the HTTP metrics'
 * (`unmatched` for a path no route has), so lines can be grouped per endpoint and joined to the metrics.
 *
 * Levels: info, warn for a 4xx, error for a 5xx (with an `err` saying so) or a response stream error.
 * Also gives every request its id (`req.id`, echoed as `X-Request-Id`): a client's own id when it is
 * a plain token, a fresh UUID otherwise.
 *
 * Why not pino-http: per request it made two child loggers (serializing the request into their
 * bindings), three listener pairs and a copy of the request's fields it then mostly dropped; under load
 * that was a tenth of the API's CPU per request for a line this module writes with one log call.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "../logger.js";

declare module "node:http" {
  interface IncomingMessage {
    /** The request id (access-log.ts): from a valid `X-Request-Id`, or generated. */
    id: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** A stream ticket is single-use and short-lived; still, keep it out of the logs. */
const TICKET = /([?&]ticket=)[^&]*/g;

export interface AccessLogOptions {
  logger: Logger;
  /** Requests not logged (they still get an id): probes and scrapes. */
  ignore?: (req: IncomingMessage) => boolean;
  /** The route pattern a method and path match (the HTTP metrics' `routeOf`); without it no `route` is logged. */
  routeOf?: (method: string, path: string) => string | undefined;
}

export function accessLog(opts: AccessLogOptions): RequestHandler {
  const { logger, ignore, routeOf } = opts;
  // The completed/aborted line holds only the fields `write` builds (request id, method, URL with any
  // stream ticket cut out, route, client address, status, duration): no redact path (logger.ts) can match
  // them, so it is written without pino's redaction pass, which cost 8.7 of the 15 us per line
  // (bench/RESULTS.md). The error line carries an `err` and keeps the redacting logger.
  const completed = logger.child({}, { redact: { paths: [] } });
  return (req, res, next) => {
    const incoming = req.headers["x-request-id"];
    const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader("X-Request-Id", id);
    if (ignore?.(req)) return next();
    const started = Date.now();
    const done = (err?: unknown) => {
      res.removeListener("close", done);
      res.removeListener("finish", done);
      res.removeListener("error", done);
      write(logger, completed, routeOf, req, res, started, err);
    };
    res.on("close", done);
    res.on("finish", done);
    res.on("error", done);
    next();
  };
}

function write(
  logger: Logger,
  completed: Logger,
  routeOf: AccessLogOptions["routeOf"],
  req: Request,
  res: Response,
  started: number,
  err: unknown,
): void {
  const status = res.statusCode;
  const url = req.originalUrl || req.url;
  const query = url.indexOf("?");
  const line = {
    req: {
      id: req.id,
      method: req.method,
      url: url.replace(TICKET, "$1[redacted]"),
      ...(routeOf ? { route: routeOf(req.method, query < 0 ? url : url.slice(0, query)) ?? "unmatched" } : {}),
      remoteAddress: req.socket?.remoteAddress,
    },
    res: { statusCode: status },
    responseTime: Date.now() - started,
  };
  if (err || status >= 500) {
    logger.error({ ...line, err: err ?? new Error(`failed with status code ${status}`) }, "request errored");
    return;
  }
  const msg = !req.readableAborted && res.writableEnded ? "request completed" : "request aborted";
  if (status >= 400) completed.warn(line, msg);
  else completed.info(line, msg);
}

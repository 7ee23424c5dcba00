/**
 * Route metadata for the OpenAPI document and the metrics labels, declared next to the routes:
 * middleware carries what it knows about the route it guards (`validate` its zod schemas,
 * `authenticate` that a bearer token is needed, `requireRole` the roles) and `doc()` adds the
 * words (summary, tags, success response, the extra errors the handler can answer with).
 * Nothing here changes how a request is handled; `routes.ts` reads the marks off the mounted app.
 */
import type { RequestHandler } from "express";
import type { z } from "zod";

/** A route's request schemas (validated by `validate`, documented in the OpenAPI document). */
export interface RequestSchemas {
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
}

const ROUTE_META = Symbol.for("minispod.routeMeta");

/** Error statuses a handler can answer with beyond those derived from its middleware. */
export type DeclaredErrorStatus = 401 | 402 | 404 | 409 | 413 | 422 | 429 | 503;

export interface RouteDoc {
  summary: string;
  description?: string;
  tags?: string[];
  /** Success status (default 200) and what it returns. */
  status?: number;
  response?: {
    description: string;
    /** The JSON body (output side: what the client receives). Every JSON response needs one. */
    schema?: z.ZodType;
    /** A non-JSON success body (e.g. `text/plain`), documented as a string. */
    contentType?: string;
    /** Other media types the same status can carry (chosen by `Accept` or a query flag), as text. */
    alsoAs?: Array<{ contentType: string; description: string }>;
  };
  /**
   * Other successful answers: another status (e.g. 202 for another request shape) or, for the same
   * status, another content type (e.g. `text/event-stream` when asked for; `schema` then describes
   * each message's data).
   */
  alsoResponds?: Array<{ status: number; description: string; contentType?: string; schema?: z.ZodType }>;
  /** Errors beyond the derived ones (400 validated, 401 authenticated, 403 role, 404 path params). */
  errors?: DeclaredErrorStatus[];
  /** What an error status means on this route, where the generic description is not enough. */
  errorDescriptions?: Partial<Record<number, string>>;
  /** Request headers the route reads (e.g. Idempotency-Key). */
  headers?: Array<{ name: string; required?: boolean; description: string; schema?: z.ZodType }>;
  /** Not under /api: no bearer auth, no JSON error envelope guarantees beyond 500. */
  operational?: boolean;
}

export interface RouteMeta {
  schemas?: RequestSchemas;
  /** Requires `Authorization: Bearer <accessToken>`. */
  auth?: boolean;
  roles?: string[];
  doc?: RouteDoc;
}

/** Marks a middleware function with what it tells about a route. Returns the same function. */
export function withRouteMeta<T extends RequestHandler>(fn: T, meta: RouteMeta): T {
  Object.defineProperty(fn, ROUTE_META, { value: meta, enumerable: false });
  return fn;
}

export function routeMetaOf(fn: unknown): RouteMeta | undefined {
  return typeof fn === "function" ? ((fn as unknown as Record<symbol, RouteMeta | undefined>)[ROUTE_META] ?? undefined) : undefined;
}

/** Documentation for the route it is placed on: `r.post("/", doc({...}), validate({...}), c.create)`. */
export function doc(d: RouteDoc): RequestHandler {
  return withRouteMeta((_req, _res, next) => next(), { doc: d });
}

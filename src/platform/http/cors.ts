/**
 * CORS for browser dashboards on other origins (CORS_ORIGINS). Bearer tokens, not cookies, so no
 * credentials mode. An allowed origin gets the `Access-Control-*` headers (preflights answered 204
 * here, cached for 10 minutes); the headers a dashboard reads are exposed. A preflight from any other
 * origin is a 403 in the one error shape, saying which setting to change; a simple request from it
 * is served without CORS headers, so the browser withholds the response (same-origin pages such as
 * /docs are unaffected: they need no CORS).
 */
import cors from "cors";
import type { RequestHandler } from "express";
import { ForbiddenError } from "../domain-errors.js";

/** Request headers a dashboard sends. */
export const CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", "Last-Event-ID"];
/** Response headers a dashboard may read beyond the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = ["X-Request-Id", "Retry-After", "Idempotent-Replayed", "RateLimit", "RateLimit-Policy"];

export function corsMiddleware(origins: string[] | "*"): RequestHandler {
  const allowed = (origin: string) => origins === "*" || origins.includes(origin);
  const withHeaders = cors({
    origin: origins === "*" ? "*" : true, // true: reflect the (already checked) request origin, with Vary: Origin
    methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined) return next(); // not a browser cross-origin request
    if (allowed(origin)) return withHeaders(req, res, next);
    res.vary("Origin");
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      throw new ForbiddenError(`Origin ${origin} may not call this API from a browser; add it to CORS_ORIGINS`);
    }
    next();
  };
}

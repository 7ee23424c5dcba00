/**
 * Request validation with zod. Parsed values are kept on `res.locals` (Express 5 made `req.query`
 * read-only, and the raw request stays as it came). Unknown body keys are rejected: schemas are strict.
 */
import type { Request, RequestHandler, Response } from "express";
import type { z } from "zod";
import { ValidationError, type ErrorDetail } from "../domain-errors.js";
import { type RequestSchemas, withRouteMeta } from "./route-meta.js";

export function zodDetails(error: z.ZodError, where: string): ErrorDetail[] {
  return error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].join("."),
    message: i.message,
    code: i.code,
  }));
}

/** Validates the request; the schemas also document the route (see route-meta.ts, openapi.ts). */
export function validate(schemas: RequestSchemas): RequestHandler {
  return withRouteMeta(
    (req, res, next) => {
      const details: ErrorDetail[] = [];
      const input: Record<string, unknown> = {};
      for (const where of ["params", "query", "body"] as const) {
        const schema = schemas[where];
        if (!schema) continue;
        const raw = where === "body" ? (req.body ?? {}) : req[where];
        const r = schema.safeParse(raw);
        if (r.success) input[where] = r.data;
        else details.push(...zodDetails(r.error, where));
      }
      if (details.length) throw new ValidationError("Request validation failed", { details });
      res.locals.input = { ...(res.locals.input ?? {}), ...input };
      next();
    },
    { schemas },
  );
}

/** The validated input of a request, typed by the schemas the route declared. */
export function input<B = unknown, Q = unknown, P = unknown>(res: Response): { body: B; query: Q; params: P } {
  return (res.locals.input ?? {}) as { body: B; query: Q; params: P };
}

export type { Request };

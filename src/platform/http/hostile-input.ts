/**
 * One guard, before any route, for input no route can use and PostgreSQL cannot store: a NUL
 * character in the path, the query string or anywhere in a JSON body (string values and object
 * keys). PostgreSQL rejects NUL in text (SQLSTATE 22021); rejecting it here makes it a 400 for every
 * route, declared schema or not. Headers cannot carry NUL (Node's HTTP parser refuses them).
 */
import type { RequestHandler } from "express";
import { type ErrorDetail, ValidationError } from "../domain-errors.js";

const ENCODED_NUL = /%00/i;
const MAX_DEPTH = 64;

/** The path (dotted) of the first string or key containing NUL, or undefined. */
export function findNul(value: unknown, path = "body", depth = 0): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findNul(value[i], `${path}.${i}`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (Buffer.isBuffer(value)) return undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.includes("\u0000")) return `${path}.${k.replaceAll("\u0000", "\\u0000")}`;
    const p = findNul(v, `${path}.${k}`, depth + 1);
    if (p) return p;
  }
  return undefined;
}

function nulError(path: string): ValidationError {
  const details: ErrorDetail[] = [{ path, message: "must not contain NUL characters", code: "invalid_format" }];
  return new ValidationError("Request validation failed", { details });
}

export const rejectNulCharacters: RequestHandler = (req, _res, next) => {
  const url = req.originalUrl ?? req.url;
  const q = url.indexOf("?");
  const pathPart = q === -1 ? url : url.slice(0, q);
  if (ENCODED_NUL.test(pathPart)) throw nulError("path");
  if (q !== -1 && ENCODED_NUL.test(url.slice(q))) throw nulError("query");
  const where = findNul(req.body);
  if (where) throw nulError(where);
  next();
};

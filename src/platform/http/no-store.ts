/**
 * `Cache-Control: no-store` for responses that carry a token or a credential (and their errors), so
 * no browser, proxy or CDN keeps a copy. Mounted on the auth router and on instance credentials.
 */
import type { RequestHandler } from "express";

export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Pragma", "no-cache");
  next();
};

/**
 * Authentication guards. Access tokens are HS256 JWTs with the algorithm pinned and issuer and
 * audience checked; the verified identity is kept on res.locals.auth. Each token carries its login
 * session (`sid`, the refresh-token family); a revoked session's tokens are refused from an
 * in-memory set (modules/auth/session-revocations.ts), so no request queries the database for it.
 */
import type { RequestHandler, Response } from "express";
import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { ForbiddenError, UnauthorizedError } from "../domain-errors.js";
import { currentRequestContext } from "../request-context.js";
import { withRouteMeta } from "./route-meta.js";

export type Role = "USER" | "ADMIN";

export interface AuthIdentity {
  userId: string;
  role: Role;
  /** The login session (refresh-token family) the token belongs to. */
  sessionId?: string;
}

export interface AccessTokenOptions {
  secret: string;
  issuer: string;
  audience: string;
  ttlMs: number;
  /** Whether a session was revoked (logout, password change, disabled account, ...). */
  isRevoked?: (sessionId: string) => boolean;
}

/**
 * The HMAC key as a KeyObject, made once per secret. Given a string, jsonwebtoken first tries (and
 * fails) to parse it as a PEM public/private key on every call — the most expensive step of an
 * authenticated request under load.
 */
const keys = new Map<string, KeyObject>();
function hmacKey(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret));
    keys.set(secret, key);
  }
  return key;
}

export function signAccessToken(identity: AuthIdentity, opts: AccessTokenOptions): string {
  return jwt.sign({ role: identity.role, ...(identity.sessionId ? { sid: identity.sessionId } : {}) }, hmacKey(opts.secret), {
    algorithm: "HS256",
    subject: identity.userId,
    issuer: opts.issuer,
    audience: opts.audience,
    expiresIn: Math.floor(opts.ttlMs / 1000),
  });
}

export function verifyAccessToken(token: string, opts: AccessTokenOptions): AuthIdentity {
  let payload: jwt.JwtPayload | string;
  try {
    payload = jwt.verify(token, hmacKey(opts.secret), {
      algorithms: ["HS256"],
      issuer: opts.issuer,
      audience: opts.audience,
    });
  } catch (err) {
    const expired = err instanceof jwt.TokenExpiredError;
    throw new UnauthorizedError(expired ? "Access token expired" : "Invalid access token", { cause: err });
  }
  if (
    typeof payload === "string" ||
    typeof payload.sub !== "string" ||
    typeof payload.sid !== "string" ||
    (payload.role !== "USER" && payload.role !== "ADMIN")
  ) {
    throw new UnauthorizedError("Invalid access token");
  }
  if (opts.isRevoked?.(payload.sid)) throw new UnauthorizedError("Access token revoked; please log in again");
  return { userId: payload.sub, role: payload.role, sessionId: payload.sid };
}

export function authenticate(opts: AccessTokenOptions): RequestHandler {
  return withRouteMeta(
    (req, res, next) => {
      const header = req.headers.authorization;
      const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!m?.[1]) throw new UnauthorizedError("Missing bearer token");
      const identity = verifyAccessToken(m[1], opts);
      res.locals.auth = identity;
      const ctx = currentRequestContext();
      if (ctx) ctx.actor = { userId: identity.userId, role: identity.role };
      next();
    },
    { auth: true },
  );
}

export function requireRole(...roles: Role[]): RequestHandler {
  return withRouteMeta(
    (_req, res, next) => {
      const auth = res.locals.auth as AuthIdentity | undefined;
      if (!auth) throw new UnauthorizedError("Not authenticated");
      if (!roles.includes(auth.role)) throw new ForbiddenError(`Requires role ${roles.join(" or ")}`);
      next();
    },
    { roles },
  );
}

/** The caller's identity; only valid behind `authenticate`. */
export function caller(res: Response): AuthIdentity {
  const auth = res.locals.auth as AuthIdentity | undefined;
  if (!auth) throw new UnauthorizedError("Not authenticated");
  return auth;
}

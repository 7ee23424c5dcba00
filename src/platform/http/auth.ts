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
import { type RequestContext, requestContext } from "../request-context.js";
import { withRouteMeta } from "./route-meta.js";

export type Role = "USER" | "ADMIN";

export interface AuthIdentity {
  userId: string;
  role: Role;
  /** The login session (refresh-token family) the token belongs to. */
  sessionId?: string;
  /** The request this identity came with (behind `authenticate`): what an audit event records of it. */
  request?: RequestContext;
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

/**
 * Access tokens that passed `jwt.verify`, per options object: a client polling with the same token
 * (a dashboard) has its signature, issuer and audience checked once instead of on every request — a
 * twentieth of the API's CPU per read request went into jsonwebtoken. A hit is still refused once the
 * token expires (exactly when jwt.verify would refuse it: it is then verified again and fails) and
 * when its session is revoked (checked on every request). Bounded: emptied when full.
 */
interface VerifiedToken {
  identity: AuthIdentity & { sessionId: string };
  /** `exp` in seconds, as in the token (undefined: no expiry, as jwt.verify treats it). */
  exp: number | undefined;
}
const VERIFIED_MAX = 10_000;
const verified = new WeakMap<AccessTokenOptions, Map<string, VerifiedToken>>();

function verifiedTokens(opts: AccessTokenOptions): Map<string, VerifiedToken> {
  let m = verified.get(opts);
  if (!m) {
    m = new Map();
    verified.set(opts, m);
  }
  return m;
}

export function verifyAccessToken(token: string, opts: AccessTokenOptions): AuthIdentity {
  const cache = verifiedTokens(opts);
  const hit = cache.get(token);
  // jwt.verify refuses a token once the clock (whole seconds) reaches its exp.
  if (hit && (hit.exp === undefined || Math.floor(Date.now() / 1000) < hit.exp)) {
    if (opts.isRevoked?.(hit.identity.sessionId)) throw new UnauthorizedError("Access token revoked; please log in again");
    return { ...hit.identity };
  }
  if (hit) cache.delete(token);
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
  const identity = { userId: payload.sub, role: payload.role, sessionId: payload.sid };
  // Only tokens whose validity jwt.verify decides by exp alone (no nbf) are remembered.
  if (payload.nbf === undefined && (payload.exp === undefined || typeof payload.exp === "number")) {
    if (cache.size >= VERIFIED_MAX) cache.clear();
    cache.set(token, { identity, exp: payload.exp });
  }
  return { ...identity };
}

export function authenticate(opts: AccessTokenOptions): RequestHandler {
  return withRouteMeta(
    (req, res, next) => {
      const header = req.headers.authorization;
      const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!m?.[1]) throw new UnauthorizedError("Missing bearer token");
      const identity = verifyAccessToken(m[1], opts);
      const ctx = requestContext(res);
      if (ctx) {
        ctx.actor = { userId: identity.userId, role: identity.role };
        identity.request = ctx;
      }
      res.locals.auth = identity;
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

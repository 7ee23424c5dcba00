import { Router, type RequestHandler } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import { errorBody } from "../../platform/http/error-handler.js";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { AuthController } from "./auth.controller.js";
import { noStore } from "../../platform/http/no-store.js";
import {
  AuthLoginSchema,
  AuthLogoutSchema,
  AuthMeResponseSchema,
  AuthPasswordChangeSchema,
  AuthRefreshSchema,
  AuthRegisterSchema,
  AuthSessionResponseSchema,
  TokenPairSchema,
} from "./auth.schema.js";
import type { AuthService } from "./auth.service.js";

function limiter(
  perMinute: number,
  keyOf: (req: Parameters<RequestHandler>[0]) => string,
  what: string,
  windowMs = 60_000,
  attempts = "login attempts",
): RequestHandler {
  return rateLimit({
    windowMs,
    limit: perMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    keyGenerator: keyOf,
    handler: (req, res) => {
      res.status(429).json(errorBody(String(req.id ?? ""), "RATE_LIMITED", `Too many ${attempts} for this ${what}; try again later`));
    },
  });
}

export function authRoutes(deps: {
  auth: AuthService;
  authenticate: RequestHandler;
  loginRateLimitPerMinute: number;
  /** Registrations per IP per hour (default 20): bounds probing which emails have accounts. */
  registerRateLimitPerHour?: number;
}): Router {
  const c = new AuthController(deps.auth);
  const r = Router();
  // Every response here may carry a token: never cached.
  r.use(noStore);
  const registrations = limiter(
    deps.registerRateLimitPerHour ?? 20,
    (req) => `register:${ipKeyGenerator(req.ip ?? "unknown")}`,
    "address",
    3_600_000,
    "registrations",
  );
  const perIp = limiter(deps.loginRateLimitPerMinute * 3, (req) => `ip:${ipKeyGenerator(req.ip ?? "unknown")}`, "address");
  const perEmail = limiter(
    deps.loginRateLimitPerMinute,
    (req) =>
      `email:${String((req.body as { email?: unknown } | undefined)?.email ?? "")
        .trim()
        .toLowerCase()}`,
    "account",
  );
  r.post(
    "/register",
    doc({
      summary: "Create an account",
      tags: ["auth"],
      status: 201,
      response: { description: "The new account and its first token pair", schema: AuthSessionResponseSchema },
      errors: [409, 429],
    }),
    registrations,
    perIp,
    validate({ body: AuthRegisterSchema }),
    c.register,
  );
  r.post(
    "/login",
    doc({
      summary: "Log in",
      tags: ["auth"],
      response: { description: "The user and a new token pair", schema: AuthSessionResponseSchema },
      errors: [401, 429],
      errorDescriptions: { 401: "Wrong email or password (`UNAUTHORIZED`)" },
    }),
    perIp,
    perEmail,
    validate({ body: AuthLoginSchema }),
    c.login,
  );
  r.post(
    "/refresh",
    doc({
      summary: "Rotate a refresh token",
      tags: ["auth"],
      response: { description: "A new token pair; the one presented is used up", schema: TokenPairSchema },
      errors: [401, 429],
      errorDescriptions: {
        401: "Unknown, expired or already-used refresh token (`UNAUTHORIZED`); reusing a rotated one also revokes every token of that login",
      },
    }),
    perIp,
    validate({ body: AuthRefreshSchema }),
    c.refresh,
  );
  r.post(
    "/logout",
    doc({
      summary: "Log out: the refresh token's session ends, its access tokens included",
      tags: ["auth"],
      status: 204,
      response: { description: "Logged out" },
    }),
    validate({ body: AuthLogoutSchema }),
    c.logout,
  );
  r.post(
    "/password",
    doc({
      summary: "Change the caller's password: every session is revoked and a new one returned",
      tags: ["auth"],
      response: { description: "The user and the new session's token pair", schema: AuthSessionResponseSchema },
      errors: [429],
    }),
    deps.authenticate,
    perIp,
    validate({ body: AuthPasswordChangeSchema }),
    c.changePassword,
  );
  r.get(
    "/me",
    doc({ summary: "The signed-in user", tags: ["auth"], response: { description: "{user}", schema: AuthMeResponseSchema } }),
    deps.authenticate,
    c.me,
  );
  return r;
}

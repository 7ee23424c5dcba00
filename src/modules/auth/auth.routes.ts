import { Router, type RequestHandler } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import { errorBody } from "../../platform/http/error-handler.js";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { AuthController } from "./auth.controller.js";
import { AuthLoginSchema, AuthLogoutSchema, AuthRefreshSchema, AuthRegisterSchema } from "./auth.schema.js";
import type { AuthService } from "./auth.service.js";

function limiter(perMinute: number, keyOf: (req: Parameters<RequestHandler>[0]) => string, what: string): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    keyGenerator: keyOf,
    handler: (req, res) => {
      res.status(429).json(errorBody(String(req.id ?? ""), "RATE_LIMITED", `Too many login attempts for this ${what}; try again later`));
    },
  });
}

export function authRoutes(deps: { auth: AuthService; authenticate: RequestHandler; loginRateLimitPerMinute: number }): Router {
  const c = new AuthController(deps.auth);
  const r = Router();
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
      response: { description: "{user, accessToken, refreshToken}" },
      errors: [409, 429],
    }),
    perIp,
    validate({ body: AuthRegisterSchema }),
    c.register,
  );
  r.post(
    "/login",
    doc({ summary: "Log in", tags: ["auth"], response: { description: "{user, accessToken, refreshToken}" }, errors: [429] }),
    perIp,
    perEmail,
    validate({ body: AuthLoginSchema }),
    c.login,
  );
  r.post(
    "/refresh",
    doc({ summary: "Rotate a refresh token", tags: ["auth"], response: { description: "{accessToken, refreshToken}" }, errors: [429] }),
    perIp,
    validate({ body: AuthRefreshSchema }),
    c.refresh,
  );
  r.post(
    "/logout",
    doc({ summary: "Revoke a refresh token", tags: ["auth"], status: 204, response: { description: "Logged out" } }),
    validate({ body: AuthLogoutSchema }),
    c.logout,
  );
  r.get("/me", doc({ summary: "The signed-in user", tags: ["auth"], response: { description: "{user}" } }), deps.authenticate, c.me);
  return r;
}

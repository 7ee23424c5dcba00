import { Router, type RequestHandler } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import { errorBody } from "../../platform/http/errors.js";
import { validate } from "../../platform/http/validate.js";
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
    (req) => `email:${String((req.body as { email?: unknown } | undefined)?.email ?? "").trim().toLowerCase()}`,
    "account",
  );
  r.post("/register", perIp, validate({ body: AuthRegisterSchema }), c.register);
  r.post("/login", perIp, perEmail, validate({ body: AuthLoginSchema }), c.login);
  r.post("/refresh", perIp, validate({ body: AuthRefreshSchema }), c.refresh);
  r.post("/logout", validate({ body: AuthLogoutSchema }), c.logout);
  r.get("/me", deps.authenticate, c.me);
  return r;
}

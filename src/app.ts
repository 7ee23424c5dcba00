/**
 * The Express app factory (no listen): used by src/index.ts and by the tests.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import express, { type Express, type RequestHandler, Router } from "express";
import helmet from "helmet";
import { z } from "zod";
import type { Container } from "./container.js";
import { authRoutes } from "./modules/auth/auth.routes.js";
import { adminCatalogRoutes, catalogRoutes } from "./modules/catalog/catalog.routes.js";
import { adminCreditsRoutes, creditsRoutes } from "./modules/credits/credits.routes.js";
import { adminQuotasRoutes, quotasRoutes } from "./modules/quotas/quotas.routes.js";
import { instancesRoutes } from "./modules/instances/instances.routes.js";
import { backupsRoutes } from "./modules/backups/backups.routes.js";
import { adminServiceVersionRoutes } from "./modules/catalog/service-versions.routes.js";
import { upgradesRoutes } from "./modules/upgrades/upgrades.routes.js";
import { retainedBackupsRoutes } from "./modules/backups/retained-backups.routes.js";
import { subscriptionsRoutes } from "./modules/subscriptions/subscriptions.routes.js";
import { adminUsersRoutes } from "./modules/users/users.routes.js";
import { adminHealthRoutes } from "./modules/health/health.routes.js";
import { DEV_CHECKOUT_PATH } from "./modules/payments/dev.provider.js";
import { adminPaymentsRoutes, devCheckoutRoutes, paymentsRoutes, webhookRoutes } from "./modules/payments/payments.routes.js";
import { adminAuditRoutes } from "./modules/audit/audit.routes.js";
import { DependencyUnavailableError, UnauthorizedError } from "./platform/domain-errors.js";
import { accessLog } from "./platform/http/access-log.js";
import { authenticate, requireRole } from "./platform/http/auth.js";
import { apiDescription } from "./platform/http/api-description.js";
import { corsMiddleware } from "./platform/http/cors.js";
import { addDocsRoutes } from "./platform/http/docs.js";
import { errorHandler, notFoundHandler } from "./platform/http/error-handler.js";
import { rejectNulCharacters } from "./platform/http/hostile-input.js";
import { openApiFor } from "./platform/http/openapi.js";
import { doc, type RouteDoc } from "./platform/http/route-meta.js";
import { listAppRoutes, routePatternMatcher } from "./platform/http/routes.js";
import { httpMetricsMiddleware } from "./platform/metrics.js";
import { ReadinessSchema } from "./platform/readiness.js";
import { startRequestContext } from "./platform/request-context.js";

const API_VERSION = "0.1.0";
/** With a METRICS_TOKEN configured, the scrape must present it (constant-time comparison). */
function metricsAuth(token: string | undefined): RequestHandler {
  const expected = token ? createHash("sha256").update(`Bearer ${token}`).digest() : undefined;
  return (req, _res, next) => {
    if (expected) {
      const given = createHash("sha256")
        .update(req.headers.authorization ?? "")
        .digest();
      if (!timingSafeEqual(given, expected)) throw new UnauthorizedError("Metrics require the configured bearer token");
    }
    next();
  };
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const LivenessSchema = z.object({ status: z.literal("ok") });

export function createApp(c: Container): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", c.config.http.trustProxy);
  app.set("query parser", "extended");

  // Route labels come from the app's own routes, read once after createApp has mounted them all.
  let routeOf: ReturnType<typeof routePatternMatcher> | undefined;
  const routeLabel = (method: string, path: string) => {
    routeOf ??= routePatternMatcher(listAppRoutes(app));
    return routeOf(method, path);
  };
  // Request id and access log (method, URL, route, status, duration, request id); lean: see access-log.ts.
  app.use(accessLog({ logger: c.logger, ignore: (req) => req.url === "/healthz" || req.url === "/metrics", routeOf: routeLabel }));
  app.use(httpMetricsMiddleware(c.metrics, routeLabel));
  app.use(helmet());
  app.use(corsMiddleware(c.config.http.corsOrigins));
  // Payments: Stripe's webhook needs the raw body for its signature, so it is mounted before the JSON parser.
  const payments = { payments: c.services.payments, packages: c.services.creditPackages };
  app.use(
    "/api/webhooks",
    webhookRoutes({ ...payments, verifier: c.paymentsWebhookVerifier, rateLimitPerMinute: c.config.payments.webhookRateLimitPerMinute }),
  );
  // Only methods that carry a body have one parsed: a GET or DELETE body means nothing here, so it
  // cannot fail a request (bad JSON, bad compression, too large) either.
  const json = express.json({ limit: c.config.http.bodyLimit, strict: true });
  app.use((req, res, next) => (BODY_METHODS.has(req.method) ? json(req, res, next) : next()));
  app.use(rejectNulCharacters);
  // Who is asking, for the audit log (request-context.ts).
  app.use((req, res, next) => {
    startRequestContext(req, res);
    next();
  });

  // Operations.
  const ops = (d: RouteDoc) => doc({ ...d, tags: ["operations"], operational: true });
  app.get("/healthz", ops({ summary: "Liveness", response: { description: "{status: ok}", schema: LivenessSchema } }), (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get(
    "/readyz",
    ops({
      summary: "Readiness: this replica can serve",
      description:
        "Ready when the database answers within about a second (one try). The cluster's reachability is reported " +
        "from the last Kubernetes call the loops made, and never makes the replica unready. No addresses or error " +
        "texts: the 503 carries the same `checks` in `error.details`.",
      response: { description: "Ready", schema: ReadinessSchema },
      errors: [503],
    }),
    async (_req, res) => {
      const { ready, checks } = await c.readiness();
      if (!ready) throw new DependencyUnavailableError("Not ready: the database did not answer", { details: { checks } });
      res.json({ status: "ready", checks });
    },
  );
  app.get(
    "/metrics",
    ops({
      summary: "Prometheus metrics (bearer METRICS_TOKEN when configured)",
      response: { description: "Prometheus text format", contentType: "text/plain" },
      errors: [401],
    }),
    metricsAuth(c.config.metrics.token),
    async (_req, res) => {
      res.type(c.metrics.contentType()).send(await c.metrics.text());
    },
  );
  addDocsRoutes(app, openApiFor(app, { title: "MinisPod control plane API", version: API_VERSION, description: apiDescription(c.config) }));

  const accessToken = c.accessTokenOptions;
  const authn = authenticate(accessToken);
  const api = Router();
  api.use(
    "/auth",
    authRoutes({
      auth: c.services.auth,
      authenticate: authn,
      loginRateLimitPerMinute: c.config.auth.loginRateLimitPerMinute,
      registerRateLimitPerHour: c.config.auth.registerRateLimitPerHour,
    }),
  );
  api.use("/services", catalogRoutes({ catalog: c.services.catalog }));
  // Feature routers for signed-in users are mounted here, each behind `authn`.
  api.use(
    "/credits",
    authn,
    creditsRoutes({ credits: c.services.credits }),
    paymentsRoutes({ ...payments, checkoutRateLimitPerMinute: c.config.payments.checkoutRateLimitPerMinute }),
  );
  api.use("/quotas", authn, quotasRoutes({ quotas: c.services.quotas }));
  api.use("/subscriptions", authn, subscriptionsRoutes({ subscriptions: c.services.subscriptions }));
  api.use("/backups", authn, retainedBackupsRoutes({ retained: c.services.retainedBackups }));
  // /api/instances: the three modules' routes on one router, so that an instance request enters one
  // router, not three. The backups' and upgrades' routes first, each behind its own path-scoped `authn`.
  const instanceRouter = Router();
  backupsRoutes({ backups: c.services.backups, authenticate: authn }, instanceRouter);
  upgradesRoutes({ upgrades: c.services.upgrades, authenticate: authn }, instanceRouter);
  instancesRoutes(
    {
      instances: c.services.instances,
      authenticate: authn,
      ...c.streams,
      heartbeatMs: c.config.streams.heartbeatMs,
      shutdownSignal: c.shutdownSignal,
    },
    instanceRouter,
  );
  api.use("/instances", instanceRouter);

  const admin = Router();
  admin.use(authn, requireRole("ADMIN"));
  admin.use(adminCatalogRoutes({ catalog: c.services.catalog }));
  admin.use(adminServiceVersionRoutes({ versions: c.services.serviceVersions }));
  admin.use(adminUsersRoutes({ users: c.services.users }));
  admin.use(adminCreditsRoutes({ credits: c.services.credits }));
  admin.use(adminQuotasRoutes({ quotas: c.services.quotas }));
  admin.use(adminHealthRoutes({ health: c.services.health }));
  admin.use(adminPaymentsRoutes(payments));
  admin.use(adminAuditRoutes({ audit: c.services.audit }));
  api.use("/admin", admin);

  // The development payment provider's page (local mode only: no STRIPE_SECRET_KEY outside production).
  if (c.services.payments.providerName === "development") app.use(DEV_CHECKOUT_PATH, devCheckoutRoutes(payments));
  app.use("/api", api);
  app.use(notFoundHandler);
  app.use(errorHandler({ logger: c.logger, exposeStack: !c.config.isProduction }));
  return app;
}

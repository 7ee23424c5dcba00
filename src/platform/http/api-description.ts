/**
 * `info.description` of the OpenAPI document: what a newcomer reads first in `/docs` — how to get a
 * token, how to get credits and, in local mode, who the admin is and where its password is kept
 * (never the password itself).
 */
import type { Config } from "../../config/index.js";

export function apiDescription(config: Config): string {
  const localAdmin = config.isProduction
    ? []
    : [
        "## Local mode: the admin login",
        "",
        `This server runs in local mode (NODE_ENV=${config.env}). The first admin is **${config.admin.email}**; its password is ` +
          (config.admin.password
            ? "the configured `ADMIN_PASSWORD`"
            : "generated at the first start and kept as `adminPassword` in `local-secrets.json` inside `DATA_DIR` (default `./data`)") +
          ". Log in with it at `POST /api/auth/login` to use the admin endpoints.",
        "",
      ];
  return [
    "The MinisPod control plane: buy credits, subscribe to a plan of n8n, Ghost or PostgreSQL, and the instance is provisioned on Kubernetes and watched for you.",
    "",
    "## Getting a token",
    "",
    "1. `POST /api/auth/register` `{email, password, name}` (or `POST /api/auth/login` `{email, password}`) answers `{user, accessToken, refreshToken}`.",
    "2. Send `Authorization: Bearer <accessToken>` on every other `/api` call (in this page: **Authorize**).",
    `3. Access tokens expire after ${Math.round(config.auth.accessTokenTtlMs / 60_000)} minutes: trade the refresh token at \`POST /api/auth/refresh\` for a new pair. Each refresh token works once; presenting a used one again logs that session out everywhere.`,
    "",
    "## Getting credits",
    "",
    "A new account has 0 credits. An admin grants them: `POST /api/admin/users/{id}/credits` `{amount, reason}` with an `Idempotency-Key` header (`GET /api/admin/users?email=` finds the id). `GET /api/credits` shows the balance.",
    "",
    "## Your first instance",
    "",
    "`GET /api/services` lists the services and their plans (price in credits per month). `POST /api/subscriptions` `{planId, instanceName}` charges the first month and starts provisioning; poll `GET /api/instances/{id}` (or stream `GET /api/instances/{id}/events`) until `status` is `RUNNING`, then read `GET /api/instances/{id}/credentials`.",
    "",
    ...localAdmin,
    "## Conventions",
    "",
    'Errors have one shape, `{"error": {"code", "message", "details", "requestId"}}`, with a stable `code`. Lists are `{data, page}` with `?page=&pageSize=`. Ids are strings, money is integer credits, times are ISO-8601 UTC. Every response carries `X-Request-Id`. Browsers on the origins in `CORS_ORIGINS` may call the API directly.',
  ].join("\n");
}

/**
 * The OpenAPI 3.1 document, built from the routes the app actually serves (routes.ts) and the same
 * zod schemas that validate their requests (z.toJSONSchema, input side: what a client sends) and type
 * their responses (`doc({ response: { schema } })`, output side: what a client receives; objects are
 * closed, so a field the schema does not name is a mismatch in test/helpers/contract.ts).
 * Error responses are derived from each route's middleware — 400 always (any URL can be malformed),
 * 401 behind `authenticate`, 403 behind `requireRole`, 404 when the path has parameters, 503 on every
 * API route (a database outage) — plus the ones its `doc()` declares (402, 409, 422, 429, ...). All errors share the one error shape.
 */
import type { Express } from "express";
import { z } from "zod";
import { type AppRoute, listAppRoutes, toOpenApiPath } from "./routes.js";

type JsonSchema = Record<string, unknown>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Validation failed, malformed JSON or URL, NUL characters, a body that does not match its Content-Encoding (`VALIDATION_ERROR`)",
  401: "Missing, invalid or expired bearer token (`UNAUTHORIZED`)",
  402: "Insufficient credits (`INSUFFICIENT_CREDITS`, details: {balance, price})",
  403: "The caller's role may not do this (`FORBIDDEN`)",
  404: "Not found — also another tenant's objects (`NOT_FOUND`)",
  409: "Conflict: duplicate, wrong state or idempotency key reused (`CONFLICT`, `INVALID_STATE`, `UPGRADE_NOT_ALLOWED`, `IDEMPOTENCY_KEY_REUSED`, `IDEMPOTENCY_KEY_IN_PROGRESS` with Retry-After, ...)",
  413: "Request body too large (`PAYLOAD_TOO_LARGE`)",
  415: "Unsupported Content-Encoding of the request body (`UNSUPPORTED_MEDIA_TYPE`)",
  422: "Quota exceeded (`QUOTA_EXCEEDED`, details: {limit, max, current, requested}), or well-formed input that cannot be carried out (`BACKUP_MISMATCH`: a backup of another service, or larger than the plan's volume)",
  429: "Rate limited (`RATE_LIMITED`)",
  500: "Unexpected error (`INTERNAL_ERROR`)",
  503: "A dependency (database, cluster) is unavailable (`DEPENDENCY_UNAVAILABLE`)",
};

const ERROR_SCHEMA: JsonSchema = {
  type: "object",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "requestId"],
      properties: {
        code: { type: "string", description: "Stable machine-readable code", examples: ["VALIDATION_ERROR"] },
        message: { type: "string" },
        details: { description: "Per-field problems (validation) or structured context" },
        requestId: { type: "string", description: "Also in the X-Request-Id response header" },
      },
    },
  },
};

/** Requests are described on their input side (what a client sends), responses on their output side. */
/** Response headers a client (and a browser dashboard, through CORS) may read. */
const RESPONSE_HEADERS: Record<string, JsonSchema> = {
  XRequestId: {
    description: "The request's id (the caller's own X-Request-Id when it sent a valid one); also in error bodies",
    schema: { type: "string" },
  },
  IdempotentReplayed: {
    description: "`true` when this is the stored response of an earlier request with the same Idempotency-Key",
    schema: { type: "string", enum: ["true"] },
  },
  RetryAfter: { description: "Seconds to wait before trying again", schema: { type: "string" } },
};

function jsonSchemaOf(schema: z.ZodType, io: "input" | "output" = "input"): JsonSchema {
  const s = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  delete s.$schema;
  return s;
}

const REQUEST_ID_HEADER = { "X-Request-Id": { $ref: "#/components/headers/XRequestId" } };

/** The error statuses a route can answer with. */
export function errorStatusesOf(route: AppRoute): number[] {
  const s = new Set<number>();
  const hasBody = ["POST", "PUT", "PATCH"].includes(route.method);
  // Any request can be malformed (a NUL or bad percent-encoding in the URL, a bad body): 400 everywhere.
  s.add(400);
  if (route.meta.auth) s.add(401);
  if (route.meta.roles) s.add(403);
  if (/:[A-Za-z0-9_]+/.test(route.path)) s.add(404);
  if (hasBody) s.add(413).add(415);
  for (const e of route.meta.doc?.errors ?? []) s.add(e);
  // Any API call can meet a database outage (translateDbError: 503 DEPENDENCY_UNAVAILABLE).
  if (!route.meta.doc?.operational) s.add(503);
  s.add(500);
  return [...s].sort((a, b) => a - b);
}

function parameters(route: AppRoute): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const where of ["params", "query"] as const) {
    const schema = route.meta.schemas[where];
    const names = where === "params" ? [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string) : [];
    const js = schema ? jsonSchemaOf(schema) : undefined;
    const props = (js?.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((js?.required as string[] | undefined) ?? []);
    const keys = where === "params" ? names : Object.keys(props);
    for (const name of keys) {
      const p = props[name] ?? { type: "string" };
      out.push({
        name,
        in: where === "params" ? "path" : "query",
        required: where === "params" ? true : required.has(name),
        schema: p,
        ...(typeof p.description === "string" ? { description: p.description } : {}),
      });
    }
  }
  for (const h of route.meta.doc?.headers ?? []) {
    out.push({
      name: h.name,
      in: "header",
      required: h.required ?? false,
      description: h.description,
      schema: h.schema ? jsonSchemaOf(h.schema) : { type: "string" },
    });
  }
  return out;
}

function operationId(route: AppRoute): string {
  const words = route.path
    .split("/")
    .filter((w) => w && w !== "api")
    .map((w) => (w.startsWith(":") ? `by-${w.slice(1)}` : w));
  return [route.method.toLowerCase(), ...words].join("-").replace(/[^A-Za-z0-9]+(.)/g, (_m, c: string) => c.toUpperCase());
}

function operation(route: AppRoute): JsonSchema {
  const d = route.meta.doc;
  const status = d?.status ?? 200;
  const r = d?.response;
  let successContent: Record<string, JsonSchema> | undefined;
  if (status !== 204) {
    successContent =
      r?.contentType && r.contentType !== "application/json"
        ? { [r.contentType]: { schema: { type: "string" } } }
        : // A JSON response without a schema is documented as a bare object: test/platform/openapi.test.ts fails on it.
          { "application/json": { schema: r?.schema ? jsonSchemaOf(r.schema, "output") : { type: "object" } } };
    for (const alt of r?.alsoAs ?? []) successContent[alt.contentType] = { schema: { type: "string", description: alt.description } };
  }
  const idempotent = (d?.headers ?? []).some((h) => h.name.toLowerCase() === "idempotency-key");
  const responses: Record<string, JsonSchema> = {
    [String(status)]: {
      description: r?.description ?? "OK",
      headers: {
        ...REQUEST_ID_HEADER,
        ...(idempotent ? { "Idempotent-Replayed": { $ref: "#/components/headers/IdempotentReplayed" } } : {}),
      },
      ...(successContent ? { content: successContent } : {}),
    },
  };
  for (const alt of d?.alsoResponds ?? []) {
    const type = alt.contentType ?? "application/json";
    const schema = alt.schema ? jsonSchemaOf(alt.schema, "output") : { type: "object" };
    // A text stream is a string; the schema of each message's data rides along as x-data-schema.
    const media =
      type === "application/json" ? { schema } : { schema: { type: "string", ...(alt.schema ? { "x-data-schema": schema } : {}) } };
    const existing = responses[String(alt.status)] as { description: string; content?: Record<string, unknown> } | undefined;
    if (existing) {
      existing.description = `${existing.description}; ${type}: ${alt.description}`;
      existing.content = { ...existing.content, [type]: media };
    } else {
      responses[String(alt.status)] = {
        description: alt.description,
        headers: REQUEST_ID_HEADER,
        ...(alt.status === 204 ? {} : { content: { [type]: media } }),
      };
    }
  }
  for (const e of errorStatusesOf(route)) {
    const special = d?.errorDescriptions?.[e];
    responses[String(e)] = special
      ? {
          description: special,
          headers: REQUEST_ID_HEADER,
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        }
      : { $ref: `#/components/responses/E${e}` };
  }
  const body = route.meta.schemas.body;
  const tags = d?.tags ?? [route.path.split("/").filter(Boolean)[route.path.startsWith("/api/admin") ? 2 : 1] ?? "operations"];
  return {
    operationId: operationId(route),
    summary: d?.summary ?? `${route.method} ${route.path}`,
    ...(d?.description ? { description: d.description } : {}),
    tags,
    ...(route.meta.auth ? { security: [{ bearerAuth: [] }] } : { security: [] }),
    ...(route.meta.roles ? { "x-roles": route.meta.roles } : {}),
    parameters: parameters(route),
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchemaOf(body) } } } } : {}),
    responses,
  };
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

export function buildOpenApiDocument(routes: AppRoute[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const p = toOpenApiPath(r.path);
    paths[p] ??= {};
    paths[p][r.method.toLowerCase()] = operation(r);
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, description] of Object.entries(ERROR_DESCRIPTIONS)) {
    responses[`E${status}`] = {
      description,
      headers: { ...REQUEST_ID_HEADER, ...(status === "429" ? { "Retry-After": { $ref: "#/components/headers/RetryAfter" } } : {}) },
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: ERROR_SCHEMA },
      responses,
      headers: RESPONSE_HEADERS,
    },
  };
}

/** The document for an app, built once on first use (the app's routes are fixed after createApp). */
export function openApiFor(app: Express, info: OpenApiInfo): () => JsonSchema {
  let cached: JsonSchema | undefined;
  return () => {
    cached ??= buildOpenApiDocument(listAppRoutes(app), info);
    return cached;
  };
}

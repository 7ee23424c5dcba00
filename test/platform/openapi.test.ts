/**
 * The OpenAPI document: valid OpenAPI 3.1, covering every route the Express app serves (read off
 * `app.router.stack` independently of the builder), each with its derived and declared error
 * responses, request bodies that reject unknown keys, and the /docs page served without a CDN.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { apiDescription } from "../../src/platform/http/api-description.js";
import { errorStatusesOf } from "../../src/platform/http/openapi.js";
import { listAppRoutes } from "../../src/platform/http/routes.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
};
type Operation = {
  summary: string;
  tags: string[];
  security: unknown[];
  parameters: Array<{ name: string; in: string; required: boolean }>;
  requestBody?: { content: { "application/json": { schema: Record<string, unknown> } } };
  responses: Record<string, unknown>;
};

/** Independent walk of the Express 5 router stack: [METHOD, express path]. */
function expressRoutes(stack: unknown[], prefix = ""): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const layer of stack as Array<{
    rawPath?: string;
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: unknown[] };
  }>) {
    const join = (p: string) => `${prefix}/${p}`.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
    if (layer.route) for (const m of Object.keys(layer.route.methods)) out.push([m.toUpperCase(), join(layer.route.path)]);
    else if (Array.isArray(layer.handle?.stack)) out.push(...expressRoutes(layer.handle.stack, join(layer.rawPath ?? "/")));
  }
  return out;
}

const oaPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

let ctx: TestContext;
let doc: Doc;

beforeAll(async () => {
  ctx = await createTestContext();
  const res = await ctx.api.get("/openapi.json").expect(200);
  doc = res.body as Doc;
});
afterAll(async () => {
  await ctx?.close();
});

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(doc.openapi).toBe("3.1.0");
  });

  it("documents every route the app serves, with a summary and tags", () => {
    const routes = expressRoutes((ctx.app as unknown as { router: { stack: unknown[] } }).router.stack);
    expect(routes.length).toBeGreaterThan(35);
    const missing = routes.filter(([m, p]) => !doc.paths[oaPath(p)]?.[m.toLowerCase()]);
    expect(missing).toEqual([]);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual([...new Set(routes.map(([m, p]) => `${m} ${oaPath(p)}`))].sort());
    const undocumented = routes.filter(([m, p]) => {
      const op = doc.paths[oaPath(p)]?.[m.toLowerCase()];
      return !op || op.summary.startsWith(`${m} `) || op.tags.length === 0;
    });
    // A route without doc({summary, tags}) next to it gets a placeholder summary: add doc().
    expect(undocumented).toEqual([]);
  });

  it("gives each route its error responses: 400 always, 401 authenticated, 403 admin, 404 by id, declared ones", () => {
    for (const route of listAppRoutes(ctx.app)) {
      const op = doc.paths[oaPath(route.path)]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      const statuses = Object.keys(op?.responses ?? {}).map(Number);
      const expected = new Set<number>([500]);
      if (
        route.path.startsWith("/api/") &&
        !route.path.startsWith("/api/auth/") &&
        // Payments: Stripe's webhook (signature-authenticated) and the local-mode development checkout page.
        !route.path.startsWith("/api/webhooks/") &&
        !route.path.startsWith("/api/payments/dev/") &&
        route.path !== "/api/services" &&
        route.path !== "/api/services/:slug"
      )
        expected.add(401);
      if (route.path.startsWith("/api/admin/")) expected.add(403);
      if (route.path.includes("/:")) expected.add(404);
      expected.add(400); // any request can be malformed (NUL or bad percent-encoding in the URL)
      for (const s of expected) expect(statuses, `${route.method} ${route.path} should document ${s}`).toContain(s);
      expect(statuses.sort()).toEqual(
        [200, 201, 202, 204]
          .filter((s) => statuses.includes(s))
          .concat(errorStatusesOf(route))
          .sort(),
      );
    }
  });

  it("documents the declared business errors of the contract", () => {
    const responses = (m: string, p: string) => Object.keys(doc.paths[p]?.[m]?.responses ?? {});
    expect(responses("post", "/api/subscriptions")).toEqual(expect.arrayContaining(["201", "402", "409", "422"]));
    expect(responses("put", "/api/instances/{id}/update")).toEqual(expect.arrayContaining(["202", "402", "409", "422"]));
    expect(responses("post", "/api/auth/login")).toEqual(expect.arrayContaining(["200", "400", "401", "429"]));
    expect(responses("post", "/api/auth/refresh")).toEqual(expect.arrayContaining(["200", "400", "401", "429"]));
    expect(responses("get", "/api/auth/me")).toEqual(expect.arrayContaining(["401"]));
    expect(responses("post", "/api/admin/users/{id}/credits")).toEqual(expect.arrayContaining(["201", "400", "401", "403", "404", "409"]));
    expect(responses("get", "/readyz")).toEqual(["200", "400", "500", "503"]);
    expect(doc.paths["/api/instances/{id}"]?.get?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/api/services"]?.get?.security).toEqual([]);
  });

  it("gives every JSON success response a real schema (no bare objects), closed to undocumented fields", () => {
    const bare: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        for (const [status, resp] of Object.entries(
          op.responses as Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>,
        )) {
          const schema = resp.content?.["application/json"]?.schema;
          if (!schema || !status.startsWith("2")) continue;
          if (!schema.properties && !schema.anyOf && !schema.oneOf) bare.push(`${m.toUpperCase()} ${p} ${status}`);
        }
      }
    }
    // A route whose doc() has no response schema: add `response: { schema }` next to it.
    expect(bare).toEqual([]);
    const instance = doc.paths["/api/instances/{id}"]?.get?.responses["200"] as {
      content: Record<string, { schema: Record<string, unknown> }>;
    };
    const schema = instance.content["application/json"]?.schema as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, Record<string, unknown>>;
    };
    expect(schema.required).toEqual(["instance"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.instance).toMatchObject({
      type: "object",
      additionalProperties: false,
      properties: { status: { type: "string", enum: expect.arrayContaining(["PENDING", "RUNNING", "TERMINATED"]) } },
    });
  });

  it("describes what the known-wrong descriptions got wrong: grant {transaction}, admin quota {quota}", () => {
    type Resp = { content?: Record<string, { schema: { required: string[] } }> };
    const jsonSchema = (m: string, p: string, s: string) =>
      (doc.paths[p]?.[m]?.responses[s] as Resp | undefined)?.content?.["application/json"]?.schema;
    expect(jsonSchema("post", "/api/admin/users/{id}/credits", "201")?.required).toEqual(["transaction"]);
    expect(jsonSchema("get", "/api/admin/users/{id}/quota", "200")?.required).toEqual(["quota"]);
    expect(jsonSchema("put", "/api/admin/users/{id}/quota", "200")?.required).toEqual(["quota"]);
    expect(jsonSchema("get", "/api/quotas", "200")?.required).toEqual(["limits", "usage"]);
  });

  it("documents 401 on a wrong login and a reused refresh token, and the streaming media types", () => {
    const resp = (m: string, p: string, s: string) =>
      doc.paths[p]?.[m]?.responses[s] as { description: string; content: Record<string, unknown> };
    expect(resp("post", "/api/auth/login", "401").description).toBe("Wrong email or password (`UNAUTHORIZED`)");
    expect(resp("post", "/api/auth/refresh", "401").description).toMatch(/already-used refresh token/);
    expect(Object.keys(resp("get", "/api/instances/{id}/events", "200").content)).toEqual(["application/json", "text/event-stream"]);
    expect(Object.keys(resp("get", "/api/instances/{id}/logs", "200").content)).toEqual(["application/json", "text/plain"]);
    expect(Object.keys(resp("get", "/metrics", "200").content)).toEqual(["text/plain"]);
    expect(resp("post", "/api/auth/logout", "204").content).toBeUndefined();
  });

  it("tells a newcomer in info.description how to get a token, credits and the local admin login", () => {
    const description = (doc as unknown as { info: { description: string } }).info.description;
    expect(description).toContain("`POST /api/auth/register` `{email, password, name}`");
    expect(description).toContain("`Authorization: Bearer <accessToken>`");
    expect(description).toContain("`POST /api/admin/users/{id}/credits` `{amount, reason}` with an `Idempotency-Key` header");
    expect(description).toContain(`The first admin is **${ctx.config.admin.email}**; its password is the configured \`ADMIN_PASSWORD\``);
    expect(description).not.toContain(ctx.config.admin.password as string);
  });

  it("names no admin login in production, and never a password", () => {
    const prod = apiDescription(
      loadConfig({
        NODE_ENV: "production",
        DATABASE_URL: "postgresql://x@127.0.0.1/db",
        JWT_SECRET: "x".repeat(40),
        K8S_MODE: "cluster",
        CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
        ADMIN_PASSWORD: "production-admin-password",
      }),
    );
    expect(prod).toContain("## Getting a token");
    expect(prod).not.toContain("Local mode");
    expect(prod).not.toContain("production-admin-password");
    const generated = apiDescription(loadConfig({ NODE_ENV: "development", ADMIN_EMAIL: "Boss@Example.com" }));
    expect(generated).toContain(
      "The first admin is **boss@example.com**; its password is generated at the first start and kept as `adminPassword` in `local-secrets.json` inside `DATA_DIR` (default `./data`).",
    );
  });

  it("describes request bodies from the validating zod schemas, rejecting unknown keys", () => {
    const bodies = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.requestBody)
        .map(([m, op]) => ({ at: `${m} ${p}`, schema: op.requestBody?.content["application/json"].schema ?? {} })),
    );
    expect(bodies.length).toBeGreaterThanOrEqual(13);
    for (const b of bodies) {
      // A body with several shapes (POST /api/instances) is a union: each shape rejects unknown keys.
      const shapes = (b.schema as { anyOf?: Array<{ additionalProperties?: unknown }> }).anyOf ?? [b.schema];
      for (const s of shapes) expect(s.additionalProperties, b.at).toBe(false);
    }
    expect(doc.paths["/api/instances"]?.post?.requestBody?.content["application/json"].schema).toMatchObject({
      anyOf: [
        { type: "object", required: ["planId", "name"] },
        { type: "object", required: ["subscriptionId"] },
      ],
    });
    expect(doc.paths["/api/subscriptions"]?.post?.requestBody?.content["application/json"].schema).toMatchObject({
      type: "object",
      required: ["planId", "instanceName"],
      properties: { planId: { type: "string", minLength: 1, maxLength: 64 } },
    });
  });

  it("describes path, query and header parameters", () => {
    const logs = doc.paths["/api/instances/{id}/logs"]?.get;
    expect(logs?.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "id", in: "path", required: true }),
        expect.objectContaining({
          name: "tailLines",
          in: "query",
          required: false,
          schema: expect.objectContaining({ type: "integer", maximum: 5000 }),
        }),
      ]),
    );
    const grant = doc.paths["/api/admin/users/{id}/credits"]?.post;
    expect(grant?.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "Idempotency-Key", in: "header", required: true })]),
    );
  });

  it("the document's request schemas agree with what the API accepts", async () => {
    const res = await ctx.api.post("/api/auth/register").send({ email: "x@example.com", password: "long-enough-pw", name: "X", extra: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_ERROR");
  });
});

describe("GET /docs", () => {
  it("serves a self-contained Swagger UI page with no inline script, under helmet's CSP", async () => {
    const page = await ctx.api
      .get("/docs")
      .expect(200)
      .expect("content-type", /text\/html/);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((s) => s[2]?.trim())).toEqual(["", ""]);
    for (const src of [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string)) {
      expect(src.startsWith("/"), src).toBe(true);
      await ctx.api.get(src).expect(200);
    }
    const init = await ctx.api
      .get("/docs/init.js")
      .expect(200)
      .expect("content-type", /javascript/);
    expect(init.text).toContain('url: "/openapi.json"');
    await ctx.api
      .get("/docs/assets/swagger-ui-bundle.js")
      .expect(200)
      .expect("content-type", /javascript/);
  });
});

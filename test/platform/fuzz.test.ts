/**
 * Property-based fuzzing of every operation in `/openapi.json` (read from the app itself, so a new
 * route is fuzzed without touching this file). For each path + method, fast-check generates requests
 * built from the operation's own schemas and then broken: wrong types, missing and extra fields,
 * hostile strings (NUL, unicode, very long, percent-garbage), huge numbers, raw bodies that are not
 * JSON or claim a compression they do not have, bad headers (tokens, Idempotency-Key, Content-Type),
 * garbage path parameters and query strings — anonymous, as a user and as an admin.
 *
 * It fails on any 5xx, on an error body outside the one shape
 * (`{"error": {"code", "message", "details"?, "requestId"}}`), and on a status the document does not
 * list for the operation. Bounded for CI: a fixed seed and RUNS_PER_OPERATION runs each (override
 * with FUZZ_RUNS / FUZZ_SEED). Meant for PostgreSQL (NUL is PostgreSQL error 22021); it runs on PGlite too.
 */
import * as fc from "fast-check";
import type supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAdmin, buildUser, createTestContext, type TestContext, type TestUser } from "../helpers/app.js";
import { StripeStandIn } from "../helpers/stripe-stand-in.js";

const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  format?: string;
  const?: unknown;
};
type Parameter = { name: string; in: "path" | "query" | "header"; required?: boolean; schema?: JsonSchema };
type Operation = {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  security?: unknown[];
  "x-roles"?: string[];
};

let ctx: TestContext;
let user: TestUser;
let admin: TestUser;
let doc: { paths: Record<string, Record<string, Operation>> };
/** Real ids, so some generated requests reach past the lookups (filled in beforeAll, read lazily). */
const realIds: string[] = [];
/** encodeURIComponent that survives lone surrogates (they go out as U+FFFD). */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, "\uFFFD"));
  }
}
const realId = fc.nat(1000).map((i) => realIds[i % realIds.length] ?? "none");

let stripe: StripeStandIn;

beforeAll(async () => {
  // Payments configured with Stripe (the real library against a loopback stand-in), so the webhook's
  // signature check and checkout are live and fuzzed too, not answering "not configured".
  stripe = await StripeStandIn.start();
  ctx = await createTestContext({
    env: {
      STRIPE_SECRET_KEY: "sk_test_fuzz",
      STRIPE_WEBHOOK_SECRET: "whsec_fuzz",
      STRIPE_API_URL: stripe.url,
      APP_URL: "http://localhost:5173",
    },
  });
  user = await buildUser(ctx);
  admin = await buildAdmin(ctx);
  const prisma = ctx.container.db.prisma;
  await ctx.container.services.ledger.post(prisma, { userId: user.id, type: "TOPUP", amount: 100_000, reason: "fuzz" });
  const plan = await prisma.plan.findFirstOrThrow({ where: { slug: "small", service: { slug: "postgresql" } } });
  const sub = await ctx.api.post("/api/subscriptions").set(user.auth).send({ planId: plan.id, instanceName: "fuzz target" });
  expect(sub.status).toBe(201);
  realIds.push(user.id, plan.id, plan.serviceId, sub.body.subscription.id, sub.body.instance.id, "n8n", "postgresql");
  doc = (await ctx.api.get("/openapi.json").expect(200)).body;
}, 120_000);
afterAll(async () => {
  await ctx?.close();
  await stripe?.stop();
});

// ---------------------------------------------------------------------------------------------
// Arbitraries

const hostileString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "%",
    "%00",
    "%FF",
    "%E0%A4%A",
    "../../etc/passwd",
    "'; DROP TABLE users;--",
    "\uD800",
    "\u202Egnp.exe",
    "🙂".repeat(64),
    "x".repeat(5000),
    "null",
    "true",
    "1e309",
    "-1",
    "0x10",
    "<script>alert(1)</script>",
    "\r\nX-Injected: 1",
    "ℌ𝔢𝔩𝔩𝔬",
    "__proto__",
    "constructor",
    "admin@minispod.local",
    "2026-13-45T99:99:99Z",
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

const hugeNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, -0.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308, 5e-324),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const anyJson = fc.oneof(
  hostileString,
  hugeNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(hostileString, hugeNumber), { maxLength: 3 }),
  fc.dictionary(hostileString, fc.oneof(hostileString, hugeNumber), { maxKeys: 3 }),
);

/** A value that fits the schema, when the schema is simple enough to follow. */
function plausible(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return anyJson;
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => plausible(s, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      if (schema.format === "email") return fc.emailAddress();
      if (schema.format === "date-time") return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      return fc.oneof(fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 30) }), realId);
    case "integer":
      return fc.integer({ min: Math.max(schema.minimum ?? -1000, -1e6), max: Math.min(schema.maximum ?? 1000, 1e6) });
    case "number":
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(plausible(schema.items, depth + 1), { maxLength: 3 });
    case "object":
      return objectFrom(schema, depth);
    default:
      return anyJson;
  }
}

/** A value of the schema, or of another type, or hostile. */
function mutated(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: plausible(schema, depth) },
    { weight: 2, arbitrary: hostileString },
    { weight: 2, arbitrary: hugeNumber },
    { weight: 1, arbitrary: anyJson },
  );
}

/** An object with the schema's properties, some missing, some of the wrong type, maybe extra keys. */
function objectFrom(schema: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const props = Object.entries(schema.properties ?? {});
  const fields = props.map(([name, s]) =>
    fc.record({ name: fc.constant(name), keep: fc.nat(9), value: mutated(s, depth + 1) }, { noNullPrototype: true }),
  );
  return fc
    .tuple(fc.tuple(...fields), fc.dictionary(hostileString, anyJson, { maxKeys: 2 }), fc.nat(3))
    .map(([values, extra, extraChance]) => {
      const out: Record<string, unknown> = {};
      for (const f of values) if (f.keep > 0) out[f.name] = f.value; // ~10% missing
      if (extraChance === 0) Object.assign(out, extra);
      return out;
    });
}

const tokenFor = (who: "anonymous" | "user" | "admin" | "garbage" | "none-alg") =>
  ({
    anonymous: undefined,
    user: `Bearer ${user.token}`,
    admin: `Bearer ${admin.token}`,
    garbage: "Bearer not.a.jwt",
    "none-alg": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6IkFETUlOIn0.",
  })[who];

/** Header values Node can send (latin1, no control characters other than tab). */
const headerValue = fc.oneof(
  fc.constantFrom("", " ", "x".repeat(300), "a b", "ÿ", "%00", "\t", "null", "Bearer", "Bearer  "),
  fc.string({ maxLength: 40 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
);

/** A path parameter as it appears in the URL: encoded values, or raw percent-garbage. */
const pathParam = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .oneof(hostileString, fc.constantFrom(...["1", "0", "-1", "9".repeat(40)]))
      .filter((s) => s.length > 0)
      .map(enc),
  },
  { weight: 2, arbitrary: realId.map(enc) },
  { weight: 2, arbitrary: fc.constantFrom("%", "%FF", "%E0%A4%A", "%00", "abc%zz", "%C0%AF", "%2e%2e", "..%2F..", "a%2Fb") },
);

function queryString(params: Parameter[]): fc.Arbitrary<string> {
  const declared = params.filter((p) => p.in === "query");
  const pair = (name: string, schema?: JsonSchema) =>
    fc
      .tuple(mutated(schema), fc.boolean())
      .map(
        ([v, raw]) =>
          `${enc(name)}=${raw && typeof v === "string" ? v.replace(/[^\x21-\x7e]/g, "") : enc(v !== null && typeof v === "object" ? JSON.stringify(v) : String(v))}`,
      );
  const pieces = [
    ...declared.map((p) => fc.option(pair(p.name, p.schema), { nil: undefined, freq: 3 })),
    fc.option(
      fc.constantFrom(
        "page[]=1&page[]=2",
        "page=1&page=2",
        "a[b][c][d][e][f][g]=1",
        "__proto__[x]=1",
        "constructor[prototype][x]=1",
        "pageSize=1e400",
        "page=%FF",
        "x=%",
        "status=%00",
      ),
      { nil: undefined, freq: 3 },
    ),
  ];
  return fc.tuple(...pieces).map((ps) => {
    const q = ps.filter((p): p is string => p !== undefined).join("&");
    return q ? `?${q}` : "";
  });
}

type Body = { kind: "none" } | { kind: "json"; value: unknown } | { kind: "raw"; contentType: string; text: string; encoding?: string };

function bodyFor(op: Operation): fc.Arbitrary<Body> {
  const schema = op.requestBody?.content["application/json"]?.schema;
  return fc.oneof(
    { weight: 6, arbitrary: mutated(schema).map((value): Body => ({ kind: "json", value })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            "application/json",
            "application/json; charset=latin1",
            "application/json; charset=utf-16",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/merge-patch+json",
          ),
          fc.constantFrom(
            '{"a":',
            "[1,2,",
            '{"amount":1e400}',
            '{"amount":123456789012345678901234567890}',
            "null",
            '"str"',
            "{}",
            "[]",
            '{"__proto__":{"admin":true}}',
          ),
          fc.constantFrom(undefined, undefined, "gzip", "deflate", "br", "identity", "x-unknown"),
        )
        .map(([contentType, text, encoding]): Body => ({ kind: "raw", contentType, text, encoding })),
    },
  );
}

interface Generated {
  url: string;
  who: Parameters<typeof tokenFor>[0];
  idempotencyKey: string | undefined;
  requestId: string | undefined;
  accept: string | undefined;
  body: Body;
}

function requestFor(path: string, op: Operation): fc.Arbitrary<Generated> {
  const params = op.parameters ?? [];
  const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
  const needsAdmin = (op["x-roles"] ?? []).includes("ADMIN");
  return fc.record({
    url: fc.tuple(fc.tuple(...names.map(() => pathParam)), queryString(params)).map(([values, q]) => {
      let i = 0;
      return path.replace(/\{[^}]+\}/g, () => values[i++] as string) + q;
    }),
    who: needsAdmin
      ? fc.constantFrom("admin", "admin", "admin", "user", "anonymous", "garbage", "none-alg")
      : fc.constantFrom("user", "user", "user", "admin", "anonymous", "garbage", "none-alg"),
    idempotencyKey: fc.option(fc.oneof(fc.uuid(), headerValue), { nil: undefined }),
    requestId: fc.option(headerValue, { nil: undefined, freq: 4 }),
    accept: fc.option(fc.constantFrom("application/json", "*/*", "text/html", "application/xml", "garbage/%%"), { nil: undefined }),
    body: bodyFor(op),
  });
}

// ---------------------------------------------------------------------------------------------
// Sending and judging

function send(method: string, g: Generated): supertest.Test {
  const m = method.toLowerCase() as "get" | "post" | "put" | "patch" | "delete";
  let req = ctx.api[m](g.url).timeout({ response: 10_000, deadline: 20_000 });
  const auth = tokenFor(g.who);
  if (auth) req = req.set("Authorization", auth);
  if (g.idempotencyKey !== undefined) req = req.set("Idempotency-Key", g.idempotencyKey);
  if (g.requestId !== undefined) req = req.set("X-Request-Id", g.requestId);
  if (g.accept !== undefined) req = req.set("Accept", g.accept);
  // As text: supertest cannot send a top-level number or boolean as JSON.
  if (g.body.kind === "json") return req.set("Content-Type", "application/json").send(JSON.stringify(g.body.value) ?? "null");
  if (g.body.kind === "raw") {
    req = req.set("Content-Type", g.body.contentType);
    if (g.body.encoding) req = req.set("Content-Encoding", g.body.encoding);
    return req.send(g.body.text);
  }
  return req;
}

const ERROR_KEYS = new Set(["code", "message", "details", "requestId"]);

/** Why the response is wrong, or undefined when it is fine. */
function judge(op: Operation, status: number, body: unknown, contentType: string | undefined): string | undefined {
  if (status >= 500) return `status ${status}: ${JSON.stringify(body).slice(0, 300)}`;
  if (!op.responses[String(status)])
    return `status ${status} is not documented for this operation (${Object.keys(op.responses).join(",")})`;
  if (status < 400) return undefined;
  if (!contentType?.includes("application/json")) return `error with content-type ${contentType}`;
  const b = body as { error?: Record<string, unknown> } | null;
  if (!b || typeof b !== "object" || Object.keys(b).join() !== "error" || !b.error || typeof b.error !== "object") {
    return `error body outside the shape: ${JSON.stringify(body).slice(0, 300)}`;
  }
  const e = b.error;
  if (typeof e.code !== "string" || typeof e.message !== "string" || typeof e.requestId !== "string") {
    return `error fields wrong: ${JSON.stringify(e).slice(0, 300)}`;
  }
  const extra = Object.keys(e).filter((k) => !ERROR_KEYS.has(k));
  if (extra.length) return `error has extra keys ${extra.join(",")}`;
  return undefined;
}

describe("fuzzing every documented operation", () => {
  it(`sends ${RUNS_PER_OPERATION} generated requests (seed ${SEED}) to each operation: no 5xx, errors in the one shape, statuses documented`, async () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    expect(operations.length).toBeGreaterThan(35);
    const failures: string[] = [];
    let sent = 0;
    for (const [index, { path, method, op }] of operations.entries()) {
      const result = await fc.check(
        fc.asyncProperty(requestFor(path, op), async (g) => {
          const res = await send(method, g);
          sent += 1;
          const problem = judge(op, res.status, res.body, res.headers["content-type"]);
          if (problem) throw new Error(problem);
        }),
        { seed: SEED + index, numRuns: RUNS_PER_OPERATION, endOnFailure: true },
      );
      if (result.failed) {
        const example = result.counterexample?.[0] as Generated | undefined;
        const cause = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
        failures.push(`${method} ${path}: ${cause}\n    request: ${JSON.stringify({ ...example, body: example?.body }).slice(0, 400)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(operations.length);
  }, 600_000);
});

/**
 * The response-contract hook: every response a test app sends — to supertest, `fetch`, an
 * EventSource, anything — is checked against the app's OpenAPI document (the one `/openapi.json`
 * serves, built by the same function from the same routes):
 *   - the operation exists (a path the document does not know may only answer 404 in the error shape);
 *   - the status is documented for it;
 *   - the Content-Type is one the document lists for that status;
 *   - a JSON body validates against the documented schema (ajv, JSON Schema 2020-12 with formats);
 *     a 204 has no body.
 * Checks run in the server, when the response is written. Mismatches are collected and
 * `test/setup/contract.ts` fails the test during which they happened, with one precise message each.
 * CORS preflights (OPTIONS) are not API operations and are not checked.
 */
import type { Express, Response } from "express";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsImport from "ajv-formats";
import { buildOpenApiDocument } from "../../src/platform/http/openapi.js";
import { listAppRoutes } from "../../src/platform/http/routes.js";

type Json = Record<string, unknown>;
type Doc = { paths: Record<string, Record<string, { responses: Record<string, Json> }>>; components: Json };

// ajv-formats is CommonJS with a default export.
const addFormats = ((addFormatsImport as unknown as { default?: unknown }).default ?? addFormatsImport) as (ajv: Ajv2020) => void;

const mismatches: string[] = [];
let checked = 0;

/** Mismatches recorded since the last call (and forgets them). */
export function takeContractMismatches(): string[] {
  return mismatches.splice(0, mismatches.length);
}

/** How many responses the hook has checked in this test file (to prove it runs). */
export function contractCheckedCount(): number {
  return checked;
}

interface Operation {
  method: string;
  path: string;
  re: RegExp;
  responses: Record<string, Json>;
}

/** The compiled contract of one app. */
export class Contract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly operations: Operation[] = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly doc: Doc) {
    addFormats(this.ajv);
    for (const [path, ops] of Object.entries(doc.paths)) {
      const re = new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\{[A-Za-z0-9_]+\\\}/g, "[^/]+")}/?$`);
      for (const [method, op] of Object.entries(ops))
        this.operations.push({ method: method.toUpperCase(), path, re, responses: op.responses });
    }
  }

  static forApp(app: Express): Contract {
    return new Contract(buildOpenApiDocument(listAppRoutes(app), { title: "contract", version: "0" }) as unknown as Doc);
  }

  private deref(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.deref(n));
    if (!node || typeof node !== "object") return node;
    const o = node as Json;
    if (typeof o.$ref === "string" && o.$ref.startsWith("#/components/")) {
      const target = o.$ref
        .slice(2)
        .split("/")
        .reduce<unknown>((at, k) => (at as Json | undefined)?.[k], this.doc);
      if (target === undefined) throw new Error(`unresolvable $ref ${o.$ref}`);
      return this.deref(target);
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, this.deref(v)]));
  }

  /** Problems with one response; empty when it matches the document. */
  check(r: { method: string; url: string; status: number; contentType: string | undefined; body: Buffer | undefined }): string[] {
    const method = r.method === "HEAD" ? "GET" : r.method;
    const path = r.url.split("?")[0] ?? r.url;
    const candidates = this.operations.filter((o) => o.re.test(path));
    // Literal paths win over templated ones (/api/admin/users vs /api/admin/{x}), as in Express.
    const op = candidates.find((o) => o.method === method && !o.path.includes("{")) ?? candidates.find((o) => o.method === method);
    const mediaType = r.contentType?.split(";")[0]?.trim().toLowerCase();
    const bodyText = r.body?.toString("utf8") ?? "";
    const problems: string[] = [];
    let documented: Json | undefined;
    let where: string;
    if (!op) {
      // No such operation: only the generic 404 (unknown route) or 405 is acceptable, in the error shape.
      where = candidates.length ? `no ${method} operation on ${candidates[0]?.path}` : "no operation for this path";
      if (r.status !== 404) return [`${where}, but the response is ${r.status} (only 404 NOT_FOUND is expected for unknown routes)`];
      documented = this.deref({ $ref: "#/components/responses/E404" }) as Json;
    } else {
      where = `${op.method} ${op.path}`;
      const resp = op.responses[String(r.status)];
      if (!resp) {
        const listed = Object.keys(op.responses).join(", ");
        return [
          `${where}: status ${r.status} is not documented (documented: ${listed}). Add it to the route's doc({ errors }) or fix the handler.`,
        ];
      }
      documented = this.deref(resp) as Json;
    }
    const content = documented.content as Record<string, { schema?: Json }> | undefined;
    if (!content) {
      if (bodyText.length > 0) problems.push(`${where} ${r.status}: documented without a body, but the response has one (${mediaType})`);
      return problems;
    }
    const types = Object.keys(content);
    const matched = types.find((t) => t === mediaType || t === "*/*" || (t.endsWith("/*") && mediaType?.startsWith(t.slice(0, -1))));
    if (!matched) {
      problems.push(`${where} ${r.status}: Content-Type ${r.contentType ?? "(none)"} is not documented (documented: ${types.join(", ")})`);
      return problems;
    }
    if (matched !== "application/json" || r.method === "HEAD" || r.body === undefined) return problems;
    let parsed: unknown;
    try {
      parsed = JSON.parse(bodyText);
    } catch {
      return [`${where} ${r.status}: the body is not JSON: ${bodyText.slice(0, 200)}`];
    }
    const key = `${where} ${r.status}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(this.deref(content[matched]?.schema ?? {}) as Json);
      this.validators.set(key, validate);
    }
    if (!validate(parsed)) {
      for (const e of validate.errors ?? []) {
        const at = `body${e.instancePath}`;
        const params = Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : "";
        problems.push(`${where} ${r.status}: ${at} ${e.message}${params}`);
      }
      problems.push(`  (body: ${bodyText.length > 600 ? `${bodyText.slice(0, 600)}…` : bodyText})`);
    }
    return problems;
  }
}

const recorded = new WeakSet<object>();

/**
 * Checks every response `app` sends from now on. Works on the app's own response prototype
 * (`app.response`), so other apps and servers in the same process are untouched.
 */
export function recordContract(app: Express): Contract {
  const contract = Contract.forApp(app);
  const proto = app.response as Response;
  if (recorded.has(proto)) return contract;
  recorded.add(proto);
  const { write, end } = proto;
  type Captured = { chunks: Buffer[]; streaming: boolean; headChecked: boolean };
  const state = new WeakMap<object, Captured>();
  const stateOf = (res: object): Captured => {
    let s = state.get(res);
    if (!s) {
      s = { chunks: [], streaming: false, headChecked: false };
      state.set(res, s);
    }
    return s;
  };
  const report = (res: Response, body: Buffer | undefined) => {
    const req = res.req;
    if (req.method === "OPTIONS") return;
    checked += 1;
    const problems = contract.check({
      method: req.method,
      url: req.originalUrl,
      status: res.statusCode,
      contentType: res.getHeader("content-type")?.toString(),
      body,
    });
    if (problems.length) {
      mismatches.push(
        `${req.method} ${req.originalUrl} -> ${res.statusCode} ${res.getHeader("content-type") ?? ""}\n    ${problems.join("\n    ")}`,
      );
    }
  };
  const isStream = (res: Response) => /^text\/(event-stream|plain)/.test(String(res.getHeader("content-type") ?? ""));
  const toBuffer = (chunk: unknown, encoding: unknown): Buffer | undefined => {
    if (chunk === undefined || chunk === null || typeof chunk === "function") return undefined;
    if (Buffer.isBuffer(chunk)) return chunk;
    if (chunk instanceof Uint8Array) return Buffer.from(chunk);
    return Buffer.from(String(chunk), typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
  };
  proto.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
    const s = stateOf(this);
    if (isStream(this)) {
      // A stream may never end while the test watches: check its head once, keep no body.
      if (!s.headChecked) {
        s.headChecked = true;
        s.streaming = true;
        report(this, undefined);
      }
    } else {
      const b = toBuffer(chunk, rest[0]);
      if (b) s.chunks.push(b);
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Response["write"];
  proto.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
    const s = stateOf(this);
    if (!s.streaming) {
      const b = toBuffer(chunk, rest[0]);
      if (b) s.chunks.push(b);
      if (!s.headChecked) {
        s.headChecked = true;
        report(this, this.req.method === "HEAD" ? undefined : Buffer.concat(s.chunks));
      }
    }
    return (end as (...a: unknown[]) => Response).call(this, chunk, ...rest);
  } as Response["end"];
  return contract;
}

/**
 * `/openapi/v2`: the Swagger 2.0 document of the served kinds, as JSON or — what client-go's
 * discovery asks for (kubectl before 1.27 validates with it, 1.27 needs it for `apply`) — as the
 * protocol buffer message `openapi.v2.Document` of google/gnostic's OpenAPIv2.proto. Only the
 * messages and fields the document uses are encoded. TEST/DEMO FIXTURE — see index.ts.
 */
import { stringify as toYaml } from "yaml";
import { operations, resourcePaths } from "./openapi.js";
import { renderDefinitions } from "./openapi-schemas.js";
import { RESOURCES } from "./resources.js";

/** What client-go asks for … */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/** … and what kube-openapi answers with (a valid media type: no "@"). */
export const OPENAPI_V2_PROTOBUF_RESPONSE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

let json: Record<string, unknown> | undefined;
let proto: Buffer | undefined;

export function openApiV2(): Record<string, unknown> {
  if (json) return json;
  const paths: Record<string, unknown> = {};
  for (const info of RESOURCES) {
    const { list, item } = resourcePaths(info);
    paths[list] = operations(info, false, "#/definitions/");
    paths[item] = operations(info, true, "#/definitions/");
  }
  json = {
    swagger: "2.0",
    info: { title: "Kubernetes", version: "v1.33.0" },
    paths,
    definitions: renderDefinitions("#/definitions/"),
  };
  return json;
}

// --- protobuf wire format --------------------------------------------------------------------

class Writer {
  private parts: Buffer[] = [];
  private varint(n: number): void {
    const bytes: number[] = [];
    let v = n;
    while (v > 127) {
      bytes.push((v & 127) | 128);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    this.parts.push(Buffer.from(bytes));
  }
  bytes(field: number, b: Buffer): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }
  string(field: number, s: string | undefined): this {
    return s === undefined || s === "" ? this : this.bytes(field, Buffer.from(s, "utf8"));
  }
  bool(field: number, b: boolean | undefined): this {
    if (b) {
      this.varint(field << 3);
      this.varint(1);
    }
    return this;
  }
  message(field: number, w: Writer | undefined): this {
    return w ? this.bytes(field, w.done()) : this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type Json = Record<string, unknown>;

/** NamedAny{name, value: Any{yaml}} for each `x-` key. */
function vendorExtensions(w: Writer, field: number, obj: Json): void {
  for (const [k, v] of Object.entries(obj)) {
    if (!k.startsWith("x-")) continue;
    w.message(field, new Writer().string(1, k).message(2, new Writer().string(2, toYaml(v))));
  }
}

function schema(s: Json): Writer {
  const w = new Writer()
    .string(1, s.$ref as string | undefined)
    .string(2, s.format as string | undefined)
    .string(4, s.description as string | undefined);
  for (const r of (s.required as string[] | undefined) ?? []) w.string(19, r);
  for (const e of (s.enum as string[] | undefined) ?? []) w.message(20, new Writer().string(2, toYaml(e)));
  if (s.additionalProperties) w.message(21, new Writer().message(1, schema(s.additionalProperties as Json)));
  if (s.type) w.message(22, new Writer().string(1, s.type as string));
  if (s.items) w.message(23, new Writer().message(1, schema(s.items as Json)));
  if (s.properties) {
    const props = new Writer();
    for (const [k, v] of Object.entries(s.properties as Json)) props.message(1, new Writer().string(1, k).message(2, schema(v as Json)));
    w.message(25, props);
  }
  vendorExtensions(w, 31, s);
  return w;
}

function parameter(p: Json): Writer {
  if (p.in === "body") {
    const body = new Writer()
      .string(2, p.name as string)
      .string(3, "body")
      .bool(4, p.required as boolean)
      .message(5, schema(p.schema as Json));
    return new Writer().message(1, new Writer().message(1, body));
  }
  const sub = new Writer()
    .bool(1, p.required as boolean)
    .string(2, p.in as string)
    .string(4, p.name as string)
    .string(p.in === "path" ? 5 : 6, p.type as string)
    .bool(p.in === "path" ? 19 : 20, p.uniqueItems as boolean);
  const nonBody = new Writer().message(p.in === "path" ? 4 : 3, sub);
  return new Writer().message(1, new Writer().message(2, nonBody));
}

function operation(op: Json): Writer {
  const w = new Writer().string(3, op.description as string).string(5, op.operationId as string);
  for (const c of (op.consumes as string[] | undefined) ?? []) w.string(7, c);
  for (const p of (op.parameters as Json[] | undefined) ?? []) w.message(8, parameter(p));
  const responses = new Writer();
  for (const [code, r] of Object.entries((op.responses as Json | undefined) ?? {})) {
    const resp = new Writer().string(1, (r as Json).description as string);
    if ((r as Json).schema) resp.message(2, new Writer().message(1, schema((r as Json).schema as Json)));
    responses.message(1, new Writer().string(1, code).message(2, new Writer().message(1, resp)));
  }
  w.message(9, responses);
  vendorExtensions(w, 13, op);
  return w;
}

const METHOD_FIELDS: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, patch: 8 };

/** The v2 document as an `openapi.v2.Document` message. */
export function openApiV2Protobuf(): Buffer {
  if (proto) return proto;
  const doc = openApiV2();
  const info = doc.info as Json;
  const paths = new Writer();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    const pi = new Writer();
    for (const [method, op] of Object.entries(item as Json)) {
      const f = METHOD_FIELDS[method];
      if (f) pi.message(f, operation(op as Json));
    }
    paths.message(2, new Writer().string(1, path).message(2, pi));
  }
  const defs = new Writer();
  for (const [name, s] of Object.entries(doc.definitions as Json))
    defs.message(1, new Writer().string(1, name).message(2, schema(s as Json)));
  proto = new Writer()
    .string(1, "2.0")
    .message(2, new Writer().string(1, info.title as string).string(2, info.version as string))
    .message(8, paths)
    .message(9, defs)
    .done();
  return proto;
}

/**
 * The API server's decoding checks on a request body, against the upstream schemas
 * (openapi-schemas.ts), for built-in kinds:
 * - wrong types fail decoding whatever the mode: 400 `<Kind> in version "<v>" cannot be handled as
 *   a <Kind>: json: cannot unmarshal <json type> into Go struct field <Struct>.<path> of type <go type>`;
 * - unknown and duplicate fields, by `fieldValidation`: `Strict` → 400 `… strict decoding error:
 *   unknown field "spec.foo", duplicate field "data.a"`; `Warn` (the default) → dropped, one
 *   `Warning: 299` each; `Ignore` → dropped silently. Server-side apply refuses unknown fields in
 *   every mode (`failed to create typed patch object (…): .spec.foo: field not declared in schema`).
 * Integer widths are not known (messages say int32). TEST/DEMO FIXTURE — see index.ts.
 */
import { ApiError, errors } from "./errors.js";
import { definitionOf, definitions, type Schema } from "./openapi-schemas.js";
import type { ResourceInfo } from "./resources.js";
import { isRecord } from "./types.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export function fieldValidationOf(value: string | undefined): FieldValidation {
  if (value === undefined || value === "") return "Warn";
  if (value === "Strict" || value === "Warn" || value === "Ignore") return value;
  throw errors.badRequest(`fieldValidation parameter unsupported: ${JSON.stringify(value)}`);
}

const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";

function goName(def: string): string {
  const parts = def.split(".");
  return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
}

function resolve(s: Schema): { schema: Schema; ref?: string } {
  if (!s.$ref) return { schema: s };
  return { schema: definitions().get(s.$ref) ?? {}, ref: s.$ref };
}

function goType(s: Schema): string {
  const { schema, ref } = resolve(s);
  if (ref && (schema.properties || ref === QUANTITY || schema.format === "int-or-string")) return goName(ref);
  if (schema.type === "array") return `[]${goType(schema.items ?? {})}`;
  if (schema.type === "object" && schema.additionalProperties) return `map[string]${goType(schema.additionalProperties)}`;
  return { string: "string", integer: "int32", boolean: "bool", number: "float64" }[schema.type ?? ""] ?? "interface {}";
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "number" : `number ${v}`;
  return typeof v === "string" ? "string" : "object";
}

interface Walk {
  unknown: string[];
  /** The same fields as JSON pointers (for JSON-patch `remove` operations). */
  pointers: string[];
  /** First type error (Go's decoder stops there). */
  typeError?: string;
}

/** `a.b[0].c` for messages about unknown fields. */
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

interface At {
  path: string;
  ptr: string;
  goPath: string[];
  struct: string;
}

const ptr = (base: string, key: string | number) => `${base}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;

function walk(value: unknown, s: Schema, at: At, w: Walk, drop: boolean): unknown {
  if (value === null || value === undefined || w.typeError) return value;
  const { schema, ref } = resolve(s);
  const bad = () => {
    w.typeError ??= `json: cannot unmarshal ${jsonType(value)} into Go struct field ${at.struct}.${at.goPath.join(".")} of type ${goType(s)}`;
    return value;
  };
  if (schema["x-kubernetes-preserve-unknown-fields"] && !schema.properties) return value;
  if (ref === QUANTITY) return typeof value === "string" || typeof value === "number" ? value : bad();
  if (schema.format === "int-or-string") return typeof value === "string" || Number.isInteger(value) ? value : bad();
  switch (schema.type) {
    case "string":
      return typeof value === "string" ? value : bad();
    case "integer":
      return typeof value === "number" && Number.isInteger(value) ? value : bad();
    case "number":
      return typeof value === "number" ? value : bad();
    case "boolean":
      return typeof value === "boolean" ? value : bad();
    case "array":
      if (!Array.isArray(value)) return bad();
      return value.map((v, i) => walk(v, schema.items ?? {}, { ...at, path: `${at.path}[${i}]`, ptr: ptr(at.ptr, i) }, w, drop));
    case "object": {
      if (!isRecord(value)) return bad();
      const struct = ref && schema.properties ? (ref.split(".").pop() ?? at.struct) : at.struct;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (schema.additionalProperties) {
          out[k] = walk(v, schema.additionalProperties, { ...at, path: join(at.path, k), ptr: ptr(at.ptr, k) }, w, drop);
          continue;
        }
        const prop = schema.properties?.[k];
        // Strategic-merge-patch directives ($patch, $setElementOrder/…) are not fields.
        if (!prop && k.startsWith("$")) {
          out[k] = v;
          continue;
        }
        if (!prop) {
          w.unknown.push(join(at.path, k));
          w.pointers.push(ptr(at.ptr, k));
          if (!drop) out[k] = v;
          continue;
        }
        out[k] = walk(v, prop, { path: join(at.path, k), ptr: ptr(at.ptr, k), goPath: [...at.goPath, k], struct }, w, drop);
      }
      return out;
    }
    default:
      return value;
  }
}

/** Paths of keys that occur twice in one JSON object of `text` (Go keeps the last). */
export function duplicateFields(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    if (text[i] === "{") {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        const key = str();
        if (seen.has(key)) dups.push(join(path, key));
        seen.add(key);
        ws();
        i++; // :
        value(join(path, key));
        ws();
        if (text[i++] === "}") return;
      }
    } else if (text[i] === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i++] === "]") return;
      }
    } else if (text[i] === '"') str();
    else while (i < text.length && !",}] \t\r\n".includes(text[i])) i++;
  };
  try {
    value("");
  } catch {
    return [];
  }
  return dups;
}

export interface FieldCheck {
  info: ResourceInfo;
  body: unknown;
  /** The raw JSON text, for duplicate keys (undefined for YAML bodies). */
  json?: string;
  mode: FieldValidation;
  /** A server-side apply patch: unknown fields are refused in every mode. */
  apply?: { namespace?: string; name: string };
}

/** Checks a decoded body; returns it without unknown fields, their JSON pointers, and the warnings to send. */
export function checkFields(c: FieldCheck): { body: unknown; warnings: string[]; unknown: string[] } {
  const def = definitionOf(c.info.group, c.info.version, c.info.kind);
  const schema = def ? definitions().get(def) : undefined;
  if (!def || !schema || !isRecord(c.body)) return { body: c.body, warnings: [], unknown: [] };
  const w: Walk = { unknown: [], pointers: [] };
  const body = walk(c.body, { $ref: def }, { path: "", ptr: "", goPath: [], struct: c.info.kind }, w, c.mode !== "Strict");
  const kind = c.info.kind;
  // GroupVersionKind.String(): "/v1, Kind=ConfigMap" for the core group.
  const gv = `${c.info.group}/${c.info.version}`;
  if (w.typeError) throw errors.badRequest(`${kind} in version "${c.info.version}" cannot be handled as a ${kind}: ${w.typeError}`);
  if (c.apply && w.unknown.length) {
    throw errors.badRequest(
      `failed to create typed patch object (${c.apply.namespace ?? ""}/${c.apply.name}; ${gv}, Kind=${kind}): .${w.unknown[0].replace(/\[\d+\]/g, "")}: field not declared in schema`,
    );
  }
  const problems = [
    ...w.unknown.map((p) => `unknown field "${p}"`),
    ...(c.json ? duplicateFields(c.json).map((p) => `duplicate field "${p}"`) : []),
  ];
  if (problems.length && c.mode === "Strict") {
    throw new ApiError(
      400,
      "BadRequest",
      `${kind} in version "${c.info.version}" cannot be handled as a ${kind}: strict decoding error: ${problems.join(", ")}`,
    );
  }
  return { body, warnings: c.mode === "Warn" ? problems : [], unknown: w.pointers };
}

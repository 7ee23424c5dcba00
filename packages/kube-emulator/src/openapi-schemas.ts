/**
 * The upstream Kubernetes schemas of the kinds the emulator serves, as OpenAPI definitions
 * (`io.k8s.api.apps.v1.DeploymentSpec` …), read from the `kubernetes-models` package (generated
 * from the Kubernetes 1.33 OpenAPI document): its type declarations carry every field, its type,
 * whether it is required, and its description. Nothing here is hand-written per kind; the only
 * additions are what those declarations cannot carry: the group-version-kind of top-level kinds,
 * the strategic-merge-patch keys (from `patch.ts`, the emulator's own SMP), and the four scalar
 * types (Quantity, IntOrString, Time, MicroTime). Integers carry no int32/int64 format.
 * Built lazily on first use and cached. TEST/DEMO FIXTURE — see index.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { listMergeKey } from "./patch.js";
import { RESOURCES } from "./resources.js";

export interface Schema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema;
  enum?: string[];
  $ref?: string;
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
  "x-kubernetes-patch-merge-key"?: string;
  "x-kubernetes-patch-strategy"?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
}

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
/** Aliases (`export declare type`) become these scalar definitions, as in the real document. */
const SCALARS: Record<string, Schema> = {
  "io.k8s.apimachinery.pkg.api.resource.Quantity": {
    type: "string",
    description:
      "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.",
  },
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": { type: "string", format: "int-or-string" },
  [`${META}.Time`]: { type: "string", format: "date-time" },
  [`${META}.MicroTime`]: { type: "string", format: "date-time" },
};

/** TypeMeta's fields, as every top-level kind's schema describes them upstream. */
const TYPE_META = {
  apiVersion:
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
  kind: "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
};

const require = createRequire(import.meta.url);
const roots = {
  models: dirname(require.resolve("kubernetes-models/package.json")),
  machinery: dirname(require.resolve("@kubernetes-models/apimachinery/package.json")),
};

/** `apps/v1/DeploymentSpec` (a kubernetes-models path) → `io.k8s.api.apps.v1.DeploymentSpec`. */
function modelsName(rel: string): string {
  const parts = rel.split("/");
  if (parts.length === 2) return `io.k8s.api.core.${parts[0]}.${parts[1]}`;
  const [group, version, kind] = parts;
  if (group === "apiextensions.k8s.io") return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${version}.${kind}`;
  if (group === "apiregistration.k8s.io") return `io.k8s.kube-aggregator.pkg.apis.apiregistration.${version}.${kind}`;
  return `io.k8s.api.${group.split(".")[0]}.${version}.${kind}`;
}

/** A definition name → its declaration file. */
function fileOf(name: string): string {
  const m = /^io\.k8s\.apimachinery\.pkg\.(.+)\.([^.]+)$/.exec(name);
  if (m) return join(roots.machinery, ...m[1].split("."), `${m[2]}.d.ts`);
  const parts = name.replace(/^io\.k8s\.api\./, "").split(".");
  const kind = parts.pop() as string;
  const version = parts.pop() as string;
  const group = parts[0];
  if (group === "core") return join(roots.models, version, `${kind}.d.ts`);
  const full = readdirGroups().find((g) => g.split(".")[0] === group);
  return join(roots.models, full ?? group, version, `${kind}.d.ts`);
}

let groupDirs: string[] | undefined;
function readdirGroups(): string[] {
  if (!groupDirs) {
    groupDirs = readdirSync(roots.models).filter((d) => d.includes(".") || ["apps", "batch", "policy", "autoscaling"].includes(d));
  }
  return groupDirs;
}

/** Resolves an import specifier in `fromName`'s file to a definition name. */
function importedName(spec: string, fromName: string): string {
  const machinery = "@kubernetes-models/apimachinery/";
  const abs = spec.startsWith(machinery) ? join(roots.machinery, spec.slice(machinery.length)) : join(dirname(fileOf(fromName)), spec);
  const within = (root: string) => relative(root, abs).split(sep).join("/");
  if (abs.startsWith(roots.machinery + sep)) return `io.k8s.apimachinery.pkg.${within(roots.machinery).replaceAll("/", ".")}`;
  return modelsName(within(roots.models));
}

function cleanDoc(block: string): string {
  return block
    .split("\n")
    .map((l) => l.replace(/^\s*\/?\*+\/?\s?/, "").replace(/\s*\*\/$/, ""))
    .join("\n")
    .replace(/\\\*/g, "*")
    .trim();
}

interface Ctx {
  imports: Map<string, string>;
  name: string;
}

/** A TypeScript type from a declaration → a schema. */
function typeSchema(ts: string, ctx: Ctx, pending: Set<string>): Schema {
  const t = ts.trim().replace(/;$/, "").trim();
  if (t === "string") return { type: "string" };
  if (t === "number") return { type: "integer" };
  if (t === "boolean") return { type: "boolean" };
  if (/^"[^"]*"(\s*\|\s*"[^"]*")*$/.test(t)) {
    const values = [...t.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    return values.length > 1 ? { type: "string", enum: values } : { type: "string" };
  }
  const arr = /^Array<([\s\S]*)>$/.exec(t);
  if (arr) return { type: "array", items: typeSchema(arr[1], ctx, pending) };
  const map = /^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/.exec(t);
  if (map) return { type: "object", additionalProperties: typeSchema(map[1], ctx, pending) };
  const ref = ctx.imports.get(t);
  if (ref) {
    pending.add(ref);
    return { $ref: ref };
  }
  return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
}

function parseDefinition(name: string, pending: Set<string>): Schema | undefined {
  if (SCALARS[name]) return SCALARS[name];
  let text: string;
  try {
    text = readFileSync(fileOf(name), "utf8");
  } catch {
    return undefined;
  }
  const ctx: Ctx = { imports: new Map(), name };
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) ctx.imports.set(m[1], importedName(m[2], name));
  const head = /(?:\/\*\*([\s\S]*?)\*\/\n)?export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n?\}\n/.exec(text);
  if (!head) return undefined;
  const schema: Schema = { type: "object" };
  if (head[1]) schema.description = cleanDoc(head[1]);
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  const body = `${head[2]}\n`;
  const re = /(?:\/\*\*([\s\S]*?)\*\/\n)?\s{4}"([^"]+)"(\?)?: ([\s\S]*?;)\n(?=\s{4}(?:"|\/\*\*)|$)/g;
  for (const m of body.matchAll(re)) {
    const [, doc, prop, optional, ts] = m;
    const s = typeSchema(ts, ctx, pending);
    const out: Schema = s.$ref && doc ? { ...s } : s;
    if (doc) out.description = cleanDoc(doc);
    const typeMeta = prop === "apiVersion" || prop === "kind" ? TYPE_META[prop] : undefined;
    if (typeMeta && /^"[^"]*";$/.test(ts.trim())) {
      // A literal ("apps/v1") is kubernetes-models' narrowing; the real schema has TypeMeta's field.
      properties[prop] = { type: "string", description: typeMeta };
      continue;
    }
    properties[prop] = out;
    if (!optional) required.push(prop);
  }
  if (Object.keys(properties).length === 0) {
    schema["x-kubernetes-preserve-unknown-fields"] = true;
    return schema;
  }
  schema.properties = properties;
  if (required.length) schema.required = required;
  return schema;
}

/** Adds the patch merge keys of list fields whose item type has that key. */
function addPatchKeys(defs: Map<string, Schema>): void {
  for (const def of defs.values()) {
    for (const [prop, s] of Object.entries(def.properties ?? {})) {
      const itemRef = s.type === "array" ? s.items?.$ref : undefined;
      const item = itemRef ? defs.get(itemRef) : undefined;
      if (!item?.properties) continue;
      const key = listMergeKey(prop, [Object.fromEntries(Object.keys(item.properties).map((k) => [k, 1]))]);
      if (key && item.properties[key]) {
        s["x-kubernetes-patch-merge-key"] = key;
        s["x-kubernetes-patch-strategy"] = prop === "volumes" ? "merge,retainKeys" : "merge";
      }
    }
  }
}

/** The definition name of a served built-in kind, or undefined (CRDs, virtual kinds). */
export function definitionOf(group: string, version: string, kind: string): string | undefined {
  if (group === "") return `io.k8s.api.core.${version}.${kind}`;
  if (!group.endsWith(".k8s.io") && !["apps", "batch", "policy", "autoscaling"].includes(group)) return undefined;
  if (group === "metrics.k8s.io") return undefined;
  return `io.k8s.api.${group.split(".")[0]}.${version}.${kind}`;
}

let cached: Map<string, Schema> | undefined;

/** Every definition reachable from the served built-in kinds (and their lists), by name. */
export function definitions(): Map<string, Schema> {
  if (cached) return cached;
  const defs = new Map<string, Schema>();
  const pending = new Set<string>();
  const gvks = new Map<string, { group: string; version: string; kind: string }>();
  for (const info of RESOURCES) {
    for (const kind of [info.kind, `${info.kind}List`]) {
      const name = definitionOf(info.group, info.version, kind);
      if (!name) continue;
      pending.add(name);
      gvks.set(name, { group: info.group, version: info.version, kind });
    }
  }
  for (const extra of ["Status", "DeleteOptions", "WatchEvent"]) pending.add(`${META}.${extra}`);
  while (pending.size) {
    const [name] = pending;
    pending.delete(name);
    if (defs.has(name)) continue;
    const schema = parseDefinition(name, pending);
    if (schema) defs.set(name, schema);
  }
  for (const [name, gvk] of gvks) {
    const def = defs.get(name);
    if (def) def["x-kubernetes-group-version-kind"] = [gvk];
  }
  addPatchKeys(defs);
  cached = defs;
  return defs;
}

/** The definitions with `$ref`s written for a document (`#/definitions/` or `#/components/schemas/`). */
export function renderDefinitions(prefix: string): Record<string, unknown> {
  const walk = (s: Schema): unknown => {
    if (s.$ref) {
      const { $ref, ...rest } = s;
      // OpenAPI v3 (and kubectl) allow siblings of $ref only through allOf.
      if (prefix.startsWith("#/components") && Object.keys(rest).length) return { ...rest, allOf: [{ $ref: prefix + $ref }] };
      return { ...rest, $ref: prefix + $ref };
    }
    const out: Record<string, unknown> = { ...s };
    if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, walk(v)]));
    if (s.items) out.items = walk(s.items);
    if (s.additionalProperties) out.additionalProperties = walk(s.additionalProperties);
    return out;
  };
  const out: Record<string, unknown> = {};
  for (const [name, s] of [...definitions()].sort(([a], [b]) => a.localeCompare(b))) out[name] = walk(s);
  if (prefix.startsWith("#/components")) {
    // In the v3 documents these two are unions (so kubectl explain names them Quantity / IntOrString).
    const q = "io.k8s.apimachinery.pkg.api.resource.Quantity";
    const i = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
    if (out[q]) out[q] = { description: SCALARS[q].description, oneOf: [{ type: "string" }, { type: "number" }] };
    if (out[i]) out[i] = { format: "int-or-string", oneOf: [{ type: "integer" }, { type: "string" }] };
  }
  return out;
}

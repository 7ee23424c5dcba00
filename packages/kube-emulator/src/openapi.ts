/**
 * OpenAPI v3 (`/openapi/v3`, one document per group version, as the API server publishes them):
 * paths and operations (with `x-kubernetes-group-version-kind` and the `fieldValidation` parameter
 * kubectl looks for before it asks the server to validate) and `components.schemas` with the
 * upstream schemas of the kinds served (`openapi-schemas.ts`), so `kubectl explain` works.
 * The v2 document (`openapi-v2.ts`) is built from the same operations. TEST/DEMO FIXTURE — see index.ts.
 */
import { definitionOf, definitions, renderDefinitions, type Schema } from "./openapi-schemas.js";
import { groupVersion, RESOURCES, type ResourceInfo } from "./resources.js";
import { safeHash } from "./types.js";

const QUERY_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "pretty"];

function docPath(gv: string): string {
  return gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
}

export function resourcePaths(info: ResourceInfo): { list: string; item: string } {
  const base = `/${docPath(groupVersion(info))}`;
  const list = info.namespaced ? `${base}/namespaces/{namespace}/${info.plural}` : `${base}/${info.plural}`;
  return { list, item: `${list}/{name}` };
}

/** `/openapi/v3`: the index of group-version documents. */
export function openApiV3Root(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of new Set(RESOURCES.map(groupVersion))) {
    const p = docPath(gv);
    paths[p] = {
      serverRelativeURL: `/openapi/v3/${p}?hash=${safeHash(p, 16).toUpperCase()}`,
    };
  }
  return { paths };
}

/**
 * The operations of a collection or item path. `prefix` is where schemas live:
 * `#/definitions/` (v2) or `#/components/schemas/` (v3); the parameter shapes differ accordingly.
 */
export function operations(info: ResourceInfo, item: boolean, prefix: string): Record<string, unknown> {
  const v2 = prefix === "#/definitions/";
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const def = definitionOf(info.group, info.version, info.kind);
  const listDef = definitionOf(info.group, info.version, `${info.kind}List`);
  const param = (name: string, where: string, type: string, extra: Record<string, unknown> = {}) =>
    v2 ? { name, in: where, type, ...extra } : { name, in: where, schema: { type, ...extra } };
  const pathParams = [
    ...(info.namespaced ? [param("namespace", "path", "string")] : []),
    ...(item ? [param("name", "path", "string")] : []),
  ].map((p) => ({ ...p, required: true }));
  const body = (ref: string | undefined) =>
    ref ? (v2 ? [{ name: "body", in: "body", required: true, schema: { $ref: prefix + ref } }] : []) : [];
  const response = (ref: string | undefined) => {
    if (!ref) return { "200": { description: "OK" } };
    return v2
      ? { "200": { description: "OK", schema: { $ref: prefix + ref } } }
      : { "200": { description: "OK", content: { "application/json": { schema: { $ref: prefix + ref } } } } };
  };
  const op = (action: string, verb: string, opts: { body?: boolean; list?: boolean; extra?: string[] } = {}) => {
    const out: Record<string, unknown> = {
      operationId: `${verb}${info.namespaced ? "Namespaced" : ""}${info.kind}`,
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvk,
      parameters: [
        ...pathParams,
        ...[...QUERY_PARAMS, ...(opts.extra ?? [])].map((n) =>
          param(n, "query", n === "force" ? "boolean" : "string", n === "force" ? {} : { uniqueItems: true }),
        ),
        ...(opts.body ? body(def) : []),
      ],
      responses: response(opts.list ? listDef : def),
    };
    if (opts.body && def && !v2) out.requestBody = { content: { "*/*": { schema: { $ref: prefix + def } } }, required: true };
    return out;
  };
  if (!item) {
    const out: Record<string, unknown> = { get: op("list", "list", { list: true }) };
    if (info.verbs.includes("create")) out.post = op("post", "create", { body: true });
    return out;
  }
  const out: Record<string, unknown> = { get: op("get", "read") };
  if (info.verbs.includes("update")) out.put = op("put", "replace", { body: true });
  if (info.verbs.includes("patch")) {
    const patch = op("patch", "patch", { extra: ["force"] });
    if (v2)
      patch.consumes = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
      ];
    out.patch = patch;
  }
  if (info.verbs.includes("delete")) out.delete = op("delete", "delete");
  return out;
}

/** The definitions `roots` refer to, transitively. */
function closure(roots: string[]): Set<string> {
  const defs = definitions();
  const seen = new Set<string>();
  const visit = (s: Schema | undefined) => {
    if (!s) return;
    if (s.$ref && !seen.has(s.$ref)) {
      seen.add(s.$ref);
      visit(defs.get(s.$ref));
    }
    for (const p of Object.values(s.properties ?? {})) visit(p);
    visit(s.items);
    visit(s.additionalProperties);
  };
  for (const r of roots) visit({ $ref: r });
  return seen;
}

const v3Docs = new Map<string, Record<string, unknown>>();

/** `/openapi/v3/<api|apis>/<group-version>`, or undefined for an unknown group version. */
export function openApiV3Doc(path: string): Record<string, unknown> | undefined {
  const cached = v3Docs.get(path);
  if (cached) return cached;
  const infos = RESOURCES.filter((r) => docPath(groupVersion(r)) === path);
  if (infos.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const roots = ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"];
  for (const info of infos) {
    const { list, item } = resourcePaths(info);
    paths[list] = operations(info, false, "#/components/schemas/");
    paths[item] = operations(info, true, "#/components/schemas/");
    for (const kind of [info.kind, `${info.kind}List`]) {
      const def = definitionOf(info.group, info.version, kind);
      if (def && definitions().has(def)) roots.push(def);
    }
  }
  const wanted = closure(roots);
  const all = renderDefinitions("#/components/schemas/");
  const doc = {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.33.0" },
    paths,
    components: { schemas: Object.fromEntries(Object.entries(all).filter(([name]) => wanted.has(name))) },
  };
  v3Docs.set(path, doc);
  return doc;
}

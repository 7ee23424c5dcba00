/**
 * A minimal OpenAPI v3 description: kubectl (1.27+) reads /openapi/v3 before `apply` to learn
 * whether the server supports `fieldValidation` on PATCH, and refuses to apply without it. Only
 * paths, operations, parameters and `x-kubernetes-group-version-kind` are described; schemas are
 * not (the emulator is no schema validator). TEST/DEMO FIXTURE — see index.ts.
 */
import { groupVersion, RESOURCES, type ResourceInfo } from "./resources.js";
import { safeHash } from "./types.js";

const WRITE_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "pretty"].map((name) => ({
  name,
  in: "query",
  schema: { type: "string", uniqueItems: true },
}));

function docPath(gv: string): string {
  return gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
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

function operations(info: ResourceInfo, item: boolean): Record<string, unknown> {
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const op = (action: string, verb: string, extra: Record<string, unknown>[] = []) => ({
    operationId: `${verb}${info.kind}`,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
    parameters: [...WRITE_PARAMS, ...extra],
    responses: { "200": { description: "OK" } },
  });
  if (!item) {
    const out: Record<string, unknown> = { get: op("list", "list") };
    if (info.verbs.includes("create")) out.post = op("post", "create");
    return out;
  }
  const out: Record<string, unknown> = { get: op("get", "read") };
  if (info.verbs.includes("update")) out.put = op("put", "replace");
  if (info.verbs.includes("patch")) out.patch = op("patch", "patch", [{ name: "force", in: "query", schema: { type: "boolean" } }]);
  if (info.verbs.includes("delete")) out.delete = op("delete", "delete");
  return out;
}

/** `/openapi/v3/<api|apis>/<group-version>`, or undefined for an unknown group version. */
export function openApiV3Doc(path: string): Record<string, unknown> | undefined {
  const infos = RESOURCES.filter((r) => docPath(groupVersion(r)) === path);
  if (infos.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const info of infos) {
    const base = `/${docPath(groupVersion(info))}`;
    const scope = info.namespaced ? `${base}/namespaces/{namespace}/${info.plural}` : `${base}/${info.plural}`;
    paths[scope] = operations(info, false);
    paths[`${scope}/{name}`] = operations(info, true);
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes (MinisPod emulator)", version: "v1.33.0" },
    paths,
    components: { schemas: {} },
  };
}

/**
 * Metadata-only responses (meta.k8s.io/v1 PartialObjectMetadata and PartialObjectMetadataList), which
 * a client asks for with `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`
 * on a LIST (or `as=PartialObjectMetadata` on a GET), as client-go's metadata client and
 * `kubectl get -o name` do: the objects' metadata (labels, annotations, managedFields, ...) without
 * their spec, data or status, so a Secret's values never leave the server.
 *
 * Like the API server, the Accept header may list several media types; the first one the server can
 * produce wins. A request that names only metadata forms the endpoint cannot produce (the object form
 * on a LIST, the list form on a GET, or a version other than v1) is refused with 406 NotAcceptable.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { ApiError } from "./errors.js";
import type { KubeObject } from "./types.js";

export type MetadataForm = "PartialObjectMetadata" | "PartialObjectMetadataList";

interface MediaType {
  type: string;
  params: Record<string, string>;
}

function parseAccept(accept: string): MediaType[] {
  return accept
    .split(",")
    .map((part) => {
      const [type = "", ...rest] = part.split(";").map((s) => s.trim());
      const params: Record<string, string> = {};
      for (const p of rest) {
        const eq = p.indexOf("=");
        if (eq > 0) params[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
      }
      return { type: type.toLowerCase(), params };
    })
    .filter((m) => m.type !== "");
}

const ACCEPTED =
  "application/json, application/yaml, application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1, application/json;as=Table;g=meta.k8s.io;v=v1";

/**
 * The metadata form the request asks for, or undefined for the ordinary (or Table) response.
 * Throws 406 when every media type offered is a metadata form this endpoint cannot serve.
 */
export function wantsPartialMetadata(accept: string | undefined, isList: boolean): MetadataForm | undefined {
  if (!accept) return undefined;
  const offered = parseAccept(accept);
  const wanted: MetadataForm = isList ? "PartialObjectMetadataList" : "PartialObjectMetadata";
  let refusedMetadata = false;
  for (const m of offered) {
    const as = m.params.as;
    if (as === undefined || as === "Table") return undefined; // plain JSON/YAML/*/* or a Table: not ours to decide
    if (as !== "PartialObjectMetadata" && as !== "PartialObjectMetadataList") return undefined;
    if (m.params.g === "meta.k8s.io" && m.params.v === "v1" && as === wanted && (m.type === "application/json" || m.type === "*/*")) {
      return wanted;
    }
    refusedMetadata = true;
  }
  if (refusedMetadata) {
    throw new ApiError(406, "NotAcceptable", `only the following media types are accepted: ${ACCEPTED}`);
  }
  return undefined;
}

function partial(obj: KubeObject): Record<string, unknown> {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
}

export function toPartialObjectMetadata(obj: KubeObject): Record<string, unknown> {
  return partial(obj);
}

export function toPartialObjectMetadataList(items: KubeObject[], metadata: Record<string, unknown>): Record<string, unknown> {
  return { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata, items: items.map(partial) };
}

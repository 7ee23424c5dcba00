/**
 * The resource types the emulator serves, with the facts discovery and the handlers need.
 * TEST/DEMO FIXTURE — see index.ts.
 */

/** Name rules differ per kind in the real API server (apimachinery validation). */
export type NameRule = "dns1123Subdomain" | "dns1123Label" | "dns1035Label" | "pathSegment";

export interface ResourceInfo {
  group: string; // "" for the core group
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  verbs: string[];
  nameRule: NameRule;
  /** Writes to the main resource keep status; status changes go through /status. */
  hasStatus: boolean;
  /** The real registry returns the deleted object (not a Status) for these kinds. */
  returnDeletedObject: boolean;
  /** Built-in kinds come back from LIST without apiVersion/kind on items (CRDs keep them). */
  builtIn: boolean;
  subresources: string[];
  /** Served by the emulator itself (PodMetrics), never stored. */
  virtual?: boolean;
  fieldSelectors: string[];
  categories?: string[];
}

const RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const BASE_FIELDS = ["metadata.name", "metadata.namespace"];

function r(group: string, version: string, kind: string, plural: string, extra: Partial<ResourceInfo> = {}): ResourceInfo {
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced: true,
    verbs: RW,
    nameRule: "dns1123Subdomain",
    hasStatus: false,
    returnDeletedObject: false,
    builtIn: true,
    subresources: [],
    fieldSelectors: BASE_FIELDS,
    ...extra,
  };
}

export const RESOURCES: readonly ResourceInfo[] = [
  r("", "v1", "Namespace", "namespaces", {
    namespaced: false,
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    nameRule: "dns1123Label",
    hasStatus: true,
    returnDeletedObject: true,
    subresources: ["status", "finalize"],
    fieldSelectors: [...BASE_FIELDS, "status.phase"],
  }),
  r("", "v1", "ConfigMap", "configmaps", { shortNames: ["cm"] }),
  r("", "v1", "Secret", "secrets", {
    fieldSelectors: [...BASE_FIELDS, "type"],
  }),
  r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", {
    shortNames: ["pvc"],
    hasStatus: true,
    subresources: ["status"],
  }),
  r("", "v1", "Service", "services", {
    shortNames: ["svc"],
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    nameRule: "dns1035Label",
    hasStatus: true,
    subresources: ["status"],
    categories: ["all"],
  }),
  r("", "v1", "Pod", "pods", {
    shortNames: ["po"],
    hasStatus: true,
    returnDeletedObject: true,
    subresources: ["status", "log"],
    fieldSelectors: [...BASE_FIELDS, "status.phase", "spec.nodeName", "spec.restartPolicy", "status.podIP"],
    categories: ["all"],
  }),
  r("", "v1", "ServiceAccount", "serviceaccounts", { shortNames: ["sa"] }),
  r("", "v1", "Event", "events", {
    shortNames: ["ev"],
    fieldSelectors: [
      ...BASE_FIELDS,
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "type",
    ],
  }),
  r("", "v1", "Endpoints", "endpoints", { shortNames: ["ep"] }),
  r("", "v1", "ResourceQuota", "resourcequotas", {
    shortNames: ["quota"],
    hasStatus: true,
    subresources: ["status"],
  }),
  r("", "v1", "LimitRange", "limitranges", { shortNames: ["limits"] }),
  r("apps", "v1", "Deployment", "deployments", {
    shortNames: ["deploy"],
    hasStatus: true,
    subresources: ["status", "scale"],
    categories: ["all"],
  }),
  r("apps", "v1", "StatefulSet", "statefulsets", {
    shortNames: ["sts"],
    hasStatus: true,
    subresources: ["status", "scale"],
    categories: ["all"],
  }),
  r("apps", "v1", "ReplicaSet", "replicasets", {
    shortNames: ["rs"],
    hasStatus: true,
    subresources: ["status", "scale"],
    categories: ["all"],
  }),
  r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", {
    fieldSelectors: ["metadata.name", "metadata.namespace", "addressType"],
  }),
  r("networking.k8s.io", "v1", "Ingress", "ingresses", {
    shortNames: ["ing"],
    hasStatus: true,
    subresources: ["status"],
  }),
  r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", {
    shortNames: ["netpol"],
  }),
  r("cert-manager.io", "v1", "Certificate", "certificates", {
    shortNames: ["cert", "certs"],
    hasStatus: true,
    returnDeletedObject: true,
    builtIn: false,
    subresources: ["status"],
    categories: ["cert-manager"],
  }),
  // CSI volume snapshots (the external-snapshotter CRDs); modelled in controllers/volume-snapshot.ts.
  r("snapshot.storage.k8s.io", "v1", "VolumeSnapshotClass", "volumesnapshotclasses", {
    namespaced: false,
    shortNames: ["vsclass", "vsclasses"],
    builtIn: false,
  }),
  r("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", {
    shortNames: ["vs"],
    hasStatus: true,
    builtIn: false,
    subresources: ["status"],
  }),
  r("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent", "volumesnapshotcontents", {
    namespaced: false,
    shortNames: ["vsc", "vscs"],
    hasStatus: true,
    builtIn: false,
    subresources: ["status"],
  }),
  r("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", {
    singular: "",
    verbs: ["get", "list"],
    virtual: true,
  }),
];

export function groupVersion(info: Pick<ResourceInfo, "group" | "version">): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/** "deployments.apps" / "pods" — the form used in Status messages. */
export function qualifiedResource(info: ResourceInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/** Stable store key of a resource type. */
export function resourceKey(info: Pick<ResourceInfo, "group" | "plural">): string {
  return info.group ? `${info.group}/${info.plural}` : info.plural;
}

const byGvr = new Map<string, ResourceInfo>();
const byGvk = new Map<string, ResourceInfo>();
for (const info of RESOURCES) {
  byGvr.set(`${groupVersion(info)}|${info.plural}`, info);
  byGvk.set(`${groupVersion(info)}|${info.kind}`, info);
}

export function findByPlural(gv: string, plural: string): ResourceInfo | undefined {
  return byGvr.get(`${gv}|${plural}`);
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return byGvk.get(`${apiVersion}|${kind}`);
}

export function mustFindByKind(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (!info) throw new Error(`emulator: unknown kind ${apiVersion}/${kind}`);
  return info;
}

/** Group versions served, in discovery order. */
export function servedGroupVersions(): { group: string; version: string }[] {
  const seen = new Set<string>();
  const out: { group: string; version: string }[] = [];
  for (const info of RESOURCES) {
    const gv = groupVersion(info);
    if (!seen.has(gv)) {
      seen.add(gv);
      out.push({ group: info.group, version: info.version });
    }
  }
  return out;
}

export const NAMESPACES = mustFindByKind("v1", "Namespace");
export const PODS = mustFindByKind("v1", "Pod");
export const DEPLOYMENTS = mustFindByKind("apps/v1", "Deployment");
export const STATEFULSETS = mustFindByKind("apps/v1", "StatefulSet");
export const REPLICASETS = mustFindByKind("apps/v1", "ReplicaSet");
export const PVCS = mustFindByKind("v1", "PersistentVolumeClaim");
export const SERVICES = mustFindByKind("v1", "Service");
export const SERVICEACCOUNTS = mustFindByKind("v1", "ServiceAccount");
export const ENDPOINTS = mustFindByKind("v1", "Endpoints");
export const ENDPOINTSLICES = mustFindByKind("discovery.k8s.io/v1", "EndpointSlice");

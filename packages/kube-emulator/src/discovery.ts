/**
 * Discovery documents (/api, /api/v1, /apis, /apis/<group>[/<version>], /version), which
 * client-node's KubernetesObjectApi and kubectl read before they touch a resource.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { groupVersion, RESOURCES, type ResourceInfo, servedGroupVersions } from "./resources.js";

export const EMULATED_VERSION = {
  major: "1",
  minor: "33",
  gitVersion: "v1.33.0-minispod-emulator",
};

export function versionInfo(): Record<string, string> {
  return {
    ...EMULATED_VERSION,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-01-01T00:00:00Z",
    goVersion: "go1.24.0",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupEntry(group: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((version) => ({
    groupVersion: `${group}/${version}`,
    version,
  }));
  return { name: group, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(include: (group: string) => boolean): Record<string, unknown> {
  const groups = new Map<string, string[]>();
  for (const gv of servedGroupVersions()) {
    if (!gv.group || !include(gv.group)) continue;
    groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
  }
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups].map(([g, vs]) => groupEntry(g, vs)),
  };
}

export function apiGroup(group: string): Record<string, unknown> | undefined {
  const versions = servedGroupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => gv.version);
  if (versions.length === 0) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupEntry(group, versions) };
}

function subresourceEntry(info: ResourceInfo, sub: string): Record<string, unknown> {
  const base = {
    name: `${info.plural}/${sub}`,
    singularName: "",
    namespaced: info.namespaced,
  };
  switch (sub) {
    case "log":
      return { ...base, kind: "Pod", verbs: ["get"] };
    case "scale":
      return {
        ...base,
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: ["get", "patch", "update"],
      };
    case "finalize":
      return { ...base, kind: info.kind, verbs: ["update"] };
    default:
      return { ...base, kind: info.kind, verbs: ["get", "patch", "update"] };
  }
}

export function apiResourceList(gv: string): Record<string, unknown> | undefined {
  const infos = RESOURCES.filter((r) => groupVersion(r) === gv);
  if (infos.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const info of infos) {
    const entry: Record<string, unknown> = {
      name: info.plural,
      singularName: info.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: info.verbs,
    };
    if (info.shortNames) entry.shortNames = info.shortNames;
    if (info.categories) entry.categories = info.categories;
    resources.push(entry);
    for (const sub of info.subresources) resources.push(subresourceEntry(info, sub));
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: gv,
    resources,
  };
}

/**
 * Admission, as the API server's built-in plugins do it, in their order: LimitRanger (defaulting,
 * then min/max), PodSecurity (enforce refuses pods; warn answers `Warning` headers, also for
 * workload templates), ResourceQuota (usage from the live objects; a write that would exceed a
 * quota is refused). Refusals are `403 Forbidden` Status objects with the real message formats.
 * Also the quota usage the quota controller writes to `status.used`.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { ApiError } from "./errors.js";
import { canonicalQuantity, formatQuantity, parseQuantity } from "./quantity.js";
import { admitServiceAccount } from "./service-account-admission.js";
import { findByKind, NAMESPACES, PODS, qualifiedResource, type ResourceInfo, resourceKey } from "./resources.js";
import type { Store } from "./store.js";
import { derivedOnce, isRecord, type KubeObject } from "./types.js";

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);

const RESOURCEQUOTAS = findByKind("v1", "ResourceQuota") as ResourceInfo;
const LIMITRANGES = findByKind("v1", "LimitRange") as ResourceInfo;

/** `403 Forbidden`, as admission.NewForbidden words it: `<resource> "<name>" is forbidden: <why>`. */
export function forbidden(info: ResourceInfo, name: string, why: string): ApiError {
  const details: { name: string; kind: string; group?: string } = { name, kind: info.plural };
  if (info.group) details.group = info.group;
  return new ApiError(403, "Forbidden", `${qualifiedResource(info)} "${name}" is forbidden: ${why}`, details);
}

// ---- canonical quantities ----------------------------------------------------------------------

function canonicalMap(map: unknown): void {
  if (!isRecord(map)) return;
  for (const [k, v] of Object.entries(map)) map[k] = canonicalQuantity(v);
}

function canonicalPodSpec(spec: unknown): void {
  for (const list of ["containers", "initContainers"]) {
    for (const c of arr(rec(spec)[list])) {
      canonicalMap(rec(c.resources).requests);
      canonicalMap(rec(c.resources).limits);
    }
  }
}

/** Rewrites every resource quantity of an object in the form the server stores (decoding does this). */
export function canonicalizeQuantities(kind: string, obj: KubeObject): void {
  const spec = rec(obj.spec);
  switch (kind) {
    case "Pod":
      canonicalPodSpec(spec);
      break;
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
      canonicalPodSpec(rec(spec.template).spec);
      for (const t of arr(spec.volumeClaimTemplates)) canonicalMap(rec(rec(t.spec).resources).requests);
      break;
    case "PersistentVolumeClaim":
      canonicalMap(rec(spec.resources).requests);
      canonicalMap(rec(spec.resources).limits);
      break;
    case "ResourceQuota":
      canonicalMap(spec.hard);
      break;
    case "LimitRange":
      for (const l of arr(spec.limits))
        for (const f of ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"]) canonicalMap(l[f]);
      break;
  }
}

// ---- LimitRanger ---------------------------------------------------------------------------------

function limitRanges(store: Store, ns: string): KubeObject[] {
  return [...store.iterate(resourceKey(LIMITRANGES), ns)];
}

/** LimitRanger's mutation: containers get the Container limits' defaultRequest and default. */
function defaultFromLimitRanges(store: Store, pod: KubeObject): void {
  const ranges = limitRanges(store, pod.metadata.namespace ?? "");
  if (ranges.length === 0) return;
  for (const range of ranges) {
    for (const l of arr(rec(range.spec).limits)) {
      if (l.type !== "Container") continue;
      // The API server's defaulting: a default limit with no defaultRequest is also the request.
      const defaultRequest = { ...rec(l.default), ...rec(l.defaultRequest) };
      for (const list of ["containers", "initContainers"]) {
        for (const c of arr(rec(pod.spec)[list])) {
          const resources = rec(c.resources);
          const requests = { ...rec(resources.requests) };
          const limits = { ...rec(resources.limits) };
          for (const [k, v] of Object.entries(rec(l.default))) if (!(k in limits)) limits[k] = v;
          for (const [k, v] of Object.entries(defaultRequest)) if (!(k in requests)) requests[k] = v;
          const next: Obj = { ...resources };
          if (Object.keys(limits).length) next.limits = limits;
          if (Object.keys(requests).length) next.requests = requests;
          c.resources = next;
        }
      }
    }
  }
}

function qstr(v: unknown): string {
  return String(canonicalQuantity(v));
}

function maxConstraint(type: string, res: string, enforced: unknown, request: Obj, limit: Obj): string | undefined {
  const max = parseQuantity(enforced) ?? 0;
  if (!(res in limit)) return `maximum ${res} usage per ${type} is ${qstr(enforced)}.  No limit is specified`;
  if ((parseQuantity(limit[res]) ?? 0) > max)
    return `maximum ${res} usage per ${type} is ${qstr(enforced)}, but limit is ${qstr(limit[res])}`;
  if (res in request && (parseQuantity(request[res]) ?? 0) > max)
    return `maximum ${res} usage per ${type} is ${qstr(enforced)}, but request is ${qstr(request[res])}`;
  return undefined;
}

function minConstraint(type: string, res: string, enforced: unknown, request: Obj, limit: Obj): string | undefined {
  const min = parseQuantity(enforced) ?? 0;
  if (!(res in request)) return `minimum ${res} usage per ${type} is ${qstr(enforced)}.  No request is specified`;
  if ((parseQuantity(request[res]) ?? 0) < min)
    return `minimum ${res} usage per ${type} is ${qstr(enforced)}, but request is ${qstr(request[res])}`;
  if (res in limit && (parseQuantity(limit[res]) ?? 0) < min)
    return `minimum ${res} usage per ${type} is ${qstr(enforced)}, but limit is ${qstr(limit[res])}`;
  return undefined;
}

/** LimitRanger's validation (min/max per Container and per PersistentVolumeClaim). */
function checkLimitRanges(store: Store, info: ResourceInfo, obj: KubeObject): void {
  if (info.kind !== "Pod" && info.kind !== "PersistentVolumeClaim") return;
  const errs: string[] = [];
  for (const range of limitRanges(store, obj.metadata.namespace ?? "")) {
    for (const l of arr(rec(range.spec).limits)) {
      if (info.kind === "Pod" && l.type === "Container") {
        for (const c of arr(rec(obj.spec).containers)) {
          const requests = rec(rec(c.resources).requests);
          const limits = rec(rec(c.resources).limits);
          for (const [k, v] of Object.entries(rec(l.min))) {
            const e = minConstraint("Container", k, v, requests, limits);
            if (e) errs.push(e);
          }
          for (const [k, v] of Object.entries(rec(l.max))) {
            const e = maxConstraint("Container", k, v, requests, limits);
            if (e) errs.push(e);
          }
        }
      }
      if (info.kind === "PersistentVolumeClaim" && l.type === "PersistentVolumeClaim") {
        const requests = rec(rec(rec(obj.spec).resources).requests);
        for (const [k, v] of Object.entries(rec(l.min))) {
          const e = minConstraint("PersistentVolumeClaim", k, v, requests, {});
          if (e) errs.push(e);
        }
        for (const [k, v] of Object.entries(rec(l.max))) {
          // As the real plugin does: the claim's request is checked as the "limit".
          const e = maxConstraint("PersistentVolumeClaim", k, v, {}, requests);
          if (e) errs.push(e);
        }
      }
    }
  }
  if (errs.length) throw forbidden(info, obj.metadata.name, errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`);
}

// ---- PodSecurity -------------------------------------------------------------------------------

const LEVELS = ["privileged", "baseline", "restricted"] as const;
type Level = (typeof LEVELS)[number];

interface Policy {
  level: Level;
  version: string;
}

function policyOf(labels: Record<string, string> | undefined, mode: "enforce" | "warn" | "audit"): Policy {
  const l = labels ?? {};
  const key = `pod-security.kubernetes.io/${mode}`;
  // An unset warn or audit level follows enforce (as the PodSecurity plugin evaluates it).
  const fallback = mode === "enforce" ? undefined : policyOf(labels, "enforce");
  const raw = l[key];
  if (raw === undefined && fallback) return fallback;
  const level = (LEVELS as readonly string[]).includes(raw ?? "") ? (raw as Level) : "privileged";
  return { level, version: l[`${key}-version`] ?? "latest" };
}

/** `"x"` / `"x", "y"` as the PodSecurity checks list containers. */
function names(list: string[], singular: string, plural: string): string {
  return `${list.length === 1 ? singular : plural} ${list.map((n) => JSON.stringify(n)).join(", ")}`;
}

const BASELINE_CAPS = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
const RESTRICTED_VOLUME_TYPES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

/** The PodSecurity checks a pod spec fails at `level`, worded as the real checks word them. */
export function podSecurityViolations(level: Level, podSpec: unknown): string[] {
  if (level === "privileged") return [];
  const spec = rec(podSpec);
  const psc = rec(spec.securityContext);
  const containers = [...arr(spec.initContainers), ...arr(spec.containers), ...arr(spec.ephemeralContainers)];
  const out: string[] = [];
  const named = (pred: (c: Obj, sc: Obj) => boolean) =>
    containers.filter((c) => pred(c, rec(c.securityContext))).map((c) => String(c.name));

  // baseline
  const hostNs = ["hostNetwork", "hostPID", "hostIPC"].filter((k) => spec[k] === true).map((k) => `${k}=true`);
  if (hostNs.length) out.push(`host namespaces (${hostNs.join(", ")})`);
  const privileged = named((_c, sc) => sc.privileged === true);
  if (privileged.length)
    out.push(`privileged (${names(privileged, "container", "containers")} must not set securityContext.privileged=true)`);
  const badCaps = new Set<string>();
  const capOwners = named((_c, sc) => {
    const add = (rec(sc.capabilities).add as unknown[] | undefined) ?? [];
    const bad = add.map(String).filter((cap) => !BASELINE_CAPS.has(cap));
    for (const cap of bad) badCaps.add(cap);
    return bad.length > 0;
  });
  if (capOwners.length)
    out.push(
      `non-default capabilities (${names(capOwners, "container", "containers")} must not include ${[...badCaps].map((c) => JSON.stringify(c)).join(", ")} in securityContext.capabilities.add)`,
    );
  const hostPath = arr(spec.volumes)
    .filter((v) => isRecord(v.hostPath))
    .map((v) => String(v.name));
  if (hostPath.length) out.push(`hostPath volumes (${names(hostPath, "volume", "volumes")})`);
  const hostPorts: string[] = [];
  const hostPortOwners = named((c) => {
    const ports = arr(c.ports)
      .map((p) => p.hostPort)
      .filter((p) => typeof p === "number" && p !== 0);
    hostPorts.push(...ports.map(String));
    return ports.length > 0;
  });
  if (hostPortOwners.length)
    out.push(
      `hostPort (${names(hostPortOwners, "container", "containers")} ${hostPorts.length === 1 ? "uses hostPort" : "use hostPorts"} ${hostPorts.join(", ")})`,
    );
  const badSeccompBaseline =
    rec(psc.seccompProfile).type === "Unconfined" ||
    containers.some((c) => rec(rec(c.securityContext).seccompProfile).type === "Unconfined");
  if (badSeccompBaseline) out.push(`seccompProfile (pod or containers must not set securityContext.seccompProfile.type to "Unconfined")`);
  if (level === "baseline") return out;

  // restricted
  const noEscalation = named((_c, sc) => sc.allowPrivilegeEscalation !== false);
  if (noEscalation.length)
    out.push(
      `allowPrivilegeEscalation != false (${names(noEscalation, "container", "containers")} must set securityContext.allowPrivilegeEscalation=false)`,
    );
  const noDrop = named((_c, sc) => !((rec(sc.capabilities).drop as unknown[] | undefined) ?? []).includes("ALL"));
  const addsMore = named((_c, sc) => ((rec(sc.capabilities).add as unknown[] | undefined) ?? []).some((cap) => cap !== "NET_BIND_SERVICE"));
  const capParts: string[] = [];
  if (noDrop.length) capParts.push(`${names(noDrop, "container", "containers")} must set securityContext.capabilities.drop=["ALL"]`);
  if (addsMore.length)
    capParts.push(
      `${names(addsMore, "container", "containers")} must not include capabilities other than "NET_BIND_SERVICE" in securityContext.capabilities.add`,
    );
  if (capParts.length) out.push(`unrestricted capabilities (${capParts.join("; ")})`);
  const restrictedVolumes = arr(spec.volumes).filter((v) => !Object.keys(v).some((k) => RESTRICTED_VOLUME_TYPES.has(k)));
  if (restrictedVolumes.length) {
    const v = restrictedVolumes.map((x) => String(x.name));
    const types = restrictedVolumes.map((x) => Object.keys(x).find((k) => k !== "name") ?? "unknown");
    out.push(
      `restricted volume types (${names(v, "volume", "volumes")} ${v.length === 1 ? "uses restricted volume type" : "use restricted volume types"} ${[...new Set(types)].map((t) => JSON.stringify(t)).join(", ")})`,
    );
  }
  const podNonRoot = psc.runAsNonRoot === true;
  const explicitlyRoot = named((_c, sc) => sc.runAsNonRoot === false);
  const unsetNonRoot = named((_c, sc) => sc.runAsNonRoot === undefined && !podNonRoot);
  if (psc.runAsNonRoot === false || explicitlyRoot.length || unsetNonRoot.length) {
    const parts: string[] = [];
    if (psc.runAsNonRoot === false) parts.push("pod must not set securityContext.runAsNonRoot=false");
    if (explicitlyRoot.length)
      parts.push(`${names(explicitlyRoot, "container", "containers")} must not set securityContext.runAsNonRoot=false`);
    if (unsetNonRoot.length && psc.runAsNonRoot !== false)
      parts.push(`pod or ${names(unsetNonRoot, "container", "containers")} must set securityContext.runAsNonRoot=true`);
    out.push(`runAsNonRoot != true (${parts.join("; ")})`);
  }
  const rootUsers = named((_c, sc) => sc.runAsUser === 0);
  if (psc.runAsUser === 0 || rootUsers.length) {
    const parts: string[] = [];
    if (psc.runAsUser === 0) parts.push("pod must not set runAsUser=0");
    if (rootUsers.length) parts.push(`${names(rootUsers, "container", "containers")} must not set runAsUser=0`);
    out.push(`runAsUser=0 (${parts.join("; ")})`);
  }
  const okSeccomp = (t: unknown) => t === "RuntimeDefault" || t === "Localhost";
  const podSeccomp = okSeccomp(rec(psc.seccompProfile).type);
  const noSeccomp = named((_c, sc) => {
    const t = rec(sc.seccompProfile).type;
    return t === undefined ? !podSeccomp : !okSeccomp(t);
  });
  if (noSeccomp.length && !badSeccompBaseline)
    out.push(
      `seccompProfile (pod or ${names(noSeccomp, "container", "containers")} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
    );
  return out;
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"]);

function podSpecOf(kind: string, obj: KubeObject): unknown {
  if (kind === "Pod") return obj.spec;
  if (kind === "CronJob") return rec(rec(rec(rec(obj.spec).jobTemplate).spec).template).spec;
  return rec(rec(obj.spec).template).spec;
}

function checkPodSecurity(store: Store, info: ResourceInfo, obj: KubeObject, warnings: string[]): void {
  const isPod = info.kind === "Pod";
  if (!isPod && !WORKLOAD_KINDS.has(info.kind)) return;
  const ns = store.get(resourceKey(NAMESPACES), "", obj.metadata.namespace ?? "");
  const labels = ns?.metadata.labels;
  const enforce = policyOf(labels, "enforce");
  const warn = policyOf(labels, "warn");
  const spec = podSpecOf(info.kind, obj);
  const tag = (p: Policy) => `"${p.level}:${p.version}"`;
  let refused: string[] = [];
  if (isPod) {
    refused = podSecurityViolations(enforce.level, spec);
    if (refused.length) throw forbidden(info, obj.metadata.name, `violates PodSecurity ${tag(enforce)}: ${refused.join(", ")}`);
  }
  const warned = podSecurityViolations(warn.level, spec);
  if (warned.length) warnings.push(`would violate PodSecurity ${tag(warn)}: ${warned.join(", ")}`);
}

// ---- ResourceQuota -----------------------------------------------------------------------------

/** Usage keys whose values are bytes (formatted binary); the others are cores or counts. */
const BYTE_KEYS = /memory|storage/;
const POD_COMPUTE = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory"];

function podTerminal(pod: KubeObject): boolean {
  const phase = rec(pod.status).phase;
  return phase === "Succeeded" || phase === "Failed";
}

/** The quota usage one object accounts for (the quota evaluators' Usage). */
export function usageOf(info: ResourceInfo, obj: KubeObject): Record<string, number> {
  const u: Record<string, number> = { [`count/${info.plural}${info.group ? `.${info.group}` : ""}`]: 1 };
  const add = (k: string, v: unknown) => {
    const q = parseQuantity(v);
    if (q !== undefined) u[k] = (u[k] ?? 0) + q;
  };
  switch (info.kind) {
    case "Pod": {
      if (podTerminal(obj)) return {};
      u.pods = 1;
      for (const c of arr(rec(obj.spec).containers)) {
        const res = rec(c.resources);
        add("requests.cpu", rec(res.requests).cpu);
        add("requests.memory", rec(res.requests).memory);
        add("limits.cpu", rec(res.limits).cpu);
        add("limits.memory", rec(res.limits).memory);
      }
      if (u["requests.cpu"] !== undefined) u.cpu = u["requests.cpu"];
      if (u["requests.memory"] !== undefined) u.memory = u["requests.memory"];
      break;
    }
    case "Service": {
      u.services = 1;
      const type = rec(obj.spec).type;
      if (type === "LoadBalancer") u["services.loadbalancers"] = 1;
      if (type === "NodePort" || type === "LoadBalancer")
        u["services.nodeports"] = arr(rec(obj.spec).ports).filter((p) => type === "NodePort" || p.nodePort !== undefined).length;
      break;
    }
    case "PersistentVolumeClaim":
      u.persistentvolumeclaims = 1;
      add("requests.storage", rec(rec(rec(obj.spec).resources).requests).storage);
      break;
    case "Secret":
      u.secrets = 1;
      break;
    case "ConfigMap":
      u.configmaps = 1;
      break;
  }
  return u;
}

/** Whether two usages (an object's before and after a write) differ in any key `hard` names. */
export function usageChanged(before: Record<string, number>, after: Record<string, number>, hard: Obj): boolean {
  for (const k in hard) if ((before[k] ?? 0) !== (after[k] ?? 0)) return true;
  return false;
}

/**
 * The usage of an object as the store holds it, computed once per stored object: the store never
 * mutates an object after writing it (store.ts), so its usage cannot change. Not for an object still
 * being written (admission's own), whose status the write may yet replace.
 */
const storedUsage = new WeakMap<KubeObject, Record<string, number>>();
export function usageOfStored(info: ResourceInfo, obj: KubeObject): Record<string, number> {
  return derivedOnce(storedUsage, obj, (o) => usageOf(info, o));
}

const USAGE_KINDS = ["Pod", "Service", "PersistentVolumeClaim", "Secret", "ConfigMap"].map(
  (kind) => findByKind("v1", kind) as ResourceInfo,
);

/** Sums the usage of every live object in `ns` for the keys `hard` names (what the quota controller writes). */
export function namespaceUsage(store: Store, ns: string, hard: Obj): Record<string, number> {
  const keys = new Set(Object.keys(hard));
  const sums: Record<string, number> = {};
  for (const k of keys) sums[k] = 0;
  for (const info of USAGE_KINDS) {
    for (const obj of store.iterate(resourceKey(info), ns)) {
      const u = usageOfStored(info, obj);
      for (const k in u) if (keys.has(k)) sums[k] += u[k];
    }
  }
  // Generic object counts for other kinds (count/deployments.apps, ...).
  for (const k of keys) {
    if (!k.startsWith("count/")) continue;
    const [plural, ...group] = k.slice(6).split(".");
    const info = [
      findByKind("apps/v1", "Deployment"),
      findByKind("apps/v1", "StatefulSet"),
      findByKind("networking.k8s.io/v1", "Ingress"),
    ].find((i) => i && i.plural === plural && i.group === group.join("."));
    if (info) sums[k] = store.count(resourceKey(info), ns);
  }
  return sums;
}

/** `status.used` as the quota controller writes it: every hard key, canonical quantities. */
export function quotaUsed(store: Store, ns: string, hard: Obj): Record<string, string> {
  const sums = namespaceUsage(store, ns, hard);
  const used: Record<string, string> = {};
  for (const k of Object.keys(hard)) used[k] = formatQuantity(sums[k] ?? 0, BYTE_KEYS.test(k));
  return used;
}

function pretty(values: Record<string, number>, keys: string[]): string {
  return keys.map((k) => `${k}=${formatQuantity(values[k] ?? 0, BYTE_KEYS.test(k))}`).join(",");
}

function checkQuota(store: Store, info: ResourceInfo, obj: KubeObject, old: KubeObject | undefined): void {
  const ns = obj.metadata.namespace ?? "";
  if (store.count(resourceKey(RESOURCEQUOTAS), ns) === 0) return;
  if (old && info.kind !== "PersistentVolumeClaim" && info.kind !== "Service") return; // only these evaluators handle updates
  const next = usageOf(info, obj);
  const prev = old ? usageOfStored(info, old) : {};
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(next)) if (v - (prev[k] ?? 0) > 0) delta[k] = v - (prev[k] ?? 0);
  const quotas = [...store.iterate(resourceKey(RESOURCEQUOTAS), ns)].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const quota of quotas) {
    const hard = rec(rec(quota.spec).hard);
    // Backward compatibility rule of the pod evaluator: with cpu/memory quota'd, every container must say.
    if (info.kind === "Pod" && !old) {
      const required = POD_COMPUTE.filter((k) => k in hard);
      const missing = new Map<string, Set<string>>();
      for (const c of arr(rec(obj.spec).containers)) {
        const res = rec(c.resources);
        for (const k of required) {
          const [kind, resource] = k.includes(".") ? k.split(".") : ["requests", k];
          if (rec(res[kind])[resource] === undefined) {
            if (!missing.has(k)) missing.set(k, new Set());
            missing.get(k)?.add(String(c.name));
          }
        }
      }
      if (missing.size) {
        const msg = [...missing.keys()]
          .sort()
          .map((k) => `${k} for: ${[...(missing.get(k) ?? [])].sort().join(",")}`)
          .join("; ");
        throw forbidden(info, obj.metadata.name, `failed quota: ${quota.metadata.name}: must specify ${msg}`);
      }
    }
    const keys = Object.keys(delta).filter((k) => k in hard);
    if (keys.length === 0) continue;
    const used = namespaceUsage(store, ns, hard);
    if (old) for (const [k, v] of Object.entries(prev)) if (k in used) used[k] -= v; // the old object's share
    const exceeded = keys.filter((k) => (used[k] ?? 0) + delta[k] > (parseQuantity(hard[k]) ?? 0) + 1e-12).sort();
    if (exceeded.length === 0) continue;
    const limited: Record<string, number> = {};
    for (const k of exceeded) limited[k] = parseQuantity(hard[k]) ?? 0;
    throw forbidden(
      info,
      obj.metadata.name,
      `exceeded quota: ${quota.metadata.name}, requested: ${pretty(delta, exceeded)}, used: ${pretty(used, exceeded)}, limited: ${pretty(limited, exceeded)}`,
    );
  }
}

// ---- the chain -----------------------------------------------------------------------------------

/**
 * Runs the admission chain on a create (`old` undefined) or update; mutates `obj` (defaults),
 * throws a 403 ApiError when a plugin refuses, returns the warnings for `Warning` headers.
 */
export function admit(store: Store, info: ResourceInfo, obj: KubeObject, old: KubeObject | undefined): string[] {
  const warnings: string[] = [];
  if (!info.namespaced) return warnings;
  if (info === PODS && !old) {
    admitServiceAccount(store, obj);
    defaultFromLimitRanges(store, obj);
  }
  // StorageObjectInUseProtection: every new claim carries the pvc-protection finalizer.
  if (info.kind === "PersistentVolumeClaim" && !old && !obj.metadata.finalizers?.includes("kubernetes.io/pvc-protection")) {
    obj.metadata.finalizers = [...(obj.metadata.finalizers ?? []), "kubernetes.io/pvc-protection"];
  }
  canonicalizeQuantities(info.kind, obj);
  if (!old) checkLimitRanges(store, info, obj);
  else if (info.kind === "PersistentVolumeClaim") checkLimitRanges(store, info, obj);
  // Updates are checked only when they change the pod template (pods' specs are immutable here).
  const templateChanged =
    old !== undefined &&
    WORKLOAD_KINDS.has(info.kind) &&
    JSON.stringify(podSpecOf(info.kind, old)) !== JSON.stringify(podSpecOf(info.kind, obj));
  if (!old || templateChanged) checkPodSecurity(store, info, obj, warnings);
  checkQuota(store, info, obj, old);
  return warnings;
}

// One module per kind (not the group's index, which loads every kind's schema of the group: ~14 MB
// of heap and code that the server would keep for nothing).
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { LimitRange } from "kubernetes-models/v1/LimitRange";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Pod } from "kubernetes-models/v1/Pod";
import { ResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { InvalidManifestError, type KubeCause } from "./kube-errors.js";
import { modelTypeName, unknownFields } from "./schema.js";
import { describeRef, type KubeObject, refOf } from "./objects.js";
import { VolumeSnapshotModel } from "./templates/volume-snapshot.js";

/**
 * Validation of a manifest before it is applied (and in the template tests), in three layers:
 *  1. the upstream OpenAPI schema (kubernetes-models): types, required fields, enums;
 *  2. our own structural checks, because those schemas accept what the API server refuses:
 *     unknown fields, invalid DNS names, label syntax, selector/template mismatches;
 *  3. the Pod Security `restricted` profile for every pod template, so a template regression is
 *     caught here rather than as a rejected pod in a tenant namespace.
 */

export type ModelCtor = new (data: never) => { validate(): void };
/** Schemas by `<apiVersion>/<kind>`. */
export type ModelRegistry = Readonly<Record<string, ModelCtor>>;

/** Every kind the product applies. */
const MODELS: ModelRegistry = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ResourceQuota": ResourceQuota,
  "v1/LimitRange": LimitRange,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Service": Service,
  "v1/Pod": Pod,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "networking.k8s.io/v1/Ingress": Ingress,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "cert-manager.io/v1/Certificate": Certificate,
  "snapshot.storage.k8s.io/v1/VolumeSnapshot": VolumeSnapshotModel as unknown as ModelCtor,
};

/** Kinds whose names must be DNS-1123 labels rather than subdomains. */
const LABEL_NAMED_KINDS = new Set(["Namespace", "Service"]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);
export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN.test(s);

function isQualifiedName(key: string): boolean {
  const slash = key.indexOf("/");
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

const isLabelValue = (v: unknown): boolean => typeof v === "string" && v.length <= 63 && LABEL_VALUE.test(v);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

// ---------------------------------------------------------------------------------------------
// 1. upstream schema

function schemaCauses(o: KubeObject, models: ModelRegistry): KubeCause[] {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  if (!Model) return [{ field: "kind", reason: "Unsupported", message: `no schema for ${o.apiVersion} ${o.kind}` }];
  try {
    new Model(o as never).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath?: string; message?: string }[] }).errors;
    if (!errors?.length) return [{ reason: "FieldValueInvalid", message: String((err as Error).message) }];
    return errors.map((e) => ({
      field: (e.instancePath ?? "").replace(/^\//, "").replace(/\//g, "."),
      reason: "FieldValueInvalid",
      message: e.message ?? "invalid",
    }));
  }
}

// ---------------------------------------------------------------------------------------------
// 2. structural checks

function unknownFieldCauses(o: KubeObject): KubeCause[] {
  const typeName = modelTypeName(o.apiVersion, o.kind);
  // Custom resources (Certificate) have no client model; their schema check above is all we have.
  if (!typeName) return [];
  return unknownFields(o, typeName).map((field) => ({ field, reason: "FieldValueUnknown", message: "unknown field" }));
}

function nameCauses(o: KubeObject): KubeCause[] {
  const causes: KubeCause[] = [];
  const meta = obj(o.metadata);
  const name = meta.name;
  if (typeof name !== "string" || name === "") {
    causes.push({ field: "metadata.name", reason: "FieldValueRequired", message: "name is required" });
  } else if (LABEL_NAMED_KINDS.has(o.kind) ? !isDnsLabel(name) : !isDnsSubdomain(name)) {
    const rule = LABEL_NAMED_KINDS.has(o.kind) ? "DNS-1123 label" : "DNS-1123 subdomain";
    causes.push({ field: "metadata.name", reason: "FieldValueInvalid", message: `"${name}" is not a ${rule}` });
  }
  if (meta.namespace !== undefined && (typeof meta.namespace !== "string" || !isDnsLabel(meta.namespace))) {
    causes.push({
      field: "metadata.namespace",
      reason: "FieldValueInvalid",
      message: `"${String(meta.namespace)}" is not a DNS-1123 label`,
    });
  }
  causes.push(...labelCauses(meta.labels, "metadata.labels"), ...annotationCauses(meta.annotations, "metadata.annotations"));
  return causes;
}

function labelCauses(labels: unknown, field: string): KubeCause[] {
  return Object.entries(obj(labels)).flatMap(([k, v]) => {
    const out: KubeCause[] = [];
    if (!isQualifiedName(k)) out.push({ field: `${field}[${k}]`, reason: "FieldValueInvalid", message: "invalid label key" });
    if (!isLabelValue(v)) out.push({ field: `${field}[${k}]`, reason: "FieldValueInvalid", message: `invalid label value "${String(v)}"` });
    return out;
  });
}

function annotationCauses(annotations: unknown, field: string): KubeCause[] {
  return Object.entries(obj(annotations)).flatMap(([k, v]) =>
    !isQualifiedName(k) || typeof v !== "string"
      ? [{ field: `${field}[${k}]`, reason: "FieldValueInvalid", message: "invalid annotation" }]
      : [],
  );
}

/** The pod template (or pod spec) inside a workload, with its JSON path. */
function podSpecs(o: KubeObject): { path: string; template?: Json; spec: Json }[] {
  const spec = obj((o as KubeObject & Json).spec);
  switch (o.kind) {
    case "Pod":
      return [{ path: "spec", spec }];
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
    case "DaemonSet":
    case "Job":
      return [{ path: "spec.template.spec", template: obj(spec.template), spec: obj(obj(spec.template).spec) }];
    case "CronJob": {
      const template = obj(obj(obj(spec.jobTemplate).spec).template);
      return [{ path: "spec.jobTemplate.spec.template.spec", template, spec: obj(template.spec) }];
    }
    default:
      return [];
  }
}

function allContainers(spec: Json): { field: string; c: Json }[] {
  return (["initContainers", "containers", "ephemeralContainers"] as const).flatMap((key) =>
    arr(spec[key]).map((c, i) => ({ field: `${key}[${i}]`, c })),
  );
}

function podStructureCauses(path: string, spec: Json, template: Json | undefined, o: KubeObject): KubeCause[] {
  const causes: KubeCause[] = [];
  const volumes = new Set<string>();
  arr(spec.volumes).forEach((v, i) => {
    const name = String(v.name ?? "");
    if (!isDnsLabel(name))
      causes.push({ field: `${path}.volumes[${i}].name`, reason: "FieldValueInvalid", message: `"${name}" is not a DNS-1123 label` });
    if (volumes.has(name))
      causes.push({ field: `${path}.volumes[${i}].name`, reason: "FieldValueDuplicate", message: `duplicate volume "${name}"` });
    volumes.add(name);
  });
  for (const { field, c } of allContainers(spec)) {
    const at = `${path}.${field}`;
    if (!isDnsLabel(String(c.name ?? "")))
      causes.push({ field: `${at}.name`, reason: "FieldValueInvalid", message: "container name is not a DNS-1123 label" });
    arr(c.ports).forEach((p, i) => {
      if (p.name !== undefined && (String(p.name).length > 15 || !IANA_SVC_NAME.test(String(p.name)))) {
        causes.push({
          field: `${at}.ports[${i}].name`,
          reason: "FieldValueInvalid",
          message: "port name must be an IANA service name (<= 15 chars)",
        });
      }
    });
    arr(c.env).forEach((e, i) => {
      if (!ENV_NAME.test(String(e.name ?? "")))
        causes.push({ field: `${at}.env[${i}].name`, reason: "FieldValueInvalid", message: "invalid environment variable name" });
    });
    arr(c.volumeMounts).forEach((m, i) => {
      if (!volumes.has(String(m.name)))
        causes.push({ field: `${at}.volumeMounts[${i}].name`, reason: "FieldValueNotFound", message: `no volume "${String(m.name)}"` });
    });
  }
  if (template) {
    causes.push(...labelCauses(obj(template.metadata).labels, "spec.template.metadata.labels"));
    causes.push(...annotationCauses(obj(template.metadata).annotations, "spec.template.metadata.annotations"));
    // The API server refuses a workload whose selector does not match its own pod template.
    const selector = obj(obj((o as KubeObject & Json).spec).selector);
    const podLabels = obj(obj(template.metadata).labels);
    for (const [k, v] of Object.entries(obj(selector.matchLabels))) {
      if (podLabels[k] !== v)
        causes.push({
          field: "spec.selector.matchLabels",
          reason: "FieldValueInvalid",
          message: `selector ${k}=${String(v)} does not match the pod template labels`,
        });
    }
  }
  return causes;
}

function kindSpecificCauses(manifest: KubeObject): KubeCause[] {
  const o = manifest as KubeObject & Json;
  const causes: KubeCause[] = [];
  const spec = obj(o.spec);
  if (o.kind === "ConfigMap" || o.kind === "Secret") {
    for (const key of [...Object.keys(obj(o.data)), ...Object.keys(obj(o.stringData)), ...Object.keys(obj(o.binaryData))]) {
      if (key.length > 253 || !CONFIG_KEY.test(key))
        causes.push({ field: `data[${key}]`, reason: "FieldValueInvalid", message: "invalid key" });
    }
  }
  if (o.kind === "Service") {
    arr(spec.ports).forEach((p, i) => {
      if (p.name !== undefined && !isDnsLabel(String(p.name)))
        causes.push({ field: `spec.ports[${i}].name`, reason: "FieldValueInvalid", message: "port name is not a DNS-1123 label" });
    });
    causes.push(...labelCauses(spec.selector, "spec.selector"));
  }
  if (o.kind === "Ingress") {
    const hostOk = (h: unknown) => typeof h === "string" && isDnsSubdomain(h.startsWith("*.") ? h.slice(2) : h);
    arr(spec.rules).forEach((r, i) => {
      if (r.host !== undefined && !hostOk(r.host))
        causes.push({ field: `spec.rules[${i}].host`, reason: "FieldValueInvalid", message: `"${String(r.host)}" is not a DNS name` });
      arr(obj(r.http).paths).forEach((p, j) => {
        const svc = obj(obj(p.backend).service);
        if (svc.name !== undefined && !isDnsLabel(String(svc.name)))
          causes.push({
            field: `spec.rules[${i}].http.paths[${j}].backend.service.name`,
            reason: "FieldValueInvalid",
            message: "not a DNS-1123 label",
          });
      });
    });
    arr(spec.tls).forEach((t, i) => {
      arr(t.hosts).forEach((h, j) => {
        if (!hostOk(h))
          causes.push({ field: `spec.tls[${i}].hosts[${j}]`, reason: "FieldValueInvalid", message: `"${String(h)}" is not a DNS name` });
      });
      if (t.secretName !== undefined && !isDnsSubdomain(String(t.secretName)))
        causes.push({ field: `spec.tls[${i}].secretName`, reason: "FieldValueInvalid", message: "not a DNS-1123 subdomain" });
    });
  }
  for (const { path, spec: podSpec, template } of podSpecs(o)) {
    causes.push(...podStructureCauses(path, podSpec, template, o));
  }
  return causes;
}

// ---------------------------------------------------------------------------------------------
// 3. Pod Security Standards, `restricted` (https://kubernetes.io/docs/concepts/security/pod-security-standards/)

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
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);

/** Violations of the `restricted` Pod Security level in one pod spec (empty when compliant). */
export function podSecurityViolations(spec: Json, path = "spec"): KubeCause[] {
  const v: KubeCause[] = [];
  const bad = (field: string, message: string) => v.push({ field: `${path}.${field}`, reason: "PodSecurityRestricted", message });
  const podSc = obj(spec.securityContext);

  for (const key of ["hostNetwork", "hostPID", "hostIPC"] as const) if (spec[key] === true) bad(key, `${key} is forbidden`);
  arr(spec.volumes).forEach((vol, i) => {
    const type = Object.keys(vol).find((k) => k !== "name");
    if (!type || !RESTRICTED_VOLUME_TYPES.has(type)) bad(`volumes[${i}]`, `volume type ${type ?? "(none)"} is not allowed`);
  });
  arr(podSc.sysctls).forEach((s, i) => {
    if (!SAFE_SYSCTLS.has(String(s.name))) bad(`securityContext.sysctls[${i}]`, `sysctl ${String(s.name)} is not allowed`);
  });
  const seLinux = (sc: Json, field: string) => {
    const o = obj(sc.seLinuxOptions);
    if (o.user !== undefined || o.role !== undefined) bad(`${field}.seLinuxOptions`, "seLinuxOptions user/role are forbidden");
    if (o.type !== undefined && !SELINUX_TYPES.has(String(o.type))) bad(`${field}.seLinuxOptions.type`, "seLinux type is not allowed");
  };
  seLinux(podSc, "securityContext");
  if (obj(podSc.appArmorProfile).type === "Unconfined") bad("securityContext.appArmorProfile", "Unconfined AppArmor is forbidden");
  if (podSc.runAsUser === 0) bad("securityContext.runAsUser", "runAsUser 0 (root) is forbidden");
  const podSeccomp = obj(podSc.seccompProfile).type;
  if (podSeccomp !== undefined && podSeccomp !== "RuntimeDefault" && podSeccomp !== "Localhost") {
    bad("securityContext.seccompProfile.type", `seccomp ${String(podSeccomp)} is forbidden`);
  }

  for (const { field, c } of allContainers(spec)) {
    const sc = obj(c.securityContext);
    const at = `${field}.securityContext`;
    if (sc.privileged === true) bad(`${at}.privileged`, "privileged containers are forbidden");
    if (sc.allowPrivilegeEscalation !== false) bad(`${at}.allowPrivilegeEscalation`, "must be false");
    const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (runAsNonRoot !== true) bad(`${at}.runAsNonRoot`, "must be true (on the pod or the container)");
    if (sc.runAsUser === 0) bad(`${at}.runAsUser`, "runAsUser 0 (root) is forbidden");
    const seccomp = obj(sc.seccompProfile).type ?? podSeccomp;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      bad(`${at}.seccompProfile.type`, "must be RuntimeDefault or Localhost (on the pod or the container)");
    const caps = obj(sc.capabilities);
    if (!arr(caps.drop).some((d) => (d as unknown) === "ALL")) bad(`${at}.capabilities.drop`, 'must include "ALL"');
    for (const add of arr(caps.add) as unknown[])
      if (add !== "NET_BIND_SERVICE") bad(`${at}.capabilities.add`, `capability ${String(add)} is forbidden`);
    if (sc.procMount !== undefined && sc.procMount !== "Default") bad(`${at}.procMount`, "procMount must be Default");
    if (obj(sc.appArmorProfile).type === "Unconfined") bad(`${at}.appArmorProfile`, "Unconfined AppArmor is forbidden");
    seLinux(sc, at);
    arr(c.ports).forEach((p, i) => {
      if (p.hostPort !== undefined && p.hostPort !== 0) bad(`${field}.ports[${i}].hostPort`, "hostPort is forbidden");
    });
  }
  return v;
}

// ---------------------------------------------------------------------------------------------

/**
 * Every problem with a manifest (empty when valid). `moreModels` adds schemas for kinds the product
 * never applies (the tests of the control plane's own manifests in k8s/ bring theirs).
 */
export function manifestProblems(manifest: KubeObject, moreModels: ModelRegistry = {}): KubeCause[] {
  if (typeof manifest?.apiVersion !== "string" || typeof manifest.kind !== "string") {
    return [{ reason: "FieldValueRequired", message: "apiVersion and kind are required" }];
  }
  return [
    ...schemaCauses(manifest, { ...MODELS, ...moreModels }),
    ...unknownFieldCauses(manifest),
    ...nameCauses(manifest),
    ...kindSpecificCauses(manifest),
    ...podSpecs(manifest).flatMap(({ path, spec }) => podSecurityViolations(spec, path)),
  ];
}

/** Throws `InvalidManifestError` listing every problem; called by the client before each apply. */
export function validateManifest(manifest: KubeObject): void {
  const causes = manifestProblems(manifest);
  if (causes.length > 0) {
    const ref = typeof manifest?.kind === "string" ? describeRef(refOf(manifest)) : "(not a Kubernetes object)";
    throw new InvalidManifestError(ref, causes);
  }
}

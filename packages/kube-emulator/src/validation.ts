/**
 * Validation (422 Invalid with causes) and defaulting, following the real API server's messages
 * for the checks the product can trip over. Not exhaustive: kubernetes-models schema checks in the
 * template tests cover the rest. TEST/DEMO FIXTURE — see index.ts.
 */
import type { StatusCause } from "./errors.js";
import { parseQuantity, QUANTITY_MESSAGE } from "./quantity.js";
import type { NameRule, ResourceInfo } from "./resources.js";
import { matchesLabelSelector } from "./selectors.js";
import { deepEqual, isRecord, type KubeObject } from "./types.js";
import { defaultPvcDataSource, validatePvcDataSource, validateSnapshotKind } from "./snapshot-validation.js";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const MSG = {
  label:
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  subdomain:
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  dns1035:
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  labelValue:
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  qualifiedName:
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
  configKey:
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
};

const invalid = (field: string, value: unknown, why: string): StatusCause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value)}: ${why}`,
  field,
});
const required = (field: string, detail?: string): StatusCause => ({
  reason: "FieldValueRequired",
  message: detail ? `Required value: ${detail}` : "Required value",
  field,
});
const forbidden = (field: string, why: string): StatusCause => ({
  reason: "FieldValueForbidden",
  message: `Forbidden: ${why}`,
  field,
});
const duplicate = (field: string, value: unknown): StatusCause => ({
  reason: "FieldValueDuplicate",
  message: `Duplicate value: ${JSON.stringify(value)}`,
  field,
});
const notSupported = (field: string, value: unknown, allowed: string[]): StatusCause => ({
  reason: "FieldValueNotSupported",
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(", ")}`,
  field,
});

export function validateName(rule: NameRule, name: string, field = "metadata.name"): StatusCause[] {
  const out: StatusCause[] = [];
  switch (rule) {
    case "dns1123Label":
      if (name.length > 63) out.push(invalid(field, name, "must be no more than 63 characters"));
      if (!DNS1123_LABEL.test(name)) out.push(invalid(field, name, MSG.label));
      break;
    case "dns1035Label":
      if (name.length > 63) out.push(invalid(field, name, "must be no more than 63 characters"));
      if (!DNS1035_LABEL.test(name)) out.push(invalid(field, name, MSG.dns1035));
      break;
    case "dns1123Subdomain":
      if (name.length > 253) out.push(invalid(field, name, "must be no more than 253 characters"));
      if (!DNS1123_SUBDOMAIN.test(name)) out.push(invalid(field, name, MSG.subdomain));
      break;
    case "pathSegment":
      if (name === "." || name === ".." || /[/%]/.test(name)) out.push(invalid(field, name, "may not contain '/' or '%'"));
      break;
  }
  return out;
}

function validateQualifiedKey(field: string, key: string, out: StatusCause[]): void {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : "";
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && (!DNS1123_SUBDOMAIN.test(prefix) || prefix.length > 253)) {
    out.push(invalid(field, key, `prefix part ${MSG.subdomain}`));
  }
  if (name.length > 63) out.push(invalid(field, key, "name part must be no more than 63 characters"));
  if (!QUALIFIED_NAME.test(name)) out.push(invalid(field, key, MSG.qualifiedName));
}

function validateLabels(field: string, labels: unknown, out: StatusCause[]): void {
  if (labels === undefined || labels === null) return;
  if (!isRecord(labels)) {
    out.push(invalid(field, labels, "must be a map of strings"));
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    validateQualifiedKey(field, k, out);
    if (typeof v !== "string") out.push(invalid(field, v, "label values must be strings"));
    else {
      if (v.length > 63) out.push(invalid(field, v, "must be no more than 63 characters"));
      if (!LABEL_VALUE.test(v)) out.push(invalid(field, v, MSG.labelValue));
    }
  }
}

function validateQuantities(field: string, map: unknown, out: StatusCause[]): void {
  if (!isRecord(map)) return;
  for (const [k, v] of Object.entries(map)) {
    if (parseQuantity(v) === undefined) out.push(invalid(`${field}[${k}]`, v, QUANTITY_MESSAGE));
  }
}

function validatePodSpec(field: string, spec: unknown, out: StatusCause[]): void {
  if (!isRecord(spec)) {
    out.push(required(field));
    return;
  }
  const volumes = Array.isArray(spec.volumes) ? spec.volumes.filter(isRecord) : [];
  const volumeNames = new Set<string>();
  volumes.forEach((v, i) => {
    const f = `${field}.volumes[${i}].name`;
    if (typeof v.name !== "string" || !v.name) out.push(required(f));
    else if (volumeNames.has(v.name)) out.push(duplicate(f, v.name));
    else {
      volumeNames.add(v.name);
      out.push(...validateName("dns1123Label", v.name, f));
    }
  });
  const check = (listName: "containers" | "initContainers") => {
    const list = spec[listName];
    if (listName === "containers" && (!Array.isArray(list) || list.length === 0)) {
      out.push(required(`${field}.containers`));
      return;
    }
    if (!Array.isArray(list)) return;
    const names = new Set<string>();
    list.forEach((c, i) => {
      const f = `${field}.${listName}[${i}]`;
      if (!isRecord(c)) {
        out.push(invalid(f, c, "must be an object"));
        return;
      }
      if (typeof c.name !== "string" || !c.name) out.push(required(`${f}.name`));
      else if (names.has(c.name)) out.push(duplicate(`${f}.name`, c.name));
      else {
        names.add(c.name);
        out.push(...validateName("dns1123Label", c.name, `${f}.name`));
      }
      if (typeof c.image !== "string" || !c.image.trim()) out.push(required(`${f}.image`));
      if (Array.isArray(c.ports)) {
        c.ports.forEach((p, j) => {
          const cp = isRecord(p) ? p.containerPort : undefined;
          if (typeof cp !== "number" || cp < 1 || cp > 65535 || !Number.isInteger(cp)) {
            out.push(invalid(`${f}.ports[${j}].containerPort`, cp, "must be between 1 and 65535, inclusive"));
          }
        });
      }
      if (Array.isArray(c.env)) {
        c.env.forEach((e, j) => {
          if (!isRecord(e) || typeof e.name !== "string" || !e.name) out.push(required(`${f}.env[${j}].name`));
        });
      }
      if (Array.isArray(c.volumeMounts)) {
        c.volumeMounts.forEach((m, j) => {
          if (!isRecord(m)) return;
          if (typeof m.name !== "string" || !volumeNames.has(m.name)) {
            out.push({
              reason: "FieldValueNotFound",
              message: `Not found: ${JSON.stringify(m.name)}`,
              field: `${f}.volumeMounts[${j}].name`,
            });
          }
          if (typeof m.mountPath !== "string" || !m.mountPath) out.push(required(`${f}.volumeMounts[${j}].mountPath`));
        });
      }
      if (isRecord(c.resources)) {
        validateQuantities(`${f}.resources.requests`, c.resources.requests, out);
        validateQuantities(`${f}.resources.limits`, c.resources.limits, out);
        const req = isRecord(c.resources.requests) ? c.resources.requests : {};
        const lim = isRecord(c.resources.limits) ? c.resources.limits : {};
        for (const [k, v] of Object.entries(req)) {
          const l = parseQuantity(lim[k]);
          const r = parseQuantity(v);
          if (l !== undefined && r !== undefined && r > l) {
            out.push(invalid(`${f}.resources.requests`, v, `must be less than or equal to ${k} limit of ${String(lim[k])}`));
          }
        }
      }
    });
  };
  check("containers");
  check("initContainers");
  if (spec.restartPolicy !== undefined && !["Always", "OnFailure", "Never"].includes(spec.restartPolicy as string)) {
    out.push(notSupported(`${field}.restartPolicy`, spec.restartPolicy, ["Always", "OnFailure", "Never"]));
  }
}

/** Deployment/StatefulSet/ReplicaSet: selector present, non-empty and matching the template. */
function validateWorkload(obj: KubeObject, out: StatusCause[]): void {
  const spec = isRecord(obj.spec) ? obj.spec : undefined;
  if (!spec) {
    out.push(required("spec.selector"), required("spec.template.spec.containers"));
    return;
  }
  if (spec.replicas !== undefined && (typeof spec.replicas !== "number" || spec.replicas < 0)) {
    out.push(invalid("spec.replicas", spec.replicas, "must be greater than or equal to 0"));
  }
  const template = isRecord(spec.template) ? spec.template : {};
  const tmeta = isRecord(template.metadata) ? template.metadata : {};
  const labels = (isRecord(tmeta.labels) ? tmeta.labels : {}) as Record<string, string>;
  validateLabels("spec.template.metadata.labels", tmeta.labels, out);
  if (!isRecord(spec.selector)) out.push(required("spec.selector"));
  else {
    const sel = spec.selector as {
      matchLabels?: Record<string, string>;
      matchExpressions?: [];
    };
    if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
      out.push(invalid("spec.selector", sel, `empty selector is invalid for ${obj.kind.toLowerCase()}`));
    } else if (!matchesLabelSelector(sel, labels)) {
      out.push(invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"));
    }
  }
  validatePodSpec("spec.template.spec", template.spec, out);
  if (isRecord(template.spec) && template.spec.restartPolicy !== undefined && template.spec.restartPolicy !== "Always") {
    out.push(notSupported("spec.template.spec.restartPolicy", template.spec.restartPolicy, ["Always"]));
  }
  if (obj.kind === "Deployment" && isRecord(spec.strategy) && spec.strategy.type !== undefined) {
    if (!["RollingUpdate", "Recreate"].includes(spec.strategy.type as string)) {
      out.push(notSupported("spec.strategy.type", spec.strategy.type, ["Recreate", "RollingUpdate"]));
    }
  }
}

function validateService(obj: KubeObject, out: StatusCause[]): void {
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const type = (spec.type as string | undefined) ?? "ClusterIP";
  const types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
  if (!types.includes(type)) out.push(notSupported("spec.type", type, types));
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (ports.length === 0 && type !== "ExternalName" && spec.clusterIP !== "None") out.push(required("spec.ports"));
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (!isRecord(p)) return;
    if (ports.length > 1 && (typeof p.name !== "string" || !p.name)) out.push(required(`spec.ports[${i}].name`));
    if (typeof p.name === "string" && p.name) {
      if (names.has(p.name)) out.push(duplicate(`spec.ports[${i}].name`, p.name));
      names.add(p.name);
    }
    if (typeof p.port !== "number" || p.port < 1 || p.port > 65535) {
      out.push(invalid(`spec.ports[${i}].port`, p.port, "must be between 1 and 65535, inclusive"));
    }
  });
  if (spec.selector !== undefined) validateLabels("spec.selector", spec.selector, out);
}

function validatePvc(obj: KubeObject, old: KubeObject | undefined, out: StatusCause[]): void {
  const spec = isRecord(obj.spec) ? obj.spec : {};
  if (!Array.isArray(spec.accessModes) || spec.accessModes.length === 0) {
    out.push(required("spec.accessModes", "at least 1 access mode is required"));
  }
  const requests = isRecord(spec.resources) && isRecord(spec.resources.requests) ? spec.resources.requests : {};
  const storage = parseQuantity(requests.storage);
  if (requests.storage === undefined) out.push(required("spec.resources[storage]"));
  else if (storage === undefined) out.push(invalid("spec.resources.requests[storage]", requests.storage, QUANTITY_MESSAGE));
  if (old && isRecord(old.spec)) {
    const { resources: _a, volumeName: _v, ...restNew } = spec;
    const { resources: _b, volumeName: _w, ...restOld } = old.spec;
    if (!deepEqual(restNew, restOld)) {
      out.push(
        forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"),
      );
    }
    const oldReq = isRecord(old.spec.resources) && isRecord(old.spec.resources.requests) ? old.spec.resources.requests : {};
    const before = parseQuantity(oldReq.storage);
    if (storage !== undefined && before !== undefined && storage < before) {
      out.push(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"));
    }
  }
}

const STS_MUTABLE = new Set([
  "replicas",
  "ordinals",
  "template",
  "updateStrategy",
  "persistentVolumeClaimRetentionPolicy",
  "minReadySeconds",
]);

/** All causes for writing `obj` (with `old` the live object on update). Empty means valid. */
export function validateObject(info: ResourceInfo, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const meta = obj.metadata;
  if (!meta.name) out.push(required("metadata.name", "name or generateName is required"));
  else out.push(...validateName(info.nameRule, meta.name));
  validateLabels("metadata.labels", meta.labels, out);
  if (meta.annotations !== undefined) {
    if (!isRecord(meta.annotations)) out.push(invalid("metadata.annotations", meta.annotations, "must be a map of strings"));
    else for (const k of Object.keys(meta.annotations)) validateQualifiedKey("metadata.annotations", k, out);
  }
  switch (info.kind) {
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
      validateWorkload(obj, out);
      if (old && isRecord(old.spec) && isRecord(obj.spec) && !deepEqual(old.spec.selector, obj.spec.selector)) {
        out.push(invalid("spec.selector", obj.spec.selector, "field is immutable"));
      }
      if (info.kind === "StatefulSet" && old && isRecord(old.spec) && isRecord(obj.spec)) {
        const strip = (s: Record<string, unknown>) => Object.fromEntries(Object.entries(s).filter(([k]) => !STS_MUTABLE.has(k)));
        if (!deepEqual(strip(old.spec), strip(obj.spec))) {
          out.push(
            forbidden(
              "spec",
              "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ),
          );
        }
      }
      break;
    case "Pod":
      validatePodSpec("spec", obj.spec, out);
      break;
    case "Service":
      validateService(obj, out);
      break;
    case "PersistentVolumeClaim":
      validatePvc(obj, old, out);
      validatePvcDataSource(isRecord(obj.spec) ? obj.spec : {}, out);
      break;
    case "VolumeSnapshot":
    case "VolumeSnapshotClass":
    case "VolumeSnapshotContent":
      validateSnapshotKind(info.kind, obj, old, out);
      break;
    case "ConfigMap":
    case "Secret":
      for (const field of ["data", "stringData", "binaryData"]) {
        const data = obj[field];
        if (!isRecord(data)) continue;
        for (const k of Object.keys(data)) if (!CONFIG_KEY.test(k)) out.push(invalid(`${field}[${k}]`, k, MSG.configKey));
      }
      if (info.kind === "Secret" && old && old.type !== undefined && obj.type !== old.type) {
        out.push(invalid("type", obj.type, "field is immutable"));
      }
      break;
    case "ResourceQuota":
      if (isRecord(obj.spec)) validateQuantities("spec.hard", obj.spec.hard, out);
      break;
    case "Ingress": {
      const rules = isRecord(obj.spec) && Array.isArray(obj.spec.rules) ? obj.spec.rules : [];
      rules.forEach((rule, i) => {
        if (!isRecord(rule) || rule.host === undefined) return;
        const host = String(rule.host).replace(/^\*\./, "");
        if (!DNS1123_SUBDOMAIN.test(host)) out.push(invalid(`spec.rules[${i}].host`, rule.host, MSG.subdomain));
      });
      break;
    }
    case "Certificate": {
      const spec = isRecord(obj.spec) ? obj.spec : {};
      if (typeof spec.secretName !== "string" || !spec.secretName) out.push(required("spec.secretName"));
      if (!isRecord(spec.issuerRef) || typeof spec.issuerRef.name !== "string") out.push(required("spec.issuerRef.name"));
      break;
    }
  }
  return out;
}

function defaultPodSpec(spec: Record<string, unknown>): void {
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  for (const list of ["containers", "initContainers"]) {
    if (!Array.isArray(spec[list])) continue;
    for (const c of spec[list] as unknown[]) {
      if (!isRecord(c)) continue;
      const image = typeof c.image === "string" ? c.image : "";
      const tagless = !/:[^/]+$/.test(image) && !image.includes("@");
      c.imagePullPolicy ??= tagless || image.endsWith(":latest") ? "Always" : "IfNotPresent";
      c.terminationMessagePath ??= "/dev/termination-log";
      c.terminationMessagePolicy ??= "File";
      c.resources ??= {};
      if (Array.isArray(c.ports)) for (const p of c.ports) if (isRecord(p)) p.protocol ??= "TCP";
    }
  }
}

/** Mutates a freshly built (never stored) object with the real server's defaults. */
export function applyDefaults(info: ResourceInfo, obj: KubeObject, allocateClusterIp: () => string): void {
  const spec = isRecord(obj.spec) ? obj.spec : undefined;
  switch (info.kind) {
    case "Namespace":
      obj.metadata.labels = {
        ...obj.metadata.labels,
        "kubernetes.io/metadata.name": obj.metadata.name,
      };
      obj.spec = { finalizers: ["kubernetes"], ...(spec ?? {}) };
      break;
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
      if (!spec) break;
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      if (info.kind === "Deployment") {
        spec.progressDeadlineSeconds ??= 600;
        const strategy = isRecord(spec.strategy) ? spec.strategy : {};
        strategy.type ??= "RollingUpdate";
        if (strategy.type === "RollingUpdate") strategy.rollingUpdate ??= { maxUnavailable: "25%", maxSurge: "25%" };
        else delete strategy.rollingUpdate;
        spec.strategy = strategy;
      }
      if (info.kind === "StatefulSet") {
        spec.podManagementPolicy ??= "OrderedReady";
        spec.updateStrategy ??= {
          type: "RollingUpdate",
          rollingUpdate: { partition: 0 },
        };
      }
      if (isRecord(spec.template) && isRecord(spec.template.spec)) defaultPodSpec(spec.template.spec);
      break;
    case "Pod":
      if (spec) defaultPodSpec(spec);
      break;
    case "Service": {
      if (!spec) break;
      spec.type ??= "ClusterIP";
      spec.sessionAffinity ??= "None";
      if (spec.type !== "ExternalName") {
        spec.clusterIP ??= allocateClusterIp();
        spec.clusterIPs ??= [spec.clusterIP];
        spec.ipFamilies ??= ["IPv4"];
        spec.ipFamilyPolicy ??= "SingleStack";
        spec.internalTrafficPolicy ??= "Cluster";
      }
      if (Array.isArray(spec.ports)) {
        for (const p of spec.ports) {
          if (!isRecord(p)) continue;
          p.protocol ??= "TCP";
          p.targetPort ??= p.port;
          // NodePort and LoadBalancer Services get a node port from 30000-32767 (stable per port here).
          if ((spec.type === "NodePort" || spec.type === "LoadBalancer") && p.nodePort === undefined) {
            let h = 2166136261;
            for (const ch of `${obj.metadata.namespace}/${obj.metadata.name}/${String(p.port)}`)
              h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
            p.nodePort = 30000 + ((h >>> 0) % 2768);
          }
        }
      }
      if (spec.type === "NodePort" || spec.type === "LoadBalancer") spec.externalTrafficPolicy ??= "Cluster";
      break;
    }
    case "PersistentVolumeClaim":
      if (!spec) break;
      spec.volumeMode ??= "Filesystem";
      spec.storageClassName ??= "standard";
      defaultPvcDataSource(spec);
      break;
    case "Secret": {
      obj.type ??= "Opaque";
      // stringData is write-only: the server folds it into base64 data, as the real one does.
      if (isRecord(obj.stringData)) {
        const data: Record<string, unknown> = isRecord(obj.data) ? { ...obj.data } : {};
        for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString("base64");
        obj.data = data;
        delete obj.stringData;
      }
      break;
    }
  }
}

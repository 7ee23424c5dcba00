/**
 * k8s/admission-policy.yaml: the ValidatingAdmissionPolicy that fences the control plane's
 * cluster-wide rights. No API server runs here, so this test evaluates the policy the way the API
 * server does — match constraints, match conditions, variables in order, then every validation —
 * with a real CEL evaluator, against admission requests the control plane would send (every object
 * the product renders for a tenant and an instance) and requests it must never get through.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type InstanceSpec, type Manifest, renderInstance, renderTenant, type ServiceTemplate } from "../../src/kube/templates/index.js";

const FILE = path.resolve(import.meta.dirname, "../../k8s/admission-policy.yaml");
// biome-ignore lint/suspicious/noExplicitAny: manifests and admission requests are free-form JSON here.
type Json = any;
const [policy, binding] = parseAllDocuments(readFileSync(FILE, "utf8")).map((d) => d.toJSON() as Json);

const CONTROL_PLANE = "system:serviceaccount:minispod-system:minispod-control-plane";

/** Kubernetes' plural resource name and group of each kind the control plane writes. */
const RESOURCES: Record<string, { group: string; resource: string }> = {
  Namespace: { group: "", resource: "namespaces" },
  ServiceAccount: { group: "", resource: "serviceaccounts" },
  ResourceQuota: { group: "", resource: "resourcequotas" },
  LimitRange: { group: "", resource: "limitranges" },
  ConfigMap: { group: "", resource: "configmaps" },
  Secret: { group: "", resource: "secrets" },
  PersistentVolumeClaim: { group: "", resource: "persistentvolumeclaims" },
  Service: { group: "", resource: "services" },
  Pod: { group: "", resource: "pods" },
  Deployment: { group: "apps", resource: "deployments" },
  StatefulSet: { group: "apps", resource: "statefulsets" },
  NetworkPolicy: { group: "networking.k8s.io", resource: "networkpolicies" },
  Ingress: { group: "networking.k8s.io", resource: "ingresses" },
};

type Operation = "CREATE" | "UPDATE" | "DELETE";
interface Request {
  operation: Operation;
  kind: string;
  object?: Json;
  oldObject?: Json;
  /** The namespace the object lives in (namespaced kinds). */
  namespaceObject?: Json;
  username?: string;
}

type Outcome = { allowed: true; matched: boolean } | { allowed: false; messages: string[] };

function matches(req: Request): boolean {
  const { group, resource } = RESOURCES[req.kind];
  return policy.spec.matchConstraints.resourceRules.some(
    (r: Json) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.operations.includes(req.operation),
  );
}

/** Evaluates the policy against one request, as the API server's admission chain would. */
function admit(req: Request): Outcome {
  if (!matches(req)) return { allowed: true, matched: false };
  const { group, resource } = RESOURCES[req.kind];
  const ctx: Json = {
    request: {
      operation: req.operation,
      userInfo: { username: req.username ?? CONTROL_PLANE },
      resource: { group, version: "v1", resource },
    },
    object: req.operation === "DELETE" ? null : req.object,
    oldObject: req.operation === "CREATE" ? null : (req.oldObject ?? null),
    namespaceObject: req.kind === "Namespace" ? null : (req.namespaceObject ?? null),
    variables: {},
  };
  for (const c of policy.spec.matchConditions) {
    if (parse(c.expression)(ctx) !== true) return { allowed: true, matched: false };
  }
  for (const v of policy.spec.variables) ctx.variables[v.name] = parse(v.expression)(ctx);
  const messages: string[] = [];
  for (const v of policy.spec.validations) {
    if (parse(v.expression)(ctx) === true) continue;
    messages.push(v.messageExpression ? String(parse(v.messageExpression)(ctx)) : v.message);
  }
  return messages.length ? { allowed: false, messages } : { allowed: true, matched: true };
}

const tenant = renderTenant({
  userId: "cm0user00001",
  namespace: "user-cm0user00001",
  quota: { maxInstances: 3, cpuMilli: 2000, memoryMb: 4096, storageGb: 20 },
  ingressControllerNamespace: "ingress-nginx",
});
const tenantNs = tenant.find((o) => o.kind === "Namespace") as Json;

function instance(template: ServiceTemplate): Manifest[] {
  const images: Record<ServiceTemplate, [string, string, number]> = {
    n8n: ["n8nio/n8n", "1.64.0", 5678],
    ghost: ["ghost", "5.96-alpine", 2368],
    postgresql: ["postgres", "16.4", 5432],
  };
  const [image, version, port] = images[template];
  const spec: InstanceSpec = {
    instanceId: "cm0inst00001",
    userId: "cm0user00001",
    namespace: "user-cm0user00001",
    name: `my-${template}`,
    service: { template, image, version, port },
    plan: { cpuMilli: 500, memoryMb: 1024, storageGb: 5 },
    host: `my-${template}.apps.example.com`,
    replicas: 1,
    credentials: { SECRET: "s" },
    options: { tlsIssuer: "letsencrypt-prod", ingressClassName: "nginx", postgresServiceType: "ClusterIP" },
  };
  return renderInstance(spec);
}

const namespace = (name: string, labels: Record<string, string> = {}): Json => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels },
});
const kubeSystem = namespace("kube-system", { "kubernetes.io/metadata.name": "kube-system" });
const deployment = (ns: string, podSpec: Json): Json => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "x", namespace: ns },
  spec: { template: { spec: { containers: [{ name: "c", image: "busybox" }], ...podSpec } } },
});
const withLabels = (ns: Json, patch: (labels: Record<string, string>) => void): Json => {
  const copy = structuredClone(ns);
  patch(copy.metadata.labels);
  return copy;
};

describe("k8s/admission-policy.yaml", () => {
  it("is a ValidatingAdmissionPolicy with a Deny binding to it", () => {
    expect(policy.apiVersion).toBe("admissionregistration.k8s.io/v1");
    expect(policy.kind).toBe("ValidatingAdmissionPolicy");
    expect(policy.spec.failurePolicy).toBe("Fail");
    expect(binding.kind).toBe("ValidatingAdmissionPolicyBinding");
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ["Deny"] });
  });

  it("matches every kind the control plane writes (RBAC's write grants)", () => {
    for (const kind of Object.keys(RESOURCES)) {
      for (const operation of ["CREATE", "UPDATE", "DELETE"] as const)
        expect(matches({ kind, operation }), `${operation} ${kind}`).toBe(true);
    }
  });

  it("admits every object the product renders for a tenant and its instances, created and updated", () => {
    const objects = [...tenant, ...instance("n8n"), ...instance("ghost"), ...instance("postgresql")];
    expect(objects.length).toBeGreaterThan(20);
    for (const o of objects) {
      const old = o.kind === "Namespace" ? tenantNs : o;
      for (const operation of ["CREATE", "UPDATE", "DELETE"] as const) {
        expect(admit({ operation, kind: o.kind, object: o, oldObject: old, namespaceObject: tenantNs }), `${operation} ${o.kind}`).toEqual({
          allowed: true,
          matched: true,
        });
      }
    }
  });

  it("refuses writes into a namespace that is not a MinisPod tenant", () => {
    const out = admit({ operation: "CREATE", kind: "Deployment", object: deployment("kube-system", {}), namespaceObject: kubeSystem });
    expect(out).toEqual({
      allowed: false,
      messages: [
        "the MinisPod control plane may only write in MinisPod tenant namespaces (user-*, labelled app.kubernetes.io/managed-by=minispod and app.kubernetes.io/component=tenant), not in kube-system",
      ],
    });
    expect(admit({ operation: "DELETE", kind: "Secret", oldObject: {}, namespaceObject: namespace("minispod-system") }).allowed).toBe(
      false,
    );
    // A user-* name alone is not enough: the tenant labels are what the platform set.
    expect(admit({ operation: "CREATE", kind: "ConfigMap", object: {}, namespaceObject: namespace("user-abc") }).allowed).toBe(false);
  });

  it("lets the control plane delete a stuck pod in a tenant namespace only (RBAC grants pods delete cluster-wide)", () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "db-0", namespace: "user-abc" }, spec: { containers: [] } };
    expect(admit({ operation: "DELETE", kind: "Pod", oldObject: pod, namespaceObject: tenantNs })).toEqual({
      allowed: true,
      matched: true,
    });
    expect(
      admit({
        operation: "DELETE",
        kind: "Pod",
        oldObject: { ...pod, metadata: { name: "coredns-1", namespace: "kube-system" } },
        namespaceObject: kubeSystem,
      }),
    ).toEqual({
      allowed: false,
      messages: [
        "the MinisPod control plane may only write in MinisPod tenant namespaces (user-*, labelled app.kubernetes.io/managed-by=minispod and app.kubernetes.io/component=tenant), not in kube-system",
      ],
    });
    expect(admit({ operation: "DELETE", kind: "Pod", oldObject: pod, namespaceObject: namespace("minispod-system") }).allowed).toBe(false);
  });

  it("refuses creating, changing or deleting namespaces that are not tenants", () => {
    expect(admit({ operation: "CREATE", kind: "Namespace", object: namespace("evil") }).allowed).toBe(false);
    expect(admit({ operation: "DELETE", kind: "Namespace", oldObject: kubeSystem }).allowed).toBe(false);
    // Labelling another namespace as a tenant (to write in it afterwards) is refused.
    const relabelled = withLabels(tenantNs, () => {});
    relabelled.metadata.name = "user-victim";
    expect(admit({ operation: "UPDATE", kind: "Namespace", object: relabelled, oldObject: namespace("user-victim") })).toEqual({
      allowed: false,
      messages: ["the MinisPod control plane may not turn a namespace that is not a MinisPod tenant into one"],
    });
  });

  it("refuses removing or weakening a tenant namespace's Pod Security label", () => {
    const removed = withLabels(tenantNs, (l) => delete l["pod-security.kubernetes.io/enforce"]);
    const privileged = withLabels(tenantNs, (l) => {
      l["pod-security.kubernetes.io/enforce"] = "privileged";
    });
    const baseline = withLabels(tenantNs, (l) => {
      l["pod-security.kubernetes.io/enforce"] = "baseline";
    });
    const message = "a tenant namespace must keep its Pod Security label pod-security.kubernetes.io/enforce at restricted or baseline";
    expect(admit({ operation: "UPDATE", kind: "Namespace", object: removed, oldObject: tenantNs })).toEqual({
      allowed: false,
      messages: [message],
    });
    expect(admit({ operation: "UPDATE", kind: "Namespace", object: privileged, oldObject: tenantNs })).toEqual({
      allowed: false,
      messages: [message],
    });
    expect(admit({ operation: "CREATE", kind: "Namespace", object: removed })).toEqual({ allowed: false, messages: [message] });
    expect(admit({ operation: "UPDATE", kind: "Namespace", object: baseline, oldObject: tenantNs }).allowed).toBe(true);
  });

  it("refuses workloads that run as another ServiceAccount or mount a token", () => {
    const asAdmin = admit({
      operation: "CREATE",
      kind: "Deployment",
      object: deployment("user-cm0user00001", { serviceAccountName: "admin" }),
      namespaceObject: tenantNs,
    });
    expect(asAdmin).toEqual({
      allowed: false,
      messages: ["workloads written by the MinisPod control plane must run as the tenant's default ServiceAccount"],
    });
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { serviceAccount: "builder", containers: [] } };
    expect(admit({ operation: "CREATE", kind: "Pod", object: pod, namespaceObject: tenantNs }).allowed).toBe(false);
    const token = admit({
      operation: "UPDATE",
      kind: "Deployment",
      object: deployment("user-cm0user00001", { automountServiceAccountToken: true }),
      oldObject: {},
      namespaceObject: tenantNs,
    });
    expect(token).toEqual({
      allowed: false,
      messages: ["workloads written by the MinisPod control plane may not mount a ServiceAccount token"],
    });
    expect(
      admit({
        operation: "CREATE",
        kind: "Deployment",
        object: deployment("user-cm0user00001", { serviceAccountName: "default" }),
        namespaceObject: tenantNs,
      }).allowed,
    ).toBe(true);
  });

  it("leaves everyone else's requests to RBAC", () => {
    expect(
      admit({
        operation: "CREATE",
        kind: "Deployment",
        object: deployment("kube-system", {}),
        namespaceObject: kubeSystem,
        username: "kubernetes-admin",
      }),
    ).toEqual({ allowed: true, matched: false });
  });
});

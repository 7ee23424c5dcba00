/**
 * src/kube/field-layout.ts is generated from @kubernetes/client-node's models so that the server need
 * not load the package. These tests keep the committed table equal to what the installed client-node
 * generates (an upgrade that changes the models fails here until `npx tsx scripts/gen-kube-field-layout.ts`
 * is rerun), and check that `unknownFields` over the table reports what it reported over the models.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { FIELD_LAYOUT_FILE, fieldLayout, LEAF_TYPES, renderFieldLayout, ROOT_KINDS } from "../../scripts/gen-kube-field-layout.js";
import { FIELD_LAYOUT } from "../../src/kube/field-layout.js";
import type { KubeObject } from "../../src/kube/objects.js";
import { modelTypeName, unknownFields } from "../../src/kube/schema.js";
import { type InstanceSpec, renderInstance, renderTenant, type ServiceTemplate } from "../../src/kube/templates/index.js";

// biome-ignore lint/suspicious/noExplicitAny: manifests are edited freely in the tests below.
type Loose = Record<string, any>;

const ROOT = path.resolve(import.meta.dirname, "../..");
const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

/** The previous implementation, reading client-node's models directly: the reference the table must match. */
function referenceUnknownFields(value: unknown, typeName: string, path = ""): string[] {
  const models = k8s as unknown as Record<string, { getAttributeTypeMap?(): { baseName: string; type: string }[] } | undefined>;
  const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (value === undefined || value === null || LEAF_TYPES.has(typeName)) return [];
  const array = ARRAY.exec(typeName);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => referenceUnknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  const map = MAP.exec(typeName);
  if (map) {
    return isPlainObject(value)
      ? Object.entries(value).flatMap(([k, v]) => referenceUnknownFields(v, map[1]!, `${path}[${JSON.stringify(k)}]`))
      : [];
  }
  const attrs = models[typeName]?.getAttributeTypeMap?.();
  if (!attrs || !isPlainObject(value)) return [];
  const byJson = new Map(attrs.map((a) => [a.baseName, a]));
  return Object.entries(value).flatMap(([key, v]) => {
    const attr = byJson.get(key);
    const childPath = path ? `${path}.${key}` : key;
    return attr ? referenceUnknownFields(v, attr.type, childPath) : [childPath];
  });
}

function instanceSpec(template: ServiceTemplate, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const service = {
    n8n: { template, image: "n8nio/n8n", version: "1.64.0", port: 5678 },
    ghost: { template, image: "ghost", version: "5.96.0", port: 2368 },
    postgresql: { template, image: "postgres", version: "16.4", port: 5432 },
  }[template];
  return {
    instanceId: "cm0inst00001",
    userId: "cm0user00001",
    namespace: "user-cm0user00001",
    name: `my-${template}`,
    service,
    plan: { cpuMilli: 500, memoryMb: 1024, storageGb: 5 },
    host: `my-${template}.apps.example.com`,
    replicas: 1,
    credentials: { KEY: "value" },
    options: { tlsIssuer: "letsencrypt-prod", ingressClassName: "nginx", postgresServiceType: "LoadBalancer" },
    ...overrides,
  };
}

/** Every manifest the product renders and every one in k8s/ (the control plane's own). */
function projectManifests(): KubeObject[] {
  const templates: ServiceTemplate[] = ["n8n", "ghost", "postgresql"];
  const rendered = templates.flatMap((t) => [
    ...renderInstance(instanceSpec(t)),
    ...renderInstance(instanceSpec(t, { plan: { cpuMilli: 250, memoryMb: 512, storageGb: 0 }, restartedAt: "2025-01-02T03:04:05.000Z" })),
    ...renderInstance(instanceSpec(t, { volume: { claim: "old-pvc", restore: { claim: "new-pvc", snapshot: "snap" } } })),
  ]);
  const tenant = renderTenant({
    userId: "cm0user00001",
    namespace: "user-cm0user00001",
    quota: { maxInstances: 3, cpuMilli: 2000, memoryMb: 4096, storageGb: 20 },
    ingressControllerNamespace: "ingress-nginx",
  });
  const k8sDir = path.join(ROOT, "k8s");
  const own = readdirSync(k8sDir)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(k8sDir, f), "utf8")).map((d) => d.toJSON() as KubeObject));
  return [...rendered, ...tenant, ...own];
}

/** A copy with the field `zzUnknown` added to every object, at every depth. */
function plantEverywhere(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plantEverywhere);
  if (typeof value !== "object" || value === null) return value;
  return { ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plantEverywhere(v)])), zzUnknown: 1 };
}

describe("the committed field layout", () => {
  it("is what the installed @kubernetes/client-node generates (else: npx tsx scripts/gen-kube-field-layout.ts)", () => {
    expect(FIELD_LAYOUT).toEqual(fieldLayout());
    expect(readFileSync(FIELD_LAYOUT_FILE, "utf8")).toBe(renderFieldLayout());
  });

  it("is closed: every field's type is a leaf, a type of the table, or an array or map of one", () => {
    const resolves = (type: string): boolean => {
      const element = (ARRAY.exec(type) ?? MAP.exec(type))?.[1];
      return element !== undefined ? resolves(element) : LEAF_TYPES.has(type) || Object.hasOwn(FIELD_LAYOUT, type);
    };
    const unresolved = Object.entries(FIELD_LAYOUT).flatMap(([type, fields]) =>
      Object.entries(fields)
        .filter(([, t]) => !resolves(t))
        .map(([name, t]) => `${type}.${name}: ${t}`),
    );
    expect(unresolved).toEqual([]);
  });

  it("has every root kind under the name modelTypeName gives it; custom resources have none", () => {
    for (const [apiVersion, kind] of ROOT_KINDS) expect(modelTypeName(apiVersion, kind), `${apiVersion} ${kind}`).toBeDefined();
    expect(modelTypeName("apps/v1", "Deployment")).toBe("V1Deployment");
    expect(modelTypeName("networking.k8s.io/v1", "NetworkPolicy")).toBe("V1NetworkPolicy");
    expect(modelTypeName("cert-manager.io/v1", "Certificate")).toBeUndefined();
    expect(modelTypeName("snapshot.storage.k8s.io/v1", "VolumeSnapshot")).toBeUndefined();
    expect(modelTypeName("v1", "Bogus")).toBeUndefined();
    // Names come from manifests: Object.prototype's members are no types.
    expect(modelTypeName("", "constructor")).toBeUndefined();
    expect(modelTypeName("", "__proto__")).toBeUndefined();
  });

  it("covers every built-in kind the project applies or deploys", () => {
    const models = k8s as unknown as Record<string, { getAttributeTypeMap?: unknown } | undefined>;
    const missing = projectManifests()
      .map((o) => `${o.apiVersion} ${o.kind}`)
      .filter((ref, i, all) => all.indexOf(ref) === i)
      .filter((ref) => {
        const [apiVersion, kind] = ref.split(" ") as [string, string];
        const version = apiVersion.slice(apiVersion.indexOf("/") + 1);
        const hasModel = typeof models[`${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`]?.getAttributeTypeMap === "function";
        return hasModel && !modelTypeName(apiVersion, kind);
      });
    expect(missing, "add them to ROOT_KINDS in scripts/gen-kube-field-layout.ts").toEqual([]);
  });
});

describe("unknownFields", () => {
  const deployment = () => {
    const d = renderInstance(instanceSpec("n8n")).find((o) => o.kind === "Deployment");
    if (!d) throw new Error("no Deployment rendered");
    return structuredClone(d) as unknown as Loose;
  };

  it("reports none for the project's own manifests", () => {
    for (const o of projectManifests()) {
      const typeName = modelTypeName(o.apiVersion, o.kind);
      if (typeName) expect(unknownFields(o, typeName), `${o.kind} ${o.metadata?.name}`).toEqual([]);
    }
  });

  it("finds an unknown field at the top level and nested in objects", () => {
    const d = deployment();
    d.bogus = 1;
    d.spec.replica = 2;
    d.spec.template.metadata.bogus = true;
    // In the manifest's order, where each was added after the existing fields.
    expect(unknownFields(d, "V1Deployment")).toEqual(["spec.template.metadata.bogus", "spec.replica", "bogus"]);
  });

  it("finds unknown fields inside arrays, with the element's index", () => {
    const d = deployment();
    d.spec.template.spec.containers[0].bogus = 1;
    d.spec.template.spec.containers[0].env = [
      { name: "A", value: "1" },
      { name: "B", valu: "2" },
    ];
    expect(unknownFields(d, "V1Deployment")).toEqual([
      "spec.template.spec.containers[0].bogus",
      "spec.template.spec.containers[0].env[1].valu",
    ]);
  });

  it("takes a map's keys as data, not fields, and walks into its values", () => {
    const d = deployment();
    d.metadata.labels = { "anything/goes": "x" };
    d.spec.template.spec.containers[0].resources.limits = { "example.com/gpu": "1" };
    expect(unknownFields(d, "V1Deployment")).toEqual([]);
    // No map in the table holds a model today; the walk into one is the same as for arrays.
    const containers = { web: { name: "web", image: "nginx" }, "side car": { name: "side", imagee: "x" } };
    expect(unknownFields(containers, "{ [key: string]: V1Container; }", "byName")).toEqual(['byName["side car"].imagee']);
  });

  it("uses the JSON names (`from`, `default`), not client-node's TS names (`_from`, `_default`)", () => {
    expect(unknownFields({ from: [{ podSelector: {} }] }, "V1NetworkPolicyIngressRule")).toEqual([]);
    expect(unknownFields({ _from: [] }, "V1NetworkPolicyIngressRule")).toEqual(["_from"]);
    expect(unknownFields({ type: "Container", default: { cpu: "1" } }, "V1LimitRangeItem")).toEqual([]);
  });

  it("does not take Object.prototype's members for fields", () => {
    expect(unknownFields(JSON.parse('{"constructor": 1, "__proto__": {}, "toString": 2}'), "V1ObjectMeta")).toEqual([
      "constructor",
      "__proto__",
      "toString",
    ]);
  });

  it("ignores leaves, nulls and values of the wrong shape, as before", () => {
    expect(unknownFields({ bogus: 1 }, "string")).toEqual([]);
    expect(unknownFields({ bogus: 1 }, "IntOrString")).toEqual([]);
    expect(unknownFields(null, "V1Pod")).toEqual([]);
    expect(unknownFields("text", "V1Pod")).toEqual([]);
    expect(unknownFields({ bogus: 1 }, "Array<V1Container>")).toEqual([]);
    expect(unknownFields([{ bogus: 1 }], "V1Container")).toEqual([]);
  });

  it("reports exactly what client-node's models reported, for every project manifest with an unknown field everywhere", () => {
    for (const o of projectManifests()) {
      const typeName = modelTypeName(o.apiVersion, o.kind);
      if (!typeName) continue;
      const planted = plantEverywhere(o);
      const found = unknownFields(planted, typeName);
      expect(found.length).toBeGreaterThan(1);
      expect(found, `${o.kind} ${o.metadata?.name}`).toEqual(referenceUnknownFields(planted, typeName));
    }
  });
});

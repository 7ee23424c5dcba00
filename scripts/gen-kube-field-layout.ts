/**
 * Writes src/kube/field-layout.ts: the JSON field names and field types of the built-in kinds we
 * validate, and of every type reachable from them, taken from @kubernetes/client-node's generated
 * models (each class carries an `attributeTypeMap` of {name (TS), baseName (JSON), type}).
 *
 *   npx tsx scripts/gen-kube-field-layout.ts      # rewrite src/kube/field-layout.ts
 *
 * The server reads the committed table (src/kube/schema.ts finds unknown fields with it) instead of
 * importing client-node, whose index loads all ~700 model classes: ~68 MB of RSS and 0.6-0.8 s at start.
 * test/kube/field-layout.test.ts regenerates the table in memory and fails when the committed file
 * differs, so an upgrade of client-node that changes the models is noticed; rerun this script then.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const FIELD_LAYOUT_FILE = path.join(root, "src/kube/field-layout.ts");

/**
 * The built-in kinds whose manifests go through `manifestProblems`: the product's (MODELS in
 * src/kube/manifest-validation.ts) and the control plane's own in k8s/ (CONTROL_PLANE_MODELS in
 * test/deploy/manifests.test.ts). Custom resources (cert-manager's Certificate, VolumeSnapshot)
 * have no client-node model and are not listed: their schema check is all they get.
 */
export const ROOT_KINDS: readonly (readonly [apiVersion: string, kind: string])[] = [
  ["v1", "ConfigMap"],
  ["v1", "LimitRange"],
  ["v1", "Namespace"],
  ["v1", "PersistentVolumeClaim"],
  ["v1", "Pod"],
  ["v1", "ResourceQuota"],
  ["v1", "Secret"],
  ["v1", "Service"],
  ["v1", "ServiceAccount"],
  ["apps/v1", "Deployment"],
  ["apps/v1", "StatefulSet"],
  ["networking.k8s.io/v1", "Ingress"],
  ["networking.k8s.io/v1", "NetworkPolicy"],
  // The control plane's own manifests (k8s/).
  ["admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"],
  ["admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"],
  ["batch/v1", "Job"],
  ["policy/v1", "PodDisruptionBudget"],
  ["rbac.authorization.k8s.io/v1", "ClusterRole"],
  ["rbac.authorization.k8s.io/v1", "ClusterRoleBinding"],
];

/** Types without fields of their own: the walk (here and in schema.ts) ends at them. */
export const LEAF_TYPES: ReadonlySet<string> = new Set(["string", "number", "boolean", "any", "object", "Date", "IntOrString", "Buffer"]);
const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };
const MODELS = k8s as unknown as Record<string, ModelClass | undefined>;

/** Model type name -> JSON field name -> field type. */
export type FieldLayout = Record<string, Record<string, string>>;

/** The same naming rule as `modelTypeName` in src/kube/schema.ts: ("apps/v1", "Deployment") -> "V1Deployment". */
function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion;
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The layout of every model reachable from ROOT_KINDS, keys sorted (types and fields). */
export function fieldLayout(): FieldLayout {
  const found = new Map<string, Record<string, string>>();
  const visit = (type: string): void => {
    if (LEAF_TYPES.has(type)) return;
    const element = (ARRAY.exec(type) ?? MAP.exec(type))?.[1];
    if (element !== undefined) {
      visit(element);
      return;
    }
    if (found.has(type)) return;
    const model = MODELS[type];
    // A type we can neither walk nor recognise as a leaf: a client-node upgrade brought a new kind of
    // type, and schema.ts would silently stop checking below it. Decide what it is before regenerating.
    if (typeof model?.getAttributeTypeMap !== "function") throw new Error(`${type}: neither a client-node model nor a known leaf type`);
    const fields: Record<string, string> = {};
    found.set(type, fields);
    for (const a of model.getAttributeTypeMap()) fields[a.baseName] = a.type;
    for (const t of Object.values(fields)) visit(t);
  };
  for (const [apiVersion, kind] of ROOT_KINDS) {
    const name = modelName(apiVersion, kind);
    if (typeof MODELS[name]?.getAttributeTypeMap !== "function") throw new Error(`${apiVersion} ${kind}: client-node has no model ${name}`);
    visit(name);
  }
  const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => byCodeUnit(a, b)));
  return Object.fromEntries([...found].sort(([a], [b]) => byCodeUnit(a, b)).map(([type, fields]) => [type, sorted(fields)]));
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string) => (IDENTIFIER.test(k) ? k : JSON.stringify(k));

/**
 * The source of src/kube/field-layout.ts. One field per line: an upgrade's diff shows exactly the
 * fields that changed, and the layout is already what biome formats it to.
 */
export function renderFieldLayout(layout: FieldLayout = fieldLayout()): string {
  const lines = [
    "// Generated by `npx tsx scripts/gen-kube-field-layout.ts` from @kubernetes/client-node's models: do not edit.",
    "// test/kube/field-layout.test.ts fails when this no longer matches the installed client-node; rerun the command then.",
    "",
    "/** Model type name -> JSON field name -> field type (a model, `Array<T>`, `{ [key: string]: T; }` or a leaf type). */",
    "export const FIELD_LAYOUT: Readonly<Record<string, Readonly<Record<string, string>>>> = {",
  ];
  for (const [type, fields] of Object.entries(layout)) {
    const entries = Object.entries(fields);
    if (entries.length === 0) {
      lines.push(`  ${key(type)}: {},`);
      continue;
    }
    lines.push(`  ${key(type)}: {`);
    for (const [name, t] of entries) lines.push(`    ${key(name)}: ${JSON.stringify(t)},`);
    lines.push("  },");
  }
  lines.push("};", "");
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const layout = fieldLayout();
  writeFileSync(FIELD_LAYOUT_FILE, renderFieldLayout(layout));
  process.stdout.write(`${path.relative(root, FIELD_LAYOUT_FILE)}: ${Object.keys(layout).length} types\n`);
}

import { FIELD_LAYOUT } from "./field-layout.js";

/**
 * The field layout of the built-in kinds we validate, which finds unknown fields in a manifest
 * (kubernetes-models cannot: its JSON schemas allow additional properties).
 *
 * The layout comes from @kubernetes/client-node's generated models, but through a committed table
 * (src/kube/field-layout.ts, written by scripts/gen-kube-field-layout.ts) rather than the package
 * itself: its index loads every one of its ~700 model classes, ~68 MB of RSS (27 MB of heap) and
 * 0.6-0.8 s at start for the ~230 types we read; the table costs under 1 MB and 6 ms.
 * test/kube/field-layout.test.ts keeps the table equal to the installed models.
 */

const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

/**
 * JSON field name -> type of a model, undefined for anything else. Leaf types (string, IntOrString,
 * Date, ...) have no entry, so they end the walk without a check, as a type the table lacks does.
 * `hasOwn`: the names come from manifests, and "constructor" must not find Object.prototype's.
 */
function fieldsOf(typeName: string): Readonly<Record<string, string>> | undefined {
  return Object.hasOwn(FIELD_LAYOUT, typeName) ? FIELD_LAYOUT[typeName] : undefined;
}

/**
 * The model type of a built-in kind, e.g. ("apps/v1", "Deployment") -> "V1Deployment"; undefined for
 * custom resources and for kinds the table does not cover (ROOT_KINDS in the generator lists those it does).
 */
export function modelTypeName(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion;
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return fieldsOf(name) ? name : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON paths of fields that the type does not define (empty when the object is clean). */
export function unknownFields(value: unknown, typeName: string, path = ""): string[] {
  if (value === undefined || value === null) return [];
  const item = ARRAY.exec(typeName)?.[1];
  if (item !== undefined) {
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, item, `${path}[${i}]`)) : [];
  }
  const entry = MAP.exec(typeName)?.[1];
  if (entry !== undefined) {
    return isPlainObject(value) ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, entry, `${path}[${JSON.stringify(k)}]`)) : [];
  }
  const fields = fieldsOf(typeName);
  if (!fields || !isPlainObject(value)) return [];
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const type = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (type === undefined) problems.push(childPath);
    else problems.push(...unknownFields(v, type, childPath));
  }
  return problems;
}

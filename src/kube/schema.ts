import * as k8s from "@kubernetes/client-node";

/**
 * The field layout of the built-in kinds, taken from @kubernetes/client-node's generated models
 * (each class carries an `attributeTypeMap` of {name (TS), baseName (JSON), type}). We use it for
 * two things kubernetes-models cannot do:
 *  - finding unknown fields (its JSON schemas allow additional properties), and
 *  - converting wire JSON (`from`, `default`) to the client's model shape (`_from`, `_default`),
 *    which `KubernetesObjectApi` requires: its serializer reads model names and silently DROPS
 *    any key it does not know — a NetworkPolicy's `from` would vanish on the way to the server.
 */

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}

type ModelClass = { getAttributeTypeMap(): Attribute[] };

const MODELS = k8s as unknown as Record<string, ModelClass | undefined>;
const LEAF_TYPES = new Set(["string", "number", "boolean", "any", "object", "Date", "IntOrString", "Buffer"]);
const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

function attributes(typeName: string): Attribute[] | undefined {
  const model = MODELS[typeName];
  return typeof model?.getAttributeTypeMap === "function" ? model.getAttributeTypeMap() : undefined;
}

/** The client model type of a built-in kind, e.g. ("apps/v1", "Deployment") -> "V1Deployment". */
export function modelTypeName(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion;
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return attributes(name) ? name : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON paths of fields that the type does not define (empty when the object is clean). */
export function unknownFields(value: unknown, typeName: string, path = ""): string[] {
  if (value === undefined || value === null || LEAF_TYPES.has(typeName)) return [];
  const array = ARRAY.exec(typeName);
  if (array) {
    return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`)) : [];
  }
  const map = MAP.exec(typeName);
  if (map) {
    return isPlainObject(value)
      ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}[${JSON.stringify(k)}]`))
      : [];
  }
  const attrs = attributes(typeName);
  if (!attrs || !isPlainObject(value)) return [];
  const byJson = new Map(attrs.map((a) => [a.baseName, a]));
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const attr = byJson.get(key);
    const childPath = path ? `${path}.${key}` : key;
    if (!attr) problems.push(childPath);
    else problems.push(...unknownFields(v, attr.type, childPath));
  }
  return problems;
}

/** Wire JSON -> the client's model shape (renames `from` -> `_from` etc.); unknown types pass through. */
export function toClientModel<T>(value: T, typeName: string): T {
  if (value === undefined || value === null || LEAF_TYPES.has(typeName)) return value;
  const array = ARRAY.exec(typeName);
  if (array) return (Array.isArray(value) ? value.map((v) => toClientModel(v, array[1]!)) : value) as T;
  const map = MAP.exec(typeName);
  if (map) {
    return (isPlainObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toClientModel(v, map[1]!)])) : value) as T;
  }
  const attrs = attributes(typeName);
  if (!attrs || !isPlainObject(value)) return value;
  const byJson = new Map(attrs.map((a) => [a.baseName, a]));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const attr = byJson.get(key);
    if (attr) out[attr.name] = toClientModel(v, attr.type);
    else out[key] = v;
  }
  return out as T;
}

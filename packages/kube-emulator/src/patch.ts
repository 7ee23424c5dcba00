/**
 * Patch formats: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and an approximation of
 * Kubernetes' strategic merge patch (lists of named things merge by their key instead of being
 * replaced). TEST/DEMO FIXTURE — see index.ts.
 */
import { ApiError, errors } from "./errors.js";
import { clone, deepEqual, isRecord } from "./types.js";

/**
 * The merge key of a list field, from the Kubernetes schemas' `patchMergeKey` /
 * `x-kubernetes-list-map-keys`. Lists without a key are atomic (replaced as a whole).
 */
export function listMergeKey(field: string, items: readonly unknown[]): string | undefined {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "volumes":
    case "env":
    case "imagePullSecrets":
      return "name";
    case "volumeMounts":
      return "mountPath";
    case "conditions":
      return "type";
    case "ownerReferences":
      return "uid";
    case "hostAliases":
      return "ip";
    case "ports": {
      const first = items.find(isRecord);
      if (first && "containerPort" in first) return "containerPort";
      if (first && "port" in first) return "port";
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Primitive lists that strategic merge patch treats as sets (merged, not replaced). */
const SET_LISTS = new Set(["finalizers"]);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((i) => !(isRecord(i) && i.$patch === "delete")).map(stripDirectives);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (k.startsWith("$")) continue;
    out[k] = stripDirectives(val);
  }
  return out;
}

export function strategicMergePatch(target: unknown, patch: unknown, field = ""): unknown {
  if (Array.isArray(patch)) return mergeList(Array.isArray(target) ? target : [], patch, field);
  if (!isRecord(patch)) return clone(patch);
  if (patch.$patch === "replace") return stripDirectives(patch);
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    // $setElementOrder/<list> and $deleteFromPrimitiveList/<list> come from kubectl's client-side
    // apply; order hints are irrelevant here, deletions from primitive lists are honoured.
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const list = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(result[list]) && Array.isArray(v)) {
        result[list] = (result[list] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
      }
      continue;
    }
    if (k.startsWith("$")) continue;
    if (v === null) delete result[k];
    else result[k] = strategicMergePatch(result[k], v, k);
  }
  if (retain) for (const k of Object.keys(result)) if (!retain.has(k)) delete result[k];
  return result;
}

function mergeList(target: unknown[], patch: unknown[], field: string): unknown[] {
  if (SET_LISTS.has(field)) {
    const out = [...target];
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(v);
    return out;
  }
  const key = listMergeKey(field, patch.length ? patch : target);
  if (!key) return stripDirectives(patch) as unknown[];
  const out = [...target];
  for (const item of patch) {
    if (!isRecord(item)) continue;
    const idx = out.findIndex((x) => isRecord(x) && deepEqual(x[key], item[key]));
    if (item.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item, field);
    else out.push(stripDirectives(item));
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw errors.badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** A JSON patch that cannot be applied to the document (not a malformed request). */
class PatchApplyError extends Error {}

function invalidPatch(message: string): PatchApplyError {
  return new PatchApplyError(message);
}

/** Applies RFC 6902 operations to a copy of `doc`. Failures become 422, as on the real server. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw errors.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let root = clone(doc);
  const parentOf = (path: string[]): [Record<string, unknown> | unknown[], string] => {
    let cur: unknown = root;
    for (const seg of path.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isRecord(cur)) cur = cur[seg];
      else cur = undefined;
      if (cur === undefined) throw invalidPatch(`doc is missing path: ${`/${path.join("/")}`}`);
    }
    if (!isRecord(cur) && !Array.isArray(cur)) throw invalidPatch(`doc is missing path: ${`/${path.join("/")}`}`);
    return [cur, path[path.length - 1]];
  };
  const get = (path: string[]): unknown => {
    let cur: unknown = root;
    for (const seg of path) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isRecord(cur)) cur = cur[seg];
      else return undefined;
    }
    return cur;
  };
  const remove = (path: string[]): unknown => {
    const [parent, last] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = Number(last);
      if (!(i >= 0 && i < parent.length)) throw invalidPatch(`unable to remove nonexistent key: ${last}`);
      return parent.splice(i, 1)[0];
    }
    if (!(last in parent)) throw invalidPatch(`unable to remove nonexistent key: ${last}: missing value`);
    const v = parent[last];
    delete parent[last];
    return v;
  };
  const add = (path: string[], value: unknown, replace: boolean): void => {
    if (path.length === 0) {
      root = value;
      return;
    }
    const [parent, last] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (!(i >= 0 && i <= parent.length)) throw invalidPatch(`index out of bounds: ${last}`);
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
    } else {
      if (replace && !(last in parent)) throw invalidPatch(`replace operation does not apply: doc is missing key: /${path.join("/")}`);
      parent[last] = value;
    }
  };
  try {
    for (const raw of ops) {
      if (!isRecord(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
        throw errors.badRequest("the server rejected our request due to an error in our request");
      }
      const op = raw as unknown as JsonPatchOp;
      const path = parsePointer(op.path);
      switch (op.op) {
        case "add":
          add(path, clone(op.value), false);
          break;
        case "replace":
          add(path, clone(op.value), true);
          break;
        case "remove":
          remove(path);
          break;
        case "move":
          add(path, remove(parsePointer(op.from ?? "")), false);
          break;
        case "copy":
          add(path, clone(get(parsePointer(op.from ?? ""))), false);
          break;
        case "test":
          if (!deepEqual(get(path), op.value)) throw invalidPatch(`testing value /${path.join("/")} failed: test failed`);
          break;
        default:
          throw errors.badRequest(`Unexpected kind: ${op.op}`);
      }
    }
  } catch (e) {
    // The real server reports patches that do not apply as 422 Invalid with the patch library's text.
    if (e instanceof PatchApplyError) throw new ApiError(422, "Invalid", e.message);
    throw e;
  }
  return root;
}

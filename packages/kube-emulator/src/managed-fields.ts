/**
 * Field ownership (metadata.managedFields, FieldsV1) and server-side apply.
 *
 * An approximation of structured-merge-diff: a field set is the set of leaf paths of an object;
 * lists with a merge key (containers by name, ports by port, ...) are addressed per element
 * (`k:{"name":"app"}`), every other list is atomic. That is enough for idempotent re-apply,
 * removal of fields a manager stops applying, and conflicts between managers that `force` overrides.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { errors, type StatusCause } from "./errors.js";
import { listMergeKey } from "./patch.js";
import { deepEqual, derivedOnce, isRecord, type JsonObject, type KubeObject, type ManagedFieldsEntry } from "./types.js";

const SEP = "\n";
const ELEMENT = ".";
/** Server-owned metadata that no manager owns. */
const SYSTEM_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
]);

export type FieldSet = Set<string>;

function walk(value: unknown, path: string, field: string, out: FieldSet): void {
  if (isRecord(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      walk(v, path ? `${path}${SEP}f:${k}` : `f:${k}`, k, out);
    }
    return;
  }
  if (Array.isArray(value) && value.length > 0) {
    const key = listMergeKey(field, value);
    if (key && value.every((i) => isRecord(i) && i[key] !== undefined)) {
      for (const item of value as Record<string, unknown>[]) {
        const elem = `${path}${SEP}k:${JSON.stringify({ [key]: item[key] })}`;
        out.add(`${elem}${SEP}${ELEMENT}`);
        walk(item, elem, "", out);
      }
      return;
    }
  }
  out.add(path);
}

/** The field set of an object's user-owned content (everything but status and system metadata). */
export function fieldSet(obj: Record<string, unknown> | undefined): FieldSet {
  const out: FieldSet = new Set();
  if (!obj) return out;
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind" || k === "status" || v === undefined) continue;
    if (k === "metadata" && isRecord(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (SYSTEM_METADATA.has(mk) || mv === undefined) continue;
        walk(mv, `f:metadata${SEP}f:${mk}`, mk, out);
      }
      continue;
    }
    walk(v, `f:${k}`, k, out);
  }
  return out;
}

export function toFieldsV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const path of [...set].sort()) {
    let cur = root;
    for (const seg of path.split(SEP)) {
      let next = cur[seg] as JsonObject | undefined;
      if (!next) {
        next = {};
        cur[seg] = next;
      }
      cur = next;
    }
  }
  return root;
}

export function fromFieldsV1(v1: JsonObject | undefined): FieldSet {
  const out: FieldSet = new Set();
  const rec = (node: JsonObject, path: string) => {
    const keys = Object.keys(node);
    if (keys.length === 0) {
      if (path) out.add(path);
      return;
    }
    for (const k of keys) rec((node[k] ?? {}) as JsonObject, path ? `${path}${SEP}${k}` : k);
  };
  if (v1) rec(v1, "");
  return out;
}

function findElement(list: unknown, seg: string): number {
  if (!Array.isArray(list)) return -1;
  const key = JSON.parse(seg.slice(2)) as Record<string, unknown>;
  const [k, v] = Object.entries(key)[0];
  return list.findIndex((i) => isRecord(i) && deepEqual(i[k], v));
}

/** Value at a field path (undefined when absent). */
export function valueAt(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const seg of path.split(SEP)) {
    if (seg === ELEMENT) return cur;
    if (seg.startsWith("f:")) cur = isRecord(cur) ? cur[seg.slice(2)] : undefined;
    else if (seg.startsWith("k:")) {
      const i = findElement(cur, seg);
      cur = i >= 0 ? (cur as unknown[])[i] : undefined;
    } else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Removes the field (or list element) at `path` from a mutable object. */
function removeAt(obj: Record<string, unknown>, path: string): void {
  const segs = path.split(SEP);
  let cur: unknown = obj;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1 || segs[i + 1] === ELEMENT;
    if (seg.startsWith("f:")) {
      if (!isRecord(cur)) return;
      if (last) {
        delete cur[seg.slice(2)];
        return;
      }
      cur = cur[seg.slice(2)];
    } else if (seg.startsWith("k:")) {
      const idx = findElement(cur, seg);
      if (idx < 0) return;
      if (last) {
        (cur as unknown[]).splice(idx, 1);
        return;
      }
      cur = (cur as unknown[])[idx];
    }
  }
}

/** "f:spec\nf:template\n..." -> ".spec.template.spec.containers[name=\"app\"].image" */
export function displayPath(path: string): string {
  let out = "";
  for (const seg of path.split(SEP)) {
    if (seg.startsWith("f:")) out += `.${seg.slice(2)}`;
    else if (seg.startsWith("k:")) {
      const key = JSON.parse(seg.slice(2)) as Record<string, unknown>;
      out += `[${Object.entries(key)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(",")}]`;
    }
  }
  return out;
}

/** SSA merge of an applied configuration into the live object (no patch directives). */
export function applyMerge(live: unknown, config: unknown, field = ""): unknown {
  if (isRecord(config)) {
    const out: Record<string, unknown> = isRecord(live) ? { ...live } : {};
    for (const [k, v] of Object.entries(config)) {
      if (v === undefined) continue;
      out[k] = v === null ? null : applyMerge(out[k], v, k);
    }
    for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
    return out;
  }
  if (Array.isArray(config)) {
    const key = listMergeKey(field, config);
    if (!key || !Array.isArray(live) || !config.every((i) => isRecord(i) && i[key] !== undefined)) {
      return structuredClone(config);
    }
    const out = [...live];
    for (const item of config as Record<string, unknown>[]) {
      const idx = out.findIndex((x) => isRecord(x) && deepEqual(x[key], item[key]));
      if (idx >= 0) out[idx] = applyMerge(out[idx], item, "");
      else out.push(structuredClone(item));
    }
    return out;
  }
  return config;
}

interface Owner {
  entry: ManagedFieldsEntry;
  /** The manager's fields as this write leaves them (a copy: a write changes it). */
  fields: FieldSet;
  /** Its fields before this write (for a stored entry; shared, never changed). */
  stored?: FieldSet;
}

/**
 * Parsed field sets of stored entries and stored objects. A stored object, and the managedFields
 * entries in it, are never mutated after the store writes them (store.ts), and an unchanged entry is
 * carried over to the next version as the same object, so each is parsed once.
 */
const entryFields = new WeakMap<ManagedFieldsEntry, FieldSet>();
const objectFields = new WeakMap<KubeObject, FieldSet>();

function owners(obj: KubeObject | undefined): Owner[] {
  return (obj?.metadata.managedFields ?? []).map((entry) => {
    const stored = derivedOnce(entryFields, entry, (e) => fromFieldsV1(e.fieldsV1));
    return { entry, fields: new Set(stored), stored };
  });
}

/** `fieldSet` of the live (stored) object a write starts from: read, never changed. */
function storedFieldSet(obj: KubeObject | undefined): FieldSet {
  return obj ? derivedOnce(objectFields, obj, fieldSet) : new Set();
}

function sameManager(e: ManagedFieldsEntry, manager: string, operation: string, subresource?: string): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? "") === (subresource ?? "");
}

function finish(list: Owner[], changedManagers: Set<Owner>, now: string): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const o of list) {
    if (o.fields.size === 0) continue;
    if (!changedManagers.has(o)) {
      out.push(o.entry);
      continue;
    }
    // A manager whose fields did not change gets only a new time: its FieldsV1 is the same (shared).
    const fieldsV1 = o.stored && setsEqual(o.stored, o.fields) ? o.entry.fieldsV1 : toFieldsV1(o.fields);
    const entry: ManagedFieldsEntry = {
      manager: o.entry.manager,
      operation: o.entry.operation,
      apiVersion: o.entry.apiVersion,
      time: now,
      fieldsType: "FieldsV1",
      fieldsV1,
    };
    if (o.entry.subresource) entry.subresource = o.entry.subresource;
    out.push(entry);
  }
  return out;
}

function setsEqual(a: FieldSet, b: FieldSet): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * Server-side apply: returns the merged object (managedFields set, status and system metadata
 * taken from `live`) or throws 409 Conflict listing the fields other managers own.
 */
export function serverSideApply(args: {
  live: KubeObject | undefined;
  config: KubeObject;
  manager: string;
  force: boolean;
  now: string;
}): KubeObject {
  const { live, config, manager, force, now } = args;
  const applied = fieldSet(config);
  const list = owners(live);
  let mine = list.find((o) => sameManager(o.entry, manager, "Apply"));
  const previous = mine ? new Set(mine.fields) : new Set<string>();
  const changed = new Set<Owner>();

  const conflicts: StatusCause[] = [];
  const lost = new Map<Owner, string[]>();
  for (const o of list) {
    if (o === mine) continue;
    for (const p of o.fields) {
      if (!applied.has(p) || p.endsWith(ELEMENT)) continue;
      if (deepEqual(valueAt(live, p), valueAt(config, p))) continue;
      conflicts.push({
        reason: "FieldManagerConflict",
        message: `conflict with "${o.entry.manager}" using ${o.entry.apiVersion}`,
        field: displayPath(p),
      });
      lost.set(o, [...(lost.get(o) ?? []), p]);
    }
  }
  if (conflicts.length > 0 && !force) throw errors.applyConflict(conflicts);
  for (const [o, paths] of lost) {
    for (const p of paths) o.fields.delete(p);
    changed.add(o);
  }

  const merged = applyMerge(live ?? {}, stripForApply(config)) as KubeObject;
  // Fields this manager applied before but no longer applies are removed, unless someone else owns them.
  for (const p of previous) {
    if (applied.has(p)) continue;
    const prefix = p.endsWith(ELEMENT) ? p.slice(0, -ELEMENT.length) : `${p}${SEP}`;
    const ownedElsewhere = list.some((o) => o !== mine && [...o.fields].some((q) => q === p || q.startsWith(prefix)));
    if (!ownedElsewhere) removeAt(merged, p.endsWith(ELEMENT) ? p.slice(0, -ELEMENT.length - SEP.length) : p);
  }
  if (!mine) {
    mine = {
      entry: {
        manager,
        operation: "Apply",
        apiVersion: config.apiVersion,
        time: now,
        fieldsType: "FieldsV1",
        fieldsV1: {},
      },
      fields: applied,
    };
    list.push(mine);
    changed.add(mine);
  } else if (!setsEqual(previous, applied)) {
    mine.fields = applied;
    changed.add(mine);
  }
  merged.metadata = {
    ...merged.metadata,
    managedFields: finish(list, changed, now),
  };
  return merged;
}

function stripForApply(config: KubeObject): Record<string, unknown> {
  const { status: _status, ...rest } = config;
  const meta: Record<string, unknown> = { ...config.metadata };
  for (const k of SYSTEM_METADATA) if (k !== "name" && k !== "namespace") delete meta[k];
  return { ...rest, metadata: meta };
}

/** Ownership after a non-apply write (create, update, patch): the writer owns what it changed. */
export function updateOwnership(args: {
  old: KubeObject | undefined;
  next: KubeObject;
  manager: string;
  apiVersion: string;
  now: string;
  subresource?: string;
}): ManagedFieldsEntry[] {
  const { old, next, manager, apiVersion, now, subresource } = args;
  const list = owners(old);
  const before = storedFieldSet(old);
  const after = fieldSet(next);
  const changedPaths: string[] = [];
  for (const p of after) if (!before.has(p) || !deepEqual(valueAt(old, p), valueAt(next, p))) changedPaths.push(p);
  const removed: string[] = [];
  for (const p of before) if (!after.has(p)) removed.push(p);
  const changed = new Set<Owner>();
  let mine = list.find((o) => sameManager(o.entry, manager, "Update", subresource));
  for (const o of list) {
    for (const p of removed) if (o.fields.delete(p)) changed.add(o);
    if (o === mine) continue;
    for (const p of changedPaths) if (o.fields.delete(p)) changed.add(o);
  }
  if (changedPaths.length > 0) {
    if (!mine) {
      mine = {
        entry: {
          manager,
          operation: "Update",
          apiVersion,
          time: now,
          fieldsType: "FieldsV1",
          fieldsV1: {},
          subresource,
        },
        fields: new Set(),
      };
      list.push(mine);
    }
    for (const p of changedPaths) mine.fields.add(p);
    changed.add(mine);
  }
  return finish(list, changed, now);
}

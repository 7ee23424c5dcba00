/**
 * Field ownership as drift evidence. After a server-side apply, `metadata.managedFields` holds one
 * entry for our field manager (operation Apply) listing every field we set (FieldsV1). Anyone else's
 * write that changes one of those fields takes its ownership (kubectl edit/patch/replace/apply: the
 * API server moves a changed field to the writer), and a removed field leaves every set. So the hash
 * of our entry's field set, taken right after we applied and compared later with the live object's,
 * changes exactly when something we applied was changed or removed — readable from metadata alone
 * (metadata-only LISTs: no specs, never Secret data), and immune to the server's normalisation of
 * values (quantities, defaults), which does not change who owns what.
 */
interface ManagedFieldsEntryLike {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: object;
  time?: Date | string;
}

export interface MetadataLike {
  name?: string;
  resourceVersion?: string;
  managedFields?: ManagedFieldsEntryLike[];
  deletionTimestamp?: Date | string;
}

/** Map key of one owned object: `Kind/name`. */
export function objectKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** The kind of an `objectKey` (its name is what follows `kind.length + 1`). */
export function objectKeyKind(key: string): string {
  return key.slice(0, key.indexOf("/"));
}

/**
 * 53-bit string hash (cyrb53): the field set is compared with itself over time, not defended against
 * an adversary — anyone able to forge field ownership can write the object anyway — so a fast
 * non-cryptographic digest will do; two seeds give 106 bits. The sweep hashes every owned object of
 * the fleet (~10 per instance), which a cryptographic hash made a visible part of its time.
 */
function cyrb53(str: string, seed: number): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * Short digest of the fields `manager` owns through server-side apply; "" when it owns none.
 * FieldsV1 is serialised by the API server in a fixed (sorted) order, and both the apply's answer
 * and a LIST hand it over as parsed, so plain JSON of it is stable.
 */
export function appliedFieldsHash(metadata: MetadataLike | undefined, manager: string): string {
  const entry = metadata?.managedFields?.find((e) => e.manager === manager && e.operation === "Apply" && !e.subresource);
  if (!entry?.fieldsV1) return "";
  const json = JSON.stringify(entry.fieldsV1);
  // join, not a template: the result is one flat string. A template of more than 12 characters is a
  // rope of three (two cons cells and the halves), and an informer keeps one per cached object.
  return [cyrb53(json, 1), cyrb53(json, 2)].join(".");
}

/**
 * What the reconciler records per object after applying it: `<resourceVersion> <fields hash>`. The
 * resourceVersion is a shortcut — an object nobody wrote since (most ConfigMaps, Secrets, Services,
 * policies) is unchanged without hashing anything; one that controllers touched since (status,
 * binding) is compared by its fields hash.
 */
export function appliedStamp(metadata: MetadataLike | undefined, manager: string): string {
  return `${metadata?.resourceVersion ?? ""} ${appliedFieldsHash(metadata, manager)}`;
}

/** Whether the live object still carries every field recorded by `appliedStamp`. */
export function stampHolds(stamp: string, metadata: MetadataLike | undefined, manager: string): boolean {
  const space = stamp.indexOf(" ");
  const rv = stamp.slice(0, space);
  if (rv !== "" && rv === metadata?.resourceVersion) return true;
  return stamp.slice(space + 1) === appliedFieldsHash(metadata, manager);
}

/** The other managers that wrote the object itself (not its status), newest first: who probably drifted it. */
export function otherWriters(metadata: MetadataLike | undefined, manager: string): string[] {
  const entries = (metadata?.managedFields ?? []).filter((e) => e.manager && e.manager !== manager && !e.subresource);
  const time = (e: ManagedFieldsEntryLike) => (e.time ? new Date(e.time).getTime() : 0);
  return [...new Set(entries.sort((a, b) => time(b) - time(a)).map((e) => e.manager as string))];
}

/**
 * Order of two resourceVersions: negative, 0 or positive; undefined when either is not an integer.
 * resourceVersions are opaque by contract, but every API server backed by etcd hands out its
 * revision (one increasing integer for the whole cluster), which is what informers and watch
 * resumption rely on. Callers treat undefined as "cannot tell" and stay on the safe side.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A resourceVersion as a cache keeps it: a number when it is a decimal integer written canonically and
 * within JavaScript's exact range (every etcd revision is), so that tens of thousands of cached objects
 * do not each hold a string of their own; anything else as it came. `resourceVersionText` gives back
 * the exact string.
 */
export function compactResourceVersion(rv: string | undefined): string | number | undefined {
  if (rv === undefined) return undefined;
  const n = Number(rv);
  return Number.isSafeInteger(n) && n >= 0 && String(n) === rv ? n : rv;
}

/** The string a `compactResourceVersion` value came from. */
export function resourceVersionText(v: string | number | undefined): string | undefined {
  return typeof v === "number" ? String(v) : v;
}

/** The resourceVersion an `appliedStamp` recorded ("" when none). */
export function stampResourceVersion(stamp: string): string {
  const space = stamp.indexOf(" ");
  return space < 0 ? stamp : stamp.slice(0, space);
}

/**
 * What an observation (a LIST, or an informer's cache) says about an object we applied:
 *  - "holds": it still carries every field recorded by `appliedStamp`;
 *  - "changed": someone changed or removed fields we applied;
 *  - "behind": the observation is older than our apply (its resourceVersion is lower than the one
 *    recorded), so it cannot judge our apply — the next sweep will. Never reported as drift: a
 *    cache lagging behind the reconciler must not have a repair re-requested.
 */
export type StampVerdict = "holds" | "changed" | "behind";

export function judgeStamp(stamp: string, observed: { resourceVersion?: string; appliedHash(): string }): StampVerdict {
  const rv = stampResourceVersion(stamp);
  if (rv !== "" && rv === observed.resourceVersion) return "holds";
  if ((compareResourceVersions(observed.resourceVersion, rv) ?? 0) < 0) return "behind";
  return stamp.slice(stamp.indexOf(" ") + 1) === observed.appliedHash() ? "holds" : "changed";
}

/**
 * What an observation that does not show an object we applied means: "missing" when it is at least
 * as new as our apply (it would show the object otherwise: deleted since), "behind" when it is
 * older (it may simply not have seen the object yet). Unknown order counts as missing, as a fresh
 * LIST would.
 */
export function judgeAbsent(stamp: string, observedUpTo: string | undefined): "missing" | "behind" {
  return (compareResourceVersions(observedUpTo, stampResourceVersion(stamp)) ?? 0) < 0 ? "behind" : "missing";
}

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
import { createHash } from "node:crypto";

interface ManagedFieldsEntryLike {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: object;
  time?: Date | string;
}

export interface MetadataLike {
  name?: string;
  managedFields?: ManagedFieldsEntryLike[];
  deletionTimestamp?: Date | string;
}

/** Map key of one owned object: `Kind/name`. */
export function objectKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** JSON with object keys sorted (FieldsV1 key order is not guaranteed across serialisers). */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Short digest of the fields `manager` owns through server-side apply; "" when it owns none. */
export function appliedFieldsHash(metadata: MetadataLike | undefined, manager: string): string {
  const entry = metadata?.managedFields?.find((e) => e.manager === manager && e.operation === "Apply" && !e.subresource);
  if (!entry?.fieldsV1) return "";
  return createHash("sha256").update(stable(entry.fieldsV1)).digest("base64url").slice(0, 22);
}

/** The other managers that wrote the object itself (not its status), newest first: who probably drifted it. */
export function otherWriters(metadata: MetadataLike | undefined, manager: string): string[] {
  const entries = (metadata?.managedFields ?? []).filter((e) => e.manager && e.manager !== manager && !e.subresource);
  const time = (e: ManagedFieldsEntryLike) => (e.time ? new Date(e.time).getTime() : 0);
  return [...new Set(entries.sort((a, b) => time(b) - time(a)).map((e) => e.manager as string))];
}

/**
 * Instance names.
 *
 * The display name is what the user typed: 1-63 characters (code points) of any script, trimmed,
 * NFC-normalised, without control characters or line/paragraph separators.
 *
 * The Kubernetes name is derived from it: NFKD, diacritics stripped, a few letters transliterated
 * (ß -> ss, æ -> ae, ø -> o, ...), lowercased, every run of other characters -> '-', dashes trimmed,
 * at most K8S_NAME_MAX_LENGTH characters, starting with a letter (a DNS-1035 label, which Service
 * names require; a leading digit gets an `app-` prefix), and `app` when nothing is left (e.g. a name
 * written only in CJK). K8S_NAME_MAX_LENGTH leaves room for every derived object name
 * (`<name>-ingress`, `<name>-secret`, StatefulSet revision labels `<name>-<10 chars>`, Deployment pods
 * `<name>-<hash>-<5 chars>`) within 63.
 *
 * Collisions within a namespace (among live, i.e. not TERMINATED, instances) are resolved with
 * `-2`, `-3`, ...; the partial unique index on (namespace, k8s_name) is the final guard.
 */
import { z } from "zod";
import { tenantNamespace } from "../../kube/templates/names.js";
import { Prisma, type SqlTarget, sqlRows } from "../../platform/db/index.js";

export const DISPLAY_NAME_MAX = 63;
export const K8S_NAME_MAX_LENGTH = 30;
/** DNS-1035 label (a DNS-1123 label that starts with a letter). */
export const K8S_NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const FALLBACK = "app";

const FORBIDDEN_IN_DISPLAY_NAME = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]/u;

export const DisplayNameSchema = z
  .string()
  .transform((v) => v.normalize("NFC").trim())
  .refine((v) => [...v].length >= 1, "must not be empty")
  .refine((v) => [...v].length <= DISPLAY_NAME_MAX, `must be at most ${DISPLAY_NAME_MAX} characters`)
  .refine((v) => !FORBIDDEN_IN_DISPLAY_NAME.test(v), "must not contain control characters");

const TRANSLITERATE: Record<string, string> = {
  ß: "ss",
  ẞ: "ss",
  æ: "ae",
  Æ: "ae",
  œ: "oe",
  Œ: "oe",
  ø: "o",
  Ø: "o",
  đ: "d",
  Đ: "d",
  ð: "d",
  Ð: "d",
  þ: "th",
  Þ: "th",
  ł: "l",
  Ł: "l",
  ı: "i",
  ħ: "h",
  Ħ: "h",
};

function trimDashes(s: string): string {
  return s.replace(/^-+/, "").replace(/-+$/, "");
}

/** Cuts to `max` characters without leaving a trailing dash. */
function cut(s: string, max: number): string {
  return trimDashes(s.slice(0, max));
}

/** The Kubernetes name for a display name (without collision handling). Always matches K8S_NAME_PATTERN. */
export function toK8sName(displayName: string, maxLength = K8S_NAME_MAX_LENGTH): string {
  let s = displayName.normalize("NFKD").replace(/\p{M}+/gu, "");
  s = s.replace(/[^\p{ASCII}]/gu, (ch) => TRANSLITERATE[ch] ?? "-");
  s = s.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  s = trimDashes(s);
  if (s === "") return FALLBACK;
  if (!/^[a-z]/.test(s)) s = `${FALLBACK}-${s}`;
  return cut(s, maxLength);
}

/** `base` with the n-th collision suffix (n >= 2), still within maxLength. */
export function withSuffix(base: string, n: number, maxLength = K8S_NAME_MAX_LENGTH): string {
  const suffix = `-${n}`;
  const head = cut(base, maxLength - suffix.length) || FALLBACK;
  return `${head}${suffix}`;
}

/**
 * A k8s name for `displayName` that no live instance in `namespace` uses. Run it inside the
 * transaction that inserts the instance, after locking the user row (namespaces are per user, so the
 * lock serialises allocations); the unique index still rejects a race, and callers retry on a unique violation.
 */
export async function allocateK8sName(db: SqlTarget, namespace: string, displayName: string): Promise<string> {
  const base = toK8sName(displayName);
  // Every candidate (base, or base cut to fit "-<n>" for n < 10000) starts with this prefix.
  const prefix = cut(base, K8S_NAME_MAX_LENGTH - 6);
  const rows = await sqlRows<{ k8sName: string }>(
    db,
    Prisma.sql`SELECT "k8s_name" AS "k8sName" FROM "instances"
                WHERE "namespace" = ${namespace} AND "status" <> 'TERMINATED' AND starts_with("k8s_name", ${prefix})`,
  );
  const taken = new Set(rows.map((r) => r.k8sName));
  if (!taken.has(base)) return base;
  for (let n = 2; n < 10_000; n++) {
    const candidate = withSuffix(base, n);
    if (!taken.has(candidate)) return candidate;
  }
  throw new Error(`no free Kubernetes name for '${base}' in ${namespace}`);
}

/** The tenant namespace of a user: `user-<id>`; the kube layer owns the rule. */
export { tenantNamespace as tenantNamespaceFor };

import { InvalidNameError } from "../kube-errors.js";

/** Kubernetes DNS-1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, <= 63. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL_MAX = 63;

/**
 * Every derived object name is `<name><suffix>`; the longest suffix decides how long an instance
 * name may be. Service names must be DNS-1123 labels (<= 63), and we hold every name to that bound.
 */
const SUFFIXES = {
  configMap: "-config",
  secret: "-secret",
  pvc: "-pvc",
  workload: "",
  service: "-svc",
  /** The headless Service a StatefulSet's `serviceName` names (stable pod DNS). */
  headless: "-hl",
  ingress: "-ingress",
  tls: "-tls",
  networkPolicy: "-netpol",
} as const;

export type InstanceObjectNames = { -readonly [K in keyof typeof SUFFIXES]: string };

const LONGEST_SUFFIX = Math.max(...Object.values(SUFFIXES).map((s) => s.length));
/**
 * StatefulSet pods are named `<name>-<ordinal>` and get a `controller-revision-hash` label of
 * `<name>-<10 chars>`, which must fit a label value (63): so 52 is the real bound for the workload.
 */
const STATEFULSET_HASH_SUFFIX = 11;

/** The longest instance name every derived name (and the StatefulSet revision label) accepts. */
export const MAX_INSTANCE_NAME_LENGTH = DNS1123_LABEL_MAX - Math.max(LONGEST_SUFFIX, STATEFULSET_HASH_SUFFIX);

export function isDns1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX && DNS1123_LABEL.test(value);
}

/** Throws `InvalidNameError` unless `name` is usable as an instance name. */
export function assertInstanceName(name: string): void {
  if (!DNS1123_LABEL.test(name)) {
    throw new InvalidNameError(name, "must be a DNS-1123 label (lowercase a-z, 0-9 and '-', alphanumeric at both ends)");
  }
  if (name.length > MAX_INSTANCE_NAME_LENGTH) {
    throw new InvalidNameError(
      name,
      `must be at most ${MAX_INSTANCE_NAME_LENGTH} characters so that derived names stay within ${DNS1123_LABEL_MAX}`,
    );
  }
}

const SUFFIX_ENTRIES = Object.entries(SUFFIXES) as Array<[keyof typeof SUFFIXES, string]>;

/**
 * Names of every object of one instance. Throws `InvalidNameError` for an unusable name. (A plain loop:
 * the health sweep asks once per instance, and entries-map-fromEntries allocated three arrays each time.)
 */
export function names(name: string): InstanceObjectNames {
  assertInstanceName(name);
  const out = {} as InstanceObjectNames;
  for (const [key, suffix] of SUFFIX_ENTRIES) out[key] = `${name}${suffix}`;
  return out;
}

/**
 * The tenant namespace of a user: `user-<id>`, lowercased, with characters a DNS label cannot hold
 * replaced by '-'. Throws when the result is not a valid label (empty or too long an id).
 */
export function tenantNamespace(userId: string): string {
  const sanitized = userId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+$/g, "");
  const ns = `user-${sanitized}`;
  if (!isDns1123Label(ns) || sanitized.length === 0) {
    throw new InvalidNameError(ns, "user id does not yield a DNS-1123 namespace name");
  }
  return ns;
}

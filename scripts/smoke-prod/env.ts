/**
 * The environments the production smoke test gives its two processes, declared as key lists, with
 * their values read from k8s/ and the Dockerfile. test/deploy/smoke-env.test.ts compares these lists
 * with the YAML, and the smoke test refuses to run when they differ, so the two cannot drift apart.
 *
 *  - the migration: the image's ENV + k8s/migrate-job.yaml's container env, nothing more;
 *  - the API: the image's ENV + k8s/configmap.yaml (envFrom) + k8s/deployment.yaml's container env,
 *    plus KUBECONFIG_PATH, which stands in for the in-cluster service account (the one difference:
 *    the smoke test's "cluster" is the emulator on loopback, not the pod's API server).
 * Secrets are files, mounted where the manifests mount them: every key of the Secret for the API, only
 * the Job's `items` for the migration.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { imageRuntime, readDockerfile } from "./dockerfile.js";

/** The declared keys. Changing k8s/ or the Dockerfile without changing these fails the test. */
export const DECLARED = {
  /** Dockerfile, final stage ENV. */
  image: ["NODE_ENV", "PORT", "DATA_DIR", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"],
  /** k8s/migrate-job.yaml, container env. */
  migrateJob: ["DATABASE_URL_FILE", "LOG_LEVEL"],
  /** k8s/configmap.yaml data (the Deployment's envFrom). */
  configMap: [
    "NODE_ENV",
    "PORT",
    "HOST",
    "LOG_LEVEL",
    "TRUST_PROXY",
    "K8S_MODE",
    "ADMIN_EMAIL",
    "BASE_DOMAIN",
    "INGRESS_CLASS_NAME",
    "INGRESS_CONTROLLER_NAMESPACE",
    "TLS_CLUSTER_ISSUER",
    "POSTGRES_SERVICE_TYPE",
    "POSTGRES_TLS_SSLMODE",
    "HEALTH_INTERVAL",
    "RECONCILE_RESYNC_INTERVAL",
    "ROLLOUT_TIMEOUT",
    "BACKUP_SNAPSHOT_CLASS",
    "RENEWAL_CRON",
    "BACKGROUND_LOOPS",
    "DATABASE_URL_FILE",
    "JWT_SECRET_FILE",
    "ADMIN_PASSWORD_FILE",
    "CREDENTIALS_KEY_FILE",
  ],
  /** k8s/deployment.yaml, container env. */
  deployment: ["DATA_DIR"],
  /** Outside the cluster: the emulator's kubeconfig instead of the pod's service account. */
  outOfCluster: ["KUBECONFIG_PATH"],
  /** The Secret's keys the Deployment mounts as files (the migration Job mounts only DATABASE_URL). */
  apiSecretFiles: ["DATABASE_URL", "JWT_SECRET", "ADMIN_PASSWORD", "CREDENTIALS_KEY"],
  migrateSecretFiles: ["DATABASE_URL"],
} as const;

type EnvList = Array<{ name: string; value?: string }>;

/** What k8s/ and the Dockerfile say, read from the files. */
export interface Manifests {
  image: { env: Record<string, string>; cmd: string[] };
  migrateJob: { env: Record<string, string>; args: string[]; secretMountPath: string; secretFiles: string[] };
  configMap: Record<string, string>;
  deployment: {
    env: Record<string, string>;
    args: string[];
    secretMountPath: string;
    terminationGracePeriodSeconds: number;
  };
  /** Keys of the example Secret (the real one has the same keys). */
  secretKeys: string[];
}

function envRecord(list: EnvList | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of list ?? []) {
    if (e.value === undefined) throw new Error(`env ${e.name}: only plain values are understood (no valueFrom)`);
    out[e.name] = e.value;
  }
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are read as plain YAML and checked by shape.
function container(doc: any): any {
  const c = doc?.spec?.template?.spec?.containers;
  if (!Array.isArray(c) || c.length !== 1) throw new Error(`${doc?.kind}: expected exactly one container`);
  return c[0];
}

// biome-ignore lint/suspicious/noExplicitAny: see above.
function secretMount(doc: any, c: any): { mountPath: string; files: string[] | undefined } {
  const volumes = doc.spec.template.spec.volumes as Array<{ name: string; secret?: { items?: Array<{ key: string; path: string }> } }>;
  const vol = volumes.find((v) => v.secret);
  if (!vol?.secret) throw new Error(`${doc.kind}: no Secret volume`);
  const mount = (c.volumeMounts as Array<{ name: string; mountPath: string }>).find((m) => m.name === vol.name);
  if (!mount) throw new Error(`${doc.kind}: the Secret volume is not mounted`);
  for (const i of vol.secret.items ?? []) if (i.key !== i.path) throw new Error(`${doc.kind}: Secret item ${i.key} is renamed`);
  return { mountPath: mount.mountPath, files: vol.secret.items?.map((i) => i.key) };
}

export function readManifests(root: string): Manifests {
  const y = (f: string) => parse(readFileSync(path.join(root, "k8s", f), "utf8"));
  const runtime = imageRuntime(readDockerfile(path.join(root, "Dockerfile")));
  const job = y("migrate-job.yaml");
  const jobC = container(job);
  const jobSecrets = secretMount(job, jobC);
  const dep = y("deployment.yaml");
  const depC = container(dep);
  const depSecrets = secretMount(dep, depC);
  const secretKeys = Object.keys(y("secret.example.yaml").stringData ?? {});
  return {
    image: { env: runtime.env, cmd: runtime.cmd },
    migrateJob: {
      env: envRecord(jobC.env),
      args: jobC.args,
      secretMountPath: jobSecrets.mountPath,
      secretFiles: jobSecrets.files ?? secretKeys,
    },
    configMap: y("configmap.yaml").data,
    deployment: {
      env: envRecord(depC.env),
      args: depC.args,
      secretMountPath: depSecrets.mountPath,
      terminationGracePeriodSeconds: dep.spec.template.spec.terminationGracePeriodSeconds,
    },
    secretKeys: depSecrets.files ?? secretKeys,
  };
}

const sorted = (keys: Iterable<string>) => [...keys].sort();

/** Differences between the declared key lists and the manifests (empty when they agree). */
export function drift(m: Manifests): string[] {
  const problems: string[] = [];
  const same = (what: string, declared: readonly string[], actual: Iterable<string>) => {
    const a = sorted(actual);
    const d = sorted(declared);
    if (JSON.stringify(a) !== JSON.stringify(d))
      problems.push(`${what}: declared [${d.join(", ")}], k8s/Dockerfile have [${a.join(", ")}]`);
  };
  same("image ENV", DECLARED.image, Object.keys(m.image.env));
  same("migrate Job env", DECLARED.migrateJob, Object.keys(m.migrateJob.env));
  same("ConfigMap data", DECLARED.configMap, Object.keys(m.configMap));
  same("Deployment env", DECLARED.deployment, Object.keys(m.deployment.env));
  same("Deployment secret files", DECLARED.apiSecretFiles, m.secretKeys);
  same("migrate Job secret files", DECLARED.migrateSecretFiles, m.migrateJob.secretFiles);
  return problems;
}

/** The mount path's files moved to `dir` (e.g. /var/run/secrets/minispod/JWT_SECRET -> <dir>/JWT_SECRET). */
function remount(value: string, mountPath: string, dir: string): string {
  return value.startsWith(`${mountPath}/`) ? path.join(dir, value.slice(mountPath.length + 1)) : value;
}

export interface Placement {
  /** Where the Secret's files are (instead of the mount path); undefined keeps the manifests' paths (container). */
  secretsDir?: string;
  /** Values that must differ outside a pod (a free port, a private DATA_DIR, loopback only). */
  overrides?: Record<string, string>;
}

function place(env: Record<string, string>, mountPath: string, p: Placement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = p.secretsDir && k.endsWith("_FILE") ? remount(v, mountPath, p.secretsDir) : v;
  for (const [k, v] of Object.entries(p.overrides ?? {})) {
    if (!(k in out)) throw new Error(`override of ${k}, which the manifests do not set`);
    out[k] = v;
  }
  return out;
}

/** The migration's environment: the image's ENV, then the Job's env (the Job wins, as in Kubernetes). */
export function migrateEnvironment(m: Manifests, p: Placement): Record<string, string> {
  return place({ ...m.image.env, ...m.migrateJob.env }, m.migrateJob.secretMountPath, p);
}

/** The API's environment: the image's ENV, the ConfigMap, the Deployment's env, and the kubeconfig. */
export function apiEnvironment(m: Manifests, p: Placement & { kubeconfigPath: string }): Record<string, string> {
  const env = place({ ...m.image.env, ...m.configMap, ...m.deployment.env }, m.deployment.secretMountPath, p);
  return { ...env, KUBECONFIG_PATH: p.kubeconfigPath };
}

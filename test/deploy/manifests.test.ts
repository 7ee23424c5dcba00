/**
 * k8s/: the control plane's own manifests validate against the upstream schemas (kubernetes-models,
 * through the same validateManifest the templates use: schema, unknown fields, names, Pod Security
 * `restricted`), and agree with each other, with the configuration schema and with the Dockerfile.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { manifestProblems, type ModelRegistry } from "../../src/kube/manifest-validation.js";
import { READY_DB_TIMEOUT_MS } from "../../src/platform/readiness.js";
import type { KubeObject } from "../../src/kube/objects.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Kinds only the control plane's own manifests use: the product never applies them, so src/ has no schema for them. */
const CONTROL_PLANE_MODELS: ModelRegistry = {
  "batch/v1/Job": Job,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy": ValidatingAdmissionPolicy,
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": ValidatingAdmissionPolicyBinding,
};
const K8S = path.join(ROOT, "k8s");

// biome-ignore lint/suspicious/noExplicitAny: YAML documents are inspected freely in assertions.
type Obj = { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } } & Record<string, any>;

function load(file: string): Obj[] {
  return parseAllDocuments(readFileSync(path.join(K8S, file), "utf8")).map((d) => {
    expect(d.errors, file).toEqual([]);
    return d.toJSON() as Obj;
  });
}

const files = readdirSync(K8S).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
const all = files.flatMap((f) => load(f).map((o) => ({ file: f, o })));
const find = (kind: string, name?: string) => {
  const hit = all.find(({ o }) => o.kind === kind && (!name || o.metadata?.name === name));
  if (!hit) throw new Error(`no ${kind} ${name ?? ""} in k8s/`);
  return hit.o;
};

describe("k8s/ manifests", () => {
  it("has every object the control plane needs", () => {
    expect(all.map(({ o }) => `${o.kind}/${o.metadata?.name}`).sort()).toEqual(
      [
        "ClusterRole/minispod-control-plane",
        "ClusterRoleBinding/minispod-control-plane",
        "ConfigMap/minispod-config",
        "Deployment/minispod-control-plane",
        "Job/minispod-migrate",
        "Namespace/minispod-system",
        "PodDisruptionBudget/minispod-control-plane",
        "Secret/minispod-secrets",
        "Service/minispod-control-plane",
        "ServiceAccount/minispod-control-plane",
        "ValidatingAdmissionPolicy/minispod-control-plane-fence",
        "ValidatingAdmissionPolicyBinding/minispod-control-plane-fence",
      ].sort(),
    );
  });

  it.each(all.map(({ file, o }) => [`${file}: ${o.kind}/${o.metadata?.name}`, o] as const))("%s validates", (_name, o) => {
    expect(manifestProblems(o as KubeObject, CONTROL_PLANE_MODELS)).toEqual([]);
  });

  it("the validator does catch a broken manifest (so the checks above can fail)", () => {
    const bad = structuredClone(find("Deployment"));
    bad.spec.replicas = "two";
    bad.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true;
    bad.spec.template.spec.containers[0].bogus = 1;
    const reasons = manifestProblems(bad as KubeObject, CONTROL_PLANE_MODELS).map((c) => c.field ?? c.message);
    expect(reasons.length).toBeGreaterThanOrEqual(3);
  });

  it("kustomization.yaml lists every manifest except the example Secret and the one-off Job", () => {
    const k = load("kustomization.yaml")[0] as unknown as { resources: string[] };
    expect(k.resources.sort()).toEqual(files.filter((f) => f !== "secret.example.yaml" && f !== "migrate-job.yaml").sort());
  });

  it("everything namespaced lives in minispod-system", () => {
    for (const { o } of all) {
      if (
        ["Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].includes(o.kind)
      )
        expect(o.metadata?.namespace).toBeUndefined();
      else expect(o.metadata?.namespace, `${o.kind}/${o.metadata?.name}`).toBe("minispod-system");
    }
  });

  it("the Deployment: 2 replicas, probes on /healthz and /readyz, restricted security context, resources, secrets as files", () => {
    const d = find("Deployment");
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe(find("ServiceAccount").metadata?.name);
    const c = pod.containers[0];
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    // The probe outlasts /readyz's one bounded database try (1 s) by one second, and fits in its period.
    expect(c.readinessProbe.timeoutSeconds).toBe(Math.ceil(READY_DB_TIMEOUT_MS / 1000) + 1);
    expect(c.readinessProbe.timeoutSeconds).toBeLessThan(c.readinessProbe.periodSeconds);
    expect(c.ports).toEqual([{ name: "http", containerPort: 3000, protocol: "TCP" }]);
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      fsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    // No secret values in env: secrets are mounted files read through <NAME>_FILE.
    expect(JSON.stringify(c.env ?? [])).not.toMatch(/DATABASE_URL|JWT_SECRET|ADMIN_PASSWORD|CREDENTIALS_KEY/);
    expect(pod.volumes.find((v: any) => v.name === "secrets").secret.secretName).toBe(find("Secret").metadata?.name);
    expect(c.envFrom).toEqual([{ configMapRef: { name: find("ConfigMap").metadata?.name } }]);
    const svc = find("Service");
    expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
    expect(svc.spec.ports[0].targetPort).toBe("http");
    expect(find("PodDisruptionBudget").spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
  });

  it("the migration Job runs the migrate entry with the same image and user", () => {
    const job = find("Job").spec.template.spec;
    const d = find("Deployment").spec.template.spec;
    expect(job.containers[0].image).toBe(d.containers[0].image);
    expect(job.containers[0].args).toEqual(["node", "dist/migrate.js"]);
    expect(d.containers[0].args).toEqual([
      "node",
      "--heap-growing-percent=20",
      "--max-semi-space-size=8",
      "--no-allocation-site-pretenuring",
      "--liftoff-only",
      "dist/index.js",
    ]);
    // One argv for the server wherever it starts: the image's CMD, the Deployment and `npm run start:prod`.
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(pkg.scripts["start:prod"]).toBe(d.containers[0].args.join(" "));
    expect(job.restartPolicy).toBe("Never");
    expect(job.securityContext.runAsUser).toBe(d.securityContext.runAsUser);
  });

  it("the ConfigMap holds only known, non-secret settings, and with the Secret makes a valid production config", () => {
    const env = readFileSync(path.join(ROOT, ".env.example"), "utf8");
    const known = new Set([...env.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const n of ["DATABASE_URL", "JWT_SECRET", "ADMIN_PASSWORD", "CREDENTIALS_KEY"]) known.add(`${n}_FILE`);
    const data = find("ConfigMap").data as Record<string, string>;
    expect(Object.keys(data).filter((k) => !known.has(k))).toEqual([]);
    expect(Object.keys(data).filter((k) => /^(DATABASE_URL|JWT_SECRET|ADMIN_PASSWORD|CREDENTIALS_KEY)$/.test(k))).toEqual([]);
    const secret = find("Secret").stringData as Record<string, string>;
    expect(Object.keys(secret).sort()).toEqual(["ADMIN_PASSWORD", "CREDENTIALS_KEY", "DATABASE_URL", "JWT_SECRET"]);
    for (const v of Object.values(secret)) expect(v).toMatch(/CHANGE-ME/);
    const { DATABASE_URL_FILE: _a, JWT_SECRET_FILE: _b, ADMIN_PASSWORD_FILE: _c, CREDENTIALS_KEY_FILE: _d, ...rest } = data;
    const config = loadConfig({ ...rest, ...secret });
    expect(config.isProduction).toBe(true);
    expect(config.kube.mode).toBe("cluster");
    expect(config.http.port).toBe(find("Deployment").spec.template.spec.containers[0].ports[0].containerPort);
  });

  it("the Dockerfile matches: multi-stage, the one supported Node.js major, non-root numeric user of the manifests, port, entry", () => {
    const df = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
    const froms = [...df.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1] as string);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    // One supported Node.js: the image's major is the one package.json's engines allow (and CI runs).
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const engines = pkg.engines.node as string;
    for (const w of readdirSync(path.join(ROOT, "packages"))) {
      expect(JSON.parse(readFileSync(path.join(ROOT, "packages", w, "package.json"), "utf8")).engines.node, w).toBe(engines);
    }
    const major = /^\^(\d+)\.\d+\.\d+$/.exec(engines)?.[1];
    expect(major, `engines.node "${engines}" names one major`).toBeDefined();
    for (const f of froms) expect(f).toMatch(new RegExp(`^node:${major}[.-]`));
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toContain(`Node.js ${major} (>= ${engines.slice(1).replace(/\.0$/, "")}`);
    const user = [...df.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]).at(-1);
    const pod = find("Deployment").spec.template.spec;
    expect(user).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    expect(df).toMatch(/^EXPOSE 3000$/m);
    // Two malloc arenas and a fixed mmap threshold (Dockerfile: why); the benchmarks' API process starts
    // from the image's ENV too.
    expect(df).toMatch(/^\s+MALLOC_ARENA_MAX=2 \\$/m);
    expect(df).toMatch(/^\s+MALLOC_MMAP_THRESHOLD_=131072$/m);
    expect(df).toMatch(
      /^CMD \["node", "--heap-growing-percent=20", "--max-semi-space-size=8", "--no-allocation-site-pretenuring", "--liftoff-only", "dist\/index\.js"\]$/m,
    );
    expect(df).toMatch(/npm ci/);
    expect(df).toMatch(/npm run build/);
    expect(df).toMatch(/npm prune --omit=dev/);
    expect(df).toMatch(/COPY --from=build \/app\/prisma\/migrations \.\/prisma\/migrations/);
  });
});

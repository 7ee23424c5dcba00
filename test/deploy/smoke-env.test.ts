/**
 * The production smoke test (scripts/smoke-prod/) gives its processes exactly the environment keys
 * k8s/ and the Dockerfile give them: the declared lists in scripts/smoke-prod/env.ts are compared here
 * with the YAML (read independently of the script's own reader), so the two cannot drift apart.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseDockerfile } from "../../scripts/smoke-prod/dockerfile.js";
import { apiEnvironment, DECLARED, drift, migrateEnvironment, readManifests } from "../../scripts/smoke-prod/env.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const yaml = (f: string) => parse(readFileSync(path.join(ROOT, "k8s", f), "utf8"));
const names = (env: Array<{ name: string }> | undefined) => (env ?? []).map((e) => e.name).sort();
const sorted = (a: readonly string[]) => [...a].sort();

/** The runtime stage's ENV keys, read with a plain regex (not the script's parser). */
function dockerfileEnvKeys(): string[] {
  const df = readFileSync(path.join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const runtime = df.slice(df.lastIndexOf("\nFROM "));
  return [...runtime.matchAll(/^ENV\s+(.*)$/gm)]
    .flatMap((m) => [...(m[1] as string).matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((k) => k[1] as string))
    .sort();
}

describe("the production smoke test's environment", () => {
  const deployment = yaml("deployment.yaml").spec.template.spec;
  const job = yaml("migrate-job.yaml").spec.template.spec;

  it("declares exactly the keys of the Dockerfile, the ConfigMap, the Deployment and the migrate Job", () => {
    expect(sorted(DECLARED.image)).toEqual(dockerfileEnvKeys());
    expect(sorted(DECLARED.configMap)).toEqual(Object.keys(yaml("configmap.yaml").data).sort());
    expect(sorted(DECLARED.deployment)).toEqual(names(deployment.containers[0].env));
    expect(deployment.containers[0].envFrom).toEqual([{ configMapRef: { name: yaml("configmap.yaml").metadata.name } }]);
    expect(sorted(DECLARED.migrateJob)).toEqual(names(job.containers[0].env));
    expect(job.containers[0].envFrom).toBeUndefined();
    expect(sorted(DECLARED.migrateSecretFiles)).toEqual(job.volumes[0].secret.items.map((i: { key: string }) => i.key).sort());
    expect(deployment.volumes.find((v: { secret?: object }) => v.secret).secret.items).toBeUndefined();
    expect(sorted(DECLARED.apiSecretFiles)).toEqual(Object.keys(yaml("secret.example.yaml").stringData).sort());
    expect(drift(readManifests(ROOT))).toEqual([]);
  });

  it("gives the migration the image's ENV and the Job's env, nothing more", () => {
    const env = migrateEnvironment(readManifests(ROOT), { secretsDir: "/tmp/s" });
    expect(Object.keys(env).sort()).toEqual(sorted([...DECLARED.image, ...DECLARED.migrateJob]));
    expect(env.DATABASE_URL_FILE).toBe("/tmp/s/DATABASE_URL");
    expect(env.NODE_ENV).toBe("production");
  });

  it("gives the API the image's ENV, the ConfigMap, the Deployment's env and the kubeconfig, nothing more", () => {
    const m = readManifests(ROOT);
    const env = apiEnvironment(m, { secretsDir: "/tmp/s", kubeconfigPath: "/tmp/kubeconfig", overrides: { PORT: "4321" } });
    expect(Object.keys(env).sort()).toEqual(
      [...new Set([...DECLARED.image, ...DECLARED.configMap, ...DECLARED.deployment, ...DECLARED.outOfCluster])].sort(),
    );
    expect(env).toMatchObject({
      NODE_ENV: "production",
      K8S_MODE: "cluster",
      PORT: "4321",
      KUBECONFIG_PATH: "/tmp/kubeconfig",
      JWT_SECRET_FILE: "/tmp/s/JWT_SECRET",
      DATA_DIR: deployment.containers[0].env[0].value,
    });
    // In a container, the manifests' own mount paths are kept.
    expect(apiEnvironment(m, { kubeconfigPath: "/k" }).ADMIN_PASSWORD_FILE).toBe(yaml("configmap.yaml").data.ADMIN_PASSWORD_FILE);
    expect(() => apiEnvironment(m, { kubeconfigPath: "/k", overrides: { NOT_IN_K8S: "1" } })).toThrow("override of NOT_IN_K8S");
  });

  it("reports drift: a key added to the ConfigMap but not declared", () => {
    const m = readManifests(ROOT);
    m.configMap = { ...m.configMap, METRICS_TOKEN_FILE: "/var/run/secrets/minispod/METRICS_TOKEN" };
    expect(drift(m)).toEqual([
      `ConfigMap data: declared [${sorted(DECLARED.configMap).join(", ")}], k8s/Dockerfile have [${[...sorted(DECLARED.configMap), "METRICS_TOKEN_FILE"].sort().join(", ")}]`,
    ]);
  });

  it("runs the Dockerfile's build steps in its order, and its runtime ENV and CMD", () => {
    const stages = parseDockerfile(readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
    expect(stages.map((s) => s.name)).toEqual(["build", "runtime"]);
    const runs = stages[0]?.steps.filter((s) => s.op === "RUN").map((s) => (s as { command: string }).command);
    expect(runs).toEqual(["npm ci --no-audit --no-fund", "npm run build && npm prune --omit=dev"]);
    expect(() => parseDockerfile("FROM node:20\nADD x y\n")).toThrow('does not know "ADD"');
  });
});

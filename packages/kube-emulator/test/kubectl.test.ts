// Fidelity: the real kubectl drives the emulator (get namespaces, apply --server-side, get pods,
// logs, rollout status, delete). kubectl is taken from PATH, else extracted from Debian's
// `kubernetes-client` package into a cache directory; the suite is skipped, saying why, only when
// neither works.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

const run = promisify(execFile);

function works(bin: string): boolean {
  try {
    execFileSync(bin, ["version", "--client"], {
      stdio: "ignore",
      timeout: 20_000,
    });
    return true;
  } catch {
    return false;
  }
}

function findKubectl(): { bin?: string; why: string } {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const bin = join(dir, "kubectl");
    if (dir && existsSync(bin) && works(bin)) return { bin, why: "PATH" };
  }
  const cache = join(tmpdir(), "minispod-kubectl");
  const extracted = join(cache, "usr", "bin", "kubectl");
  if (existsSync(extracted) && works(extracted)) return { bin: extracted, why: "cache" };
  try {
    mkdirSync(cache, { recursive: true });
    execFileSync("apt-get", ["download", "kubernetes-client"], {
      cwd: cache,
      stdio: "ignore",
      timeout: 180_000,
    });
    const deb = readdirSync(cache).find((f) => f.startsWith("kubernetes-client") && f.endsWith(".deb"));
    if (!deb) return { why: "apt-get download kubernetes-client produced no package" };
    execFileSync("dpkg-deb", ["-x", join(cache, deb), cache], {
      stdio: "ignore",
      timeout: 60_000,
    });
    if (existsSync(extracted) && works(extracted)) return { bin: extracted, why: "debian" };
    return { why: "the extracted Debian kubectl does not run" };
  } catch (err) {
    return {
      why: `kubectl is not on PATH and extracting Debian's kubernetes-client failed: ${(err as Error).message}`,
    };
  }
}

const found = findKubectl();
if (!found.bin) console.warn(`kubectl fidelity test skipped: ${found.why}`);

describe.skipIf(!found.bin)(`kubectl against the emulator (${found.bin ?? "kubectl unavailable"})`, () => {
  const kubectl = found.bin as string;
  let kube: KubeEmulator;
  let kubeconfig: string;
  let extraApplyArgs: string[] = [];

  const k = async (...args: string[]) => {
    const { stdout } = await run(kubectl, ["--kubeconfig", kubeconfig, ...args], { timeout: 60_000 });
    return stdout;
  };

  beforeAll(async () => {
    kube = await KubeEmulator.start({ podReadyDelayMs: 300 });
    kubeconfig = join(tmpdir(), `minispod-emulator-kubeconfig-${process.pid}`);
    await kube.writeKubeconfig(kubeconfig);
    // kubectl older than 1.27 validates client-side against /openapi/v2, which the emulator does
    // not serve; newer ones ask the server (fieldValidation) after reading /openapi/v3.
    const version = JSON.parse(execFileSync(kubectl, ["version", "--client", "-o", "json"]).toString()) as {
      clientVersion: { minor: string };
    };
    if (Number.parseInt(version.clientVersion.minor, 10) < 27) extraApplyArgs = ["--validate=false"];
  });
  afterAll(async () => {
    await kube.stop();
  });

  it("gets namespaces, applies a Deployment server-side, waits for the rollout, reads logs and deletes it", async () => {
    const namespaces = await k("get", "namespaces");
    expect(namespaces).toMatch(/^NAME\s+STATUS\s+AGE/);
    expect(namespaces).toMatch(/\ndefault\s+Active\s/);

    const manifest = join(tmpdir(), `minispod-kubectl-${process.pid}.yaml`);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      manifest,
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: blog, namespace: default, labels: {app: blog}}",
        "spec:",
        "  replicas: 2",
        "  selector: {matchLabels: {app: blog}}",
        "  template:",
        "    metadata: {labels: {app: blog}}",
        "    spec: {containers: [{name: ghost, image: 'ghost:5', ports: [{containerPort: 2368}]}]}",
        "",
      ].join("\n"),
    );
    expect(await k("apply", "--server-side", ...extraApplyArgs, "-f", manifest)).toMatch(/deployment\.apps\/blog serverside-applied/);
    const live = kube.getObject("apps/v1", "Deployment", "default", "blog");
    expect(live?.metadata.managedFields?.map((m) => [m.manager, m.operation])).toEqual([["kubectl", "Apply"]]);

    const rollout = await k("rollout", "status", "deployment/blog", "--timeout=30s");
    expect(rollout).toMatch(/deployment "blog" successfully rolled out/);

    const pods = await k("get", "pods", "-l", "app=blog");
    const rows = pods.trim().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
    expect(rows.slice(1)).toHaveLength(2);
    for (const row of rows.slice(1)) expect(row).toMatch(/^blog-[a-z0-9]{10}-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s/);

    const podName = rows[1].split(/\s+/)[0];
    const logs = await k("logs", podName, "--tail=2");
    expect(logs.trim().split("\n")).toHaveLength(2);
    expect(await k("logs", podName)).toMatch(/^\[INFO\] Ghost is running in production\.\.\./);

    // Re-applying the same manifest changes nothing.
    const rv = kube.getObject("apps/v1", "Deployment", "default", "blog")?.metadata.resourceVersion;
    await k("apply", "--server-side", ...extraApplyArgs, "-f", manifest);
    expect(kube.getObject("apps/v1", "Deployment", "default", "blog")?.metadata.resourceVersion).toBe(rv);

    expect(await k("delete", "deployment", "blog")).toMatch(/deployment\.apps "blog" deleted/);
    await kube.settle();
    expect(
      kube.listObjects("v1", "Pod", {
        namespace: "default",
        labelSelector: "app=blog",
      }),
    ).toEqual([]);
    expect(kube.recorder.unknownRoutes().map((c) => `${c.method} ${c.path}`)).toEqual([]);
  });
});

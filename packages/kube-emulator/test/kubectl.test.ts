// Fidelity: the real kubectl drives the emulator as a new user would — apply -f, get -o json,
// explain, create configmap, describe (Events), logs, logs --previous, rollout status / history /
// undo, apply --server-side, delete — with the OLDEST and the NEWEST kubectl found on the machine:
// the versioned binaries beside the kubectl on PATH (a dispatcher with kubectl.1.27 … kubectl.1.33
// on this machine image), that kubectl itself, and Debian's kubernetes-client (1.20) if it has been
// extracted into the cache directory (`apt-get download kubernetes-client && dpkg-deb -x`). Only
// when none is found does it try that extraction itself; it skips, saying why, only when nothing works.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

const run = promisify(execFile);
const CACHE = join(tmpdir(), "minispod-kubectl");
const DEBIAN_KUBECTL = join(CACHE, "usr", "bin", "kubectl");

interface Kubectl {
  bin: string;
  minor: number;
  version: string;
}

function probe(bin: string): Kubectl | undefined {
  try {
    const out = execFileSync(bin, ["version", "--client", "-o", "json"], { timeout: 20_000, stdio: ["ignore", "pipe", "ignore"] });
    const v = (JSON.parse(out.toString()) as { clientVersion: { major: string; minor: string; gitVersion: string } }).clientVersion;
    return { bin, minor: Number.parseInt(v.minor, 10), version: v.gitVersion };
  } catch {
    return undefined;
  }
}

function candidates(): string[] {
  const out: string[] = [];
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const bin = join(dir, "kubectl");
    if (!dir || !existsSync(bin)) continue;
    out.push(bin);
    try {
      const real = dirname(realpathSync(bin));
      for (const f of readdirSync(real)) if (/^kubectl\.\d+\.\d+$/.test(f)) out.push(join(real, f));
    } catch {
      // an unreadable directory adds nothing
    }
  }
  if (existsSync(DEBIAN_KUBECTL)) out.push(DEBIAN_KUBECTL);
  return [...new Set(out)];
}

function extractDebian(): string {
  try {
    mkdirSync(CACHE, { recursive: true });
    execFileSync("apt-get", ["download", "kubernetes-client"], { cwd: CACHE, stdio: "ignore", timeout: 180_000 });
    const deb = readdirSync(CACHE).find((f) => f.startsWith("kubernetes-client") && f.endsWith(".deb"));
    if (!deb) return "apt-get download kubernetes-client produced no package";
    execFileSync("dpkg-deb", ["-x", join(CACHE, deb), CACHE], { stdio: "ignore", timeout: 60_000 });
    return "";
  } catch (err) {
    return `no kubectl on PATH and extracting Debian's kubernetes-client failed: ${(err as Error).message}`;
  }
}

function findKubectls(): { found: Kubectl[]; why: string } {
  let found = candidates()
    .map(probe)
    .filter((k): k is Kubectl => !!k);
  let why = "";
  if (found.length === 0) {
    why = extractDebian();
    found = candidates()
      .map(probe)
      .filter((k): k is Kubectl => !!k);
  }
  found.sort((a, b) => a.minor - b.minor);
  const picked = found.length > 1 ? [found[0], found[found.length - 1]] : found;
  return { found: picked.filter((k, i) => picked.findIndex((o) => o.minor === k.minor) === i), why: why || "no working kubectl found" };
}

const { found, why } = findKubectls();
if (found.length === 0) console.warn(`kubectl fidelity test skipped: ${why}`);

const MANIFEST = `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, labels: {app: web}}
data: {greeting: hello}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'busybox:1.36', ports: [{containerPort: 8080}]}]}
`;

if (found.length === 0) {
  describe.skip(`kubectl against the emulator (skipped: ${why})`, () => {
    it("drives the emulator with the oldest and the newest kubectl", () => {});
  });
}

for (const kubectl of found) describe(`kubectl ${kubectl.version} against the emulator`, () => drive(kubectl));

function drive(kubectl: Kubectl): void {
  let kube: KubeEmulator;
  let kubeconfig: string;
  let manifest: string;

  const k = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(kubectl.bin, ["--kubeconfig", kubeconfig, ...args], { timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await k(...args);
    expect(r.stderr, `kubectl ${args.join(" ")}`).not.toMatch(/^error|Error from server/m);
    expect(r.code, `kubectl ${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    kube = await KubeEmulator.start({ podReadyDelayMs: 300 });
    const base = join(tmpdir(), `minispod-kubectl-${process.pid}-${kubectl.minor}`);
    kubeconfig = `${base}.kubeconfig`;
    manifest = `${base}.yaml`;
    await kube.writeKubeconfig(kubeconfig);
    writeFileSync(manifest, MANIFEST);
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it("applies a manifest (client-side validation against the server's OpenAPI), reads it back and explains it", async () => {
    const applied = await ok("apply", "-f", manifest);
    expect(applied).toMatch(/^configmap\/web-config created$/m);
    expect(applied).toMatch(/^service\/web created$/m);
    expect(applied).toMatch(/^deployment\.apps\/web created$/m);

    const d = JSON.parse(await ok("get", "deployment", "web", "-o", "json")) as {
      kind: string;
      metadata: { annotations: Record<string, string> };
      spec: { replicas: number };
    };
    expect(d.kind).toBe("Deployment");
    expect(d.spec.replicas).toBe(2);
    expect(d.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain('"name":"web"');

    const explained = await ok("explain", "deployment.spec.replicas");
    expect(explained).toMatch(/FIELD:\s+replicas\s+<integer>/);
    expect(explained).toContain("Number of desired pods.");

    // Strict validation (server-side where the server offers fieldValidation, else client-side).
    writeFileSync(`${manifest}.bad`, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: b}\nbogus: 1\n");
    const bad = await k("apply", "-f", `${manifest}.bad`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown field "bogus"/);

    expect(await ok("create", "configmap", "extra", "--from-literal=k=v")).toMatch(/^configmap\/extra created$/m);
    expect(kube.getObject("v1", "ConfigMap", "default", "extra")?.data).toEqual({ k: "v" });
    // kubectl 1.32+ sends these typed creates as protobuf.
    expect(await ok("create", "deployment", "extra", "--image=busybox:1.36", "--replicas=0")).toMatch(/^deployment\.apps\/extra created$/m);
    expect(kube.getObject("apps/v1", "Deployment", "default", "extra")?.spec).toMatchObject({ replicas: 0 });
    expect(await ok("create", "service", "clusterip", "extra", "--tcp=80:8080")).toMatch(/^service\/extra created$/m);
  });

  it("rolls out, describes with Events, serves logs and refuses --previous as the kubelet does", async () => {
    expect(await ok("rollout", "status", "deployment/web", "--timeout=30s")).toMatch(/deployment "web" successfully rolled out/);
    const described = await ok("describe", "deployment", "web");
    expect(described).toMatch(/ScalingReplicaSet\s+.*Scaled up replica set web-[a-z0-9]+ from 0 to 2/);

    const pods = (await ok("get", "pods", "-l", "app=web", "-o", "name")).trim().split("\n");
    expect(pods).toHaveLength(2);
    const pod = pods[0].replace("pod/", "");
    const podDescribed = await ok("describe", "pod", pod);
    expect(podDescribed).toMatch(/Scheduled\s+.*default-scheduler\s+Successfully assigned default\/web-/);
    expect(podDescribed).toMatch(/Started\s+.*kubelet\s+Started container web/);
    expect(podDescribed).toMatch(/Image ID:\s+docker\.io\/library\/busybox@sha256:[0-9a-f]{64}\n/);
    expect(podDescribed).toMatch(/Container ID:\s+containerd:\/\/[0-9a-f]{64}\n/);

    expect((await ok("logs", pod)).trim().length).toBeGreaterThan(0);
    const previous = await k("logs", pod, "--previous");
    expect(previous.code).toBe(1);
    expect(previous.stderr).toContain(`previous terminated container "web" in pod "${pod}" not found`);
  });

  it("keeps revisions: rollout history lists them and rollout undo goes back", async () => {
    await ok("set", "image", "deployment/web", "web=busybox:1.37");
    await ok("rollout", "status", "deployment/web", "--timeout=30s");
    expect(await ok("rollout", "history", "deployment/web")).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/);
    expect(await ok("rollout", "undo", "deployment/web")).toMatch(/deployment\.apps\/web rolled back/);
    await ok("rollout", "status", "deployment/web", "--timeout=30s");
    expect(await ok("rollout", "history", "deployment/web")).toMatch(/REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n/);
    const image = await ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}");
    expect(image).toBe("busybox:1.36");
    expect(kube.listObjects("apps/v1", "ReplicaSet", { namespace: "default", labelSelector: "app=web" })).toHaveLength(2);
  });

  it("applies server-side, deletes everything, and never hit an unknown route", async () => {
    expect(await ok("apply", "--server-side", "--force-conflicts", "-f", manifest)).toMatch(/deployment\.apps\/web serverside-applied/);
    const deleted = await ok("delete", "-f", manifest);
    expect(deleted).toMatch(/deployment\.apps "web" deleted/);
    expect(deleted).toMatch(/service "web" deleted/);
    // The garbage collector deletes the pods gracefully; the kubelet removes them once stopped.
    await kube.fastForward();
    expect(kube.listObjects("v1", "Pod", { namespace: "default", labelSelector: "app=web" })).toEqual([]);
    expect(kube.recorder.unknownRoutes().map((c) => `${c.method} ${c.path}`)).toEqual([]);
  });
}

/**
 * Contract tests of the cluster client. By default they run against the built-in Kubernetes API
 * emulator; the same suite runs against a real cluster (kind, k3d) with
 *   KUBE_CONTRACT_KUBECONFIG=~/.kube/config npx vitest run test/kube/client.contract
 * (or KUBE_CONTRACT=real with $KUBECONFIG). Each run works in its own namespaces and deletes them.
 * Tests that need the emulator's controls (fault injection, metrics on/off) are skipped on a real
 * cluster; everything else asserts only what both must do.
 */
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type {
  LiveConfigMap,
  LiveDeployment,
  LiveNamespace,
  LivePersistentVolumeClaim,
  LivePod,
  LiveSecret,
} from "../../src/kube/objects.js";
import type { IDeployment } from "kubernetes-models/apps/v1";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeCallResult, KubeClient, type KubeVerb, createKubeConfig } from "../../src/kube/client.js";
import { KubeEmulator } from "@minispod/kube-emulator";
import {
  InvalidManifestError,
  KubeConflictError,
  KubeForbiddenError,
  KubeNamespaceTerminatingError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeTimeoutError,
  KubeUnavailableError,
} from "../../src/kube/kube-errors.js";
import { renderInstance, renderTenant, type ServiceTemplate, userSelector } from "../../src/kube/templates/index.js";
import type { KubeObject } from "../../src/kube/objects.js";
import { appliedFieldsHash } from "../../src/kube/ownership.js";
import {
  deleteNamespaceAndWait,
  ensureTenant,
  podStatusSummary,
  restartWorkload,
  scaleWorkload,
  thirdPartyKubeConfig,
  waitForRollout,
} from "./helpers/workload-ops.js";

const REAL = Boolean(process.env.KUBE_CONTRACT_KUBECONFIG) || process.env.KUBE_CONTRACT === "real";
const RUN = `c${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const NS = `user-${RUN}`;
const USER = RUN;
/** Real clusters pull images and schedule pods: give them minutes, the emulator milliseconds. */
const WAIT = REAL ? 180_000 : 5_000;
const RUN_IMAGE = "busybox:1.36";
const BAD_IMAGE = "registry.invalid/minispod-contract:bad";
const CRASH_ANNOTATION = KubeEmulator.crashAnnotation;

let emulator: KubeEmulator | undefined;
let client: KubeClient;
const calls: { verb: KubeVerb; resource: string; result: KubeCallResult }[] = [];

function kubeConfig(overrideYaml?: string) {
  if (overrideYaml) return createKubeConfig({ mode: "emulated", kubeconfigYaml: overrideYaml });
  if (REAL)
    return createKubeConfig({
      mode: "cluster",
      ...(process.env.KUBE_CONTRACT_KUBECONFIG ? { kubeconfigPath: process.env.KUBE_CONTRACT_KUBECONFIG } : {}),
    });
  return createKubeConfig({ mode: "emulated", kubeconfigYaml: emulator!.kubeconfigYaml() });
}

/** The same cluster for client-node (the patches the product never sends). */
function thirdPartyConfig() {
  if (REAL) return thirdPartyKubeConfig({ path: process.env.KUBE_CONTRACT_KUBECONFIG });
  return thirdPartyKubeConfig({ yaml: emulator!.kubeconfigYaml() });
}

function newClient(opts: { maxAttempts?: number; requestTimeoutMs?: number; yaml?: string } = {}) {
  return new KubeClient({
    kubeConfig: kubeConfig(opts.yaml),
    retry: { maxAttempts: opts.maxAttempts ?? 3, baseDelayMs: 5, maxDelayMs: 20 },
    requestTimeoutMs: opts.requestTimeoutMs ?? (REAL ? 30_000 : 2_000),
    onCall: (verb, resource, result) => calls.push({ verb, resource, result }),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns a truthy value (and return it), or fail after `timeoutMs`. */
async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = WAIT, pollMs = REAL ? 1000 : 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await sleep(pollMs);
  }
}

/** A small restricted-compliant Deployment that runs anywhere (busybox printing a line every 200 ms). */
function workload(
  name: string,
  opts: { image?: string; script?: string; replicas?: number; annotations?: Record<string, string> } = {},
): IDeployment {
  const labels = { "app.kubernetes.io/managed-by": "minispod", "minispod.io/instance-id": `${RUN}-${name}`, "contract-run": RUN };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS, labels },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: { "minispod.io/instance-id": `${RUN}-${name}` } },
      template: {
        metadata: { labels, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 1,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "main",
              image: opts.image ?? RUN_IMAGE,
              command: ["sh", "-c", opts.script ?? 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.2; done'],
              resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "50m", memory: "32Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                runAsNonRoot: true,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
            },
          ],
        },
      },
    },
  };
}

const configMap = (
  name: string,
  data: Record<string, string> = { k: "v" },
  ns = NS,
  labels: Record<string, string> = {},
): KubeObject & { data: Record<string, string> } => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, labels: { "contract-run": RUN, "app.kubernetes.io/managed-by": "minispod", ...labels } },
  data,
});

const tenant = (ns: string, user: string) =>
  renderTenant({
    userId: user,
    namespace: ns,
    quota: { maxInstances: 10, cpuMilli: 8000, memoryMb: 16384, storageGb: 50 },
    ingressControllerNamespace: "ingress-nginx",
  });

const selectorOf = (name: string) => `minispod.io/instance-id=${RUN}-${name}`;

beforeAll(async () => {
  if (!REAL)
    emulator = await KubeEmulator.start({
      port: 0,
      podReadyDelayMs: 30,
      crashLoopIntervalMs: 60,
      logIntervalMs: 20,
      // Long enough that "refuses new objects in a terminating namespace" writes inside the window on a
      // loaded machine (300 ms was not); "deletes a namespace" waits this out once.
      namespaceDeletionDelayMs: 2_000,
    });
  client = newClient();
  await ensureTenant(client, tenant(NS, USER));
});

afterAll(async () => {
  try {
    if (client) {
      await client.deleteNamespace(NS);
      await client.deleteNamespace(`${NS}-b`);
    }
  } finally {
    await emulator?.stop();
  }
});

describe("connection", () => {
  it("ping reads /version", async () => {
    const v = await client.ping();
    expect(v.major).toMatch(/^\d+$/);
    expect(v.gitVersion).toMatch(/^v\d+\.\d+/);
  });
});

describe("tenant", () => {
  it("creates the namespace with its Pod Security labels and baseline objects, idempotently", async () => {
    const ns = await client.get<LiveNamespace>({ apiVersion: "v1", kind: "Namespace", name: NS });
    expect(ns.metadata?.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "app.kubernetes.io/managed-by": "minispod",
      "minispod.io/user-id": USER,
    });
    const policies = await client.listAll("NetworkPolicy", userSelector(USER), { namespace: NS });
    expect(policies.items.map((p) => p.metadata?.name).sort()).toEqual([
      "allow-acme-http01-solver",
      "allow-dns",
      "allow-ingress-controller",
      "allow-internet-egress",
      "allow-same-namespace",
      "default-deny",
    ]);
    const quota = await client.get({ apiVersion: "v1", kind: "ResourceQuota", name: "tenant-quota", namespace: NS });
    const before = quota.metadata?.resourceVersion;
    await ensureTenant(client, tenant(NS, USER));
    const again = await client.get({ apiVersion: "v1", kind: "ResourceQuota", name: "tenant-quota", namespace: NS });
    expect(again.metadata?.resourceVersion).toBe(before);
  });

  it("deletes a namespace with everything in it, and tolerates deleting it again", async () => {
    const ns = `${NS}-b`;
    await ensureTenant(client, tenant(ns, `${USER}b`));
    await client.apply(configMap("inside", { a: "b" }, ns));
    expect(await deleteNamespaceAndWait(client, ns, { waitMs: WAIT })).toBe(true);
    await expect(client.get({ apiVersion: "v1", kind: "Namespace", name: ns })).rejects.toBeInstanceOf(KubeNotFoundError);
    await expect(client.get({ apiVersion: "v1", kind: "ConfigMap", name: "inside", namespace: ns })).rejects.toBeInstanceOf(
      KubeNotFoundError,
    );
    expect(await client.deleteNamespace(ns)).toBe(false);
  });

  it("refuses new objects in a terminating namespace (403), and ensureTenant reports it", async () => {
    const ns = `${NS}-t`;
    await ensureTenant(client, tenant(ns, `${USER}t`));
    await client.apply(configMap("keep", { a: "b" }, ns));
    await client.deleteNamespace(ns);
    const err = await client.apply(configMap("late", { a: "b" }, ns)).catch((e: unknown) => e);
    if (REAL) expect([KubeNamespaceTerminatingError, KubeNotFoundError].some((c) => err instanceof c)).toBe(true);
    else {
      // Transient: the namespace can be created again once its deletion has finished.
      expect(err).toBeInstanceOf(KubeNamespaceTerminatingError);
      expect((err as KubeNamespaceTerminatingError).statusCode).toBe(403);
      expect((err as KubeNamespaceTerminatingError).transient).toBe(true);
      await expect(ensureTenant(client, tenant(ns, `${USER}t`))).rejects.toBeInstanceOf(KubeConflictError);
    }
  });
});

describe("apply, get, delete", () => {
  it("server-side apply is idempotent: applying twice keeps the resourceVersion", async () => {
    const first = await client.apply<LiveConfigMap>(configMap("twice", { a: "1" }));
    const second = await client.apply<LiveConfigMap>(configMap("twice", { a: "1" }));
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(first.metadata?.managedFields?.some((f) => f.manager === "minispod" && f.operation === "Apply")).toBe(true);
    const changed = await client.apply<LiveConfigMap>(configMap("twice", { a: "2" }));
    expect(changed.metadata?.resourceVersion).not.toBe(first.metadata?.resourceVersion);
    expect((await client.get<LiveConfigMap>({ apiVersion: "v1", kind: "ConfigMap", name: "twice", namespace: NS })).data).toEqual({
      a: "2",
    });
  });

  it("applies a rendered instance of every service; re-applying changes no spec", async () => {
    for (const template of ["n8n", "ghost", "postgresql"] as ServiceTemplate[]) {
      const objs = renderInstance({
        instanceId: `${RUN}-${template}`,
        userId: USER,
        namespace: NS,
        name: `svc-${template}`,
        service: {
          template,
          image: template === "postgresql" ? "postgres" : template === "n8n" ? "n8nio/n8n" : "ghost",
          version: "latest",
          port: template === "n8n" ? 5678 : template === "ghost" ? 2368 : 5432,
        },
        plan: { cpuMilli: 100, memoryMb: 128, storageGb: 1 },
        host: `svc-${template}.${RUN}.example.com`,
        replicas: REAL ? 0 : 1,
        credentials: template === "postgresql" ? { POSTGRES_USER: "app", POSTGRES_DB: "app", POSTGRES_PASSWORD: "contract" } : {},
        options: { tlsIssuer: "letsencrypt", ingressClassName: "nginx", postgresServiceType: "ClusterIP" },
      });
      const first = await client.applyAll(objs);
      const second = await client.applyAll(objs);
      for (const [i, o] of second.entries()) expect(o.metadata?.generation ?? 0, `${o.kind}`).toBe(first[i]?.metadata?.generation ?? 0);
      // Objects without controllers writing status keep their exact version.
      for (const [i, o] of second.entries()) {
        if (["ConfigMap", "Secret", "Service"].includes(o.kind ?? ""))
          expect(o.metadata?.resourceVersion).toBe(first[i]!.metadata?.resourceVersion);
      }
      if (!REAL)
        await waitForRollout(client, NS, `svc-${template}`, template === "postgresql" ? "StatefulSet" : "Deployment", {
          timeoutMs: WAIT,
          pollMs: 20,
        });
    }
  });

  it("get throws KubeNotFoundError, find returns undefined, delete tolerates 404", async () => {
    const ref = { apiVersion: "v1", kind: "ConfigMap", name: "to-delete", namespace: NS };
    await expect(client.get(ref)).rejects.toBeInstanceOf(KubeNotFoundError);
    expect(await client.find(ref)).toBeUndefined();
    await client.apply(configMap("to-delete"));
    expect((await client.find(ref))?.metadata?.name).toBe("to-delete");
    expect(await client.delete(ref)).toBe(true);
    await eventually(async () => (await client.find(ref)) === undefined);
    expect(await client.delete(ref)).toBe(false);
  });

  it("an invalid manifest is refused before any request", async () => {
    const before = calls.length;
    const bad = workload("privileged");
    bad.spec!.template.spec!.containers[0]!.securityContext = { privileged: true };
    await expect(client.apply(bad)).rejects.toBeInstanceOf(InvalidManifestError);
    expect(calls.length).toBe(before);
  });
});

describe("listAll", () => {
  it("follows limit/continue across all namespaces and returns every item", async () => {
    for (let i = 0; i < 7; i++) await client.apply(configMap(`page-${i}`, { i: String(i) }, NS, { "contract-page": "yes" }));
    const selector = `contract-run=${RUN},contract-page=yes`;
    const { items, calls: n } = await client.listAll<LiveConfigMap>("ConfigMap", selector, { pageSize: 2 });
    expect(items.map((c) => c.metadata?.name).sort()).toEqual(["page-0", "page-1", "page-2", "page-3", "page-4", "page-5", "page-6"]);
    expect(n).toBe(4);
    expect(new Set(items.map((c) => c.metadata?.uid)).size).toBe(items.length);
    if (emulator) {
      const lists = emulator.recorder.calls({ verb: "list", resource: "configmaps" }).filter((c) => c.query.labelSelector === selector);
      expect(lists).toHaveLength(n);
      expect(lists.every((c) => c.query.limit === "2")).toBe(true);
      expect(lists.slice(1).every((c) => c.query.continue)).toBe(true);
    }
  });

  it("lists within one namespace", async () => {
    const { items } = await client.listAll("ConfigMap", `contract-run=${RUN}`, { namespace: NS, pageSize: 3 });
    expect(items.every((c) => c.metadata?.namespace === NS)).toBe(true);
  });
});

describe("listMetadata", () => {
  it("pages through metadata only (PartialObjectMetadataList): Secret data never comes back; managedFields do", async () => {
    const applied: Record<string, string> = {};
    for (let i = 0; i < 5; i++) {
      const live = await client.apply<LiveSecret>({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `meta-${i}`, namespace: NS, labels: { "contract-run": RUN, "contract-meta": "yes" } },
        type: "Opaque",
        data: { password: Buffer.from(`hunter${i}`).toString("base64") },
      } as KubeObject);
      applied[`meta-${i}`] = appliedFieldsHash(live.metadata, client.fieldManager);
    }
    const { items, calls: n } = await client.listMetadata("Secret", `contract-run=${RUN},contract-meta=yes`, { pageSize: 2 });
    expect(n).toBe(3);
    expect(items.map((o) => o.metadata?.name).sort()).toEqual(["meta-0", "meta-1", "meta-2", "meta-3", "meta-4"]);
    expect(JSON.stringify(items)).not.toContain(Buffer.from("hunter1").toString("base64"));
    for (const o of items) {
      expect(Object.keys(o).sort()).toEqual(["apiVersion", "kind", "metadata"]);
      // The same fields hash from the list as from the apply's answer: drift checks compare the two.
      expect(appliedFieldsHash(o.metadata, client.fieldManager)).toBe(applied[o.metadata?.name ?? ""]);
      expect(appliedFieldsHash(o.metadata, client.fieldManager)).not.toBe("");
    }
  });
});

describe("rollouts and pods", () => {
  it("waits for a rollout to complete", async () => {
    await client.apply(workload("good"));
    const state = await waitForRollout(client, NS, "good", "Deployment", { timeoutMs: WAIT, pollMs: REAL ? 1000 : 20 });
    expect(state.done).toBe(true);
    const summary = await podStatusSummary(client, NS, selectorOf("good"));
    expect(summary).toMatchObject({ phase: "Running", ready: true, readyCount: 1, restarts: 0, waitingReasons: [] });
    expect(summary.newest?.name).toMatch(/^good-/);
  });

  it("times out waiting for a rollout that cannot finish (bad image) and shows ImagePullBackOff", async () => {
    await client.apply(workload("badimage", { image: BAD_IMAGE }));
    const err = await waitForRollout(client, NS, "badimage", "Deployment", {
      timeoutMs: REAL ? 20_000 : 300,
      pollMs: REAL ? 1000 : 20,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTimeoutError);
    expect((err as Error).message).toMatch(/did not complete within/);
    const summary = await eventually(async () => {
      const s = await podStatusSummary(client, NS, selectorOf("badimage"));
      return s.waitingReasons.includes("ImagePullBackOff") ? s : undefined;
    });
    expect(summary.ready).toBe(false);
    expect(summary.phase).toBe("Pending");
  });

  it("shows CrashLoopBackOff with a growing restart count", async () => {
    await client.apply(workload("crasher", { script: "echo starting; exit 1", annotations: { [CRASH_ANNOTATION]: "true" } }));
    const summary = await eventually(async () => {
      const s = await podStatusSummary(client, NS, selectorOf("crasher"));
      return s.waitingReasons.includes("CrashLoopBackOff") && s.restarts >= 2 ? s : undefined;
    });
    expect(summary.ready).toBe(false);
    expect(summary.newest?.restarts).toBeGreaterThanOrEqual(2);
  });

  it("restart replaces the pod via the restartedAt annotation", async () => {
    const before = (await podStatusSummary(client, NS, selectorOf("good"))).newest!.name;
    const at = new Date();
    await restartWorkload(thirdPartyConfig(), NS, "good", "Deployment", at);
    const d = await client.get<LiveDeployment>({ apiVersion: "apps/v1", kind: "Deployment", name: "good", namespace: NS });
    expect(d.spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBe(at.toISOString());
    await waitForRollout(client, NS, "good", "Deployment", { timeoutMs: WAIT, pollMs: REAL ? 1000 : 20 });
    const after = await eventually(async () => {
      const s = await podStatusSummary(client, NS, selectorOf("good"));
      return s.pods.length === 1 && s.newest && s.newest.name !== before && s.ready ? s : undefined;
    });
    expect(after.newest!.name).not.toBe(before);
    // A later full apply by the "minispod" manager does not fight over the annotation.
    await client.apply(workload("good"));
    const kept = await client.get<LiveDeployment>({ apiVersion: "apps/v1", kind: "Deployment", name: "good", namespace: NS });
    expect(kept.spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBe(at.toISOString());
  });

  it("scales to zero and back", async () => {
    await scaleWorkload(thirdPartyConfig(), NS, "good", "Deployment", 0);
    await waitForRollout(client, NS, "good", "Deployment", { timeoutMs: WAIT, pollMs: REAL ? 1000 : 20 });
    await eventually(async () => (await podStatusSummary(client, NS, selectorOf("good"))).total === 0);
    await scaleWorkload(thirdPartyConfig(), NS, "good", "Deployment", 1);
    await waitForRollout(client, NS, "good", "Deployment", { timeoutMs: WAIT, pollMs: REAL ? 1000 : 20 });
    expect((await podStatusSummary(client, NS, selectorOf("good"))).readyCount).toBe(1);
  });
});

describe("logs", () => {
  let pod: string;
  beforeAll(async () => {
    await client.apply(workload("talker"));
    await waitForRollout(client, NS, "talker", "Deployment", { timeoutMs: WAIT, pollMs: REAL ? 1000 : 20 });
    pod = (await podStatusSummary(client, NS, selectorOf("talker"))).newest!.name;
    // Let the container run long enough that "since 1 second" is a strict subset.
    await eventually(async () => (await client.logs(NS, pod)).length >= 10);
    await sleep(1500);
  });

  it("returns the last lines with tailLines", async () => {
    const tail = await client.logs(NS, pod, { tailLines: 3 });
    expect(tail).toHaveLength(3);
    const all = await client.logs(NS, pod, { container: "main" });
    expect(all.length).toBeGreaterThan(3);
    // The tail is a suffix of a later full read, shifted by lines written in between.
    expect(all.join("\n")).toContain(tail.join("\n"));
  });

  it("returns only recent lines with sinceSeconds", async () => {
    const all = await client.logs(NS, pod);
    const recent = await client.logs(NS, pod, { sinceSeconds: 1 });
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.length).toBeLessThan(all.length);
  });

  it("follows as a stream until destroyed", async () => {
    const stream: Readable = await client.logs(NS, pod, { follow: true, tailLines: 1 });
    const text = await new Promise<string>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`only got ${JSON.stringify(buf)}`)), REAL ? 10_000 : 3_000);
      stream.on("data", (chunk: Buffer) => {
        buf += chunk.toString();
        if (buf.split("\n").length > 4) {
          clearTimeout(timer);
          resolve(buf);
        }
      });
      stream.on("error", reject);
    });
    stream.destroy();
    expect(text.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(4);
  });

  it("a missing pod is KubeNotFoundError", async () => {
    await expect(client.logs(NS, "no-such-pod")).rejects.toBeInstanceOf(KubeNotFoundError);
  });
});

describe("metrics", () => {
  it("reports usage per pod in millicores and MiB (or no data when the cluster has no metrics server)", async () => {
    const result = await client.podMetrics(NS, selectorOf("talker"));
    if (REAL && !result.available) return;
    expect(result.available).toBe(true);
    if (!result.available) return;
    const usage = await eventually(async () => {
      const r = await client.podMetrics(NS, selectorOf("talker"));
      return r.available && r.pods.length === 1 ? r.pods[0] : undefined;
    });
    expect(usage.namespace).toBe(NS);
    expect(usage.labels["minispod.io/instance-id"]).toBe(`${RUN}-talker`);
    expect(usage.cpuMilli).toBeGreaterThanOrEqual(0);
    expect(usage.memoryMb).toBeGreaterThan(0);
    expect(usage.containers[0]!.name).toBe("main");
  });

  it.skipIf(REAL)("a cluster without metrics.k8s.io gives available:false, not an error", async () => {
    emulator!.setMetricsAvailable(false);
    try {
      const fresh = newClient();
      expect(await fresh.podMetrics(undefined, "app.kubernetes.io/managed-by=minispod")).toEqual({
        available: false,
        reason: "metrics API (metrics.k8s.io) is not installed",
      });
    } finally {
      emulator!.setMetricsAvailable(true);
    }
  });

  it.skipIf(REAL)("a metrics API answering 503 gives available:false after retries", async () => {
    const id = emulator!.faults.failPath("/apis/metrics.k8s.io/v1beta1/pods", 503);
    try {
      const r = await newClient().podMetrics(undefined, "app.kubernetes.io/managed-by=minispod");
      expect(r).toEqual({ available: false, reason: "metrics API (metrics.k8s.io) is unavailable" });
    } finally {
      emulator!.faults.remove(id);
    }
  });
});

describe("error mapping", () => {
  // A real API server (and the emulator) treats metadata.resourceVersion in an apply as a precondition.
  it("409: an apply with a stale resourceVersion", async () => {
    const cm = await client.apply<LiveConfigMap>(configMap("stale", { v: "1" }));
    await client.apply(configMap("stale", { v: "2" }));
    const stale = configMap("stale", { v: "3" });
    stale.metadata!.resourceVersion = cm.metadata!.resourceVersion!;
    const err = await client.apply(stale).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeConflictError);
    expect((err as KubeConflictError).statusCode).toBe(409);
    expect((err as KubeConflictError).transient).toBe(false);
  });

  it.skipIf(REAL)("409 from the server is KubeConflictError and is not retried", async () => {
    emulator!.recorder.reset();
    emulator!.faults.failPath(`/namespaces/${NS}/configmaps/conflicted`, 409, 1);
    const err = await client.apply(configMap("conflicted")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeConflictError);
    expect((err as KubeConflictError).statusCode).toBe(409);
    expect((err as KubeConflictError).attempts).toBe(1);
    expect(emulator!.recorder.count({ path: `/namespaces/${NS}/configmaps/conflicted` })).toBe(1);
  });

  it("422 with causes: shrinking a PVC", async () => {
    const pvc = (size: string): IPersistentVolumeClaim => ({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "shrink", namespace: NS, labels: { "contract-run": RUN } },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } },
    });
    await client.apply(pvc("2Gi"));
    const err = await client.apply(pvc("1Gi")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeInvalidError);
    const invalid = err as KubeInvalidError;
    expect(invalid.statusCode).toBe(422);
    expect(invalid.reason).toBe("Invalid");
    expect(invalid.causes.length).toBeGreaterThan(0);
    expect(invalid.causes[0]!.field).toMatch(/^spec/);
    expect(invalid.causes[0]!.message).toBeTruthy();
    const still = await client.get<LivePersistentVolumeClaim>({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      name: "shrink",
      namespace: NS,
    });
    expect(still.spec?.resources?.requests?.storage).toBe("2Gi");
  });

  it("422: changing an immutable Deployment selector", async () => {
    const d = workload("immutable");
    await client.apply(d);
    const changed = workload("immutable");
    changed.spec!.selector.matchLabels = { ...changed.spec!.selector.matchLabels, "contract-run": RUN };
    const err = await client.apply(changed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeInvalidError);
    expect((err as KubeInvalidError).causes.some((c) => c.field?.startsWith("spec.selector"))).toBe(true);
  });

  it.skipIf(REAL)("401/403: a wrong token is KubeForbiddenError", async () => {
    const yaml = emulator!.kubeconfigYaml().replace(emulator!.token, "wrong-token");
    const err = await newClient({ yaml })
      .ping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeForbiddenError);
    expect((err as KubeForbiddenError).statusCode).toBe(401);
  });

  it.skipIf(REAL)("503 twice, then success: retried transparently", async () => {
    calls.length = 0;
    emulator!.recorder.reset();
    emulator!.faults.failPath(`/namespaces/${NS}/configmaps/retried`, 503, 2);
    await client.apply(configMap("retried"));
    const attempts = emulator!.recorder.calls({ path: `/namespaces/${NS}/configmaps/retried` });
    expect(attempts.map((c) => c.status)).toEqual([503, 503, 201]);
    expect(calls.filter((c) => c.verb === "apply").map((c) => c.result.ok)).toEqual([false, false, true]);
    expect(calls.filter((c) => c.verb === "apply")[0]!.result).toMatchObject({ statusCode: 503, error: "KubeUnavailableError" });
  });

  it.skipIf(REAL)("503 every time: bounded retries, then KubeUnavailableError", async () => {
    emulator!.recorder.reset();
    const id = emulator!.faults.failPath(`/namespaces/${NS}/configmaps/doomed`, 503);
    try {
      const err = await client.get({ apiVersion: "v1", kind: "ConfigMap", name: "doomed", namespace: NS }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeUnavailableError);
      expect((err as KubeUnavailableError).transient).toBe(true);
      expect((err as KubeUnavailableError).attempts).toBe(3);
      expect((err as KubeUnavailableError).statusCode).toBe(503);
      expect(emulator!.recorder.count({ path: `/namespaces/${NS}/configmaps/doomed` })).toBe(3);
    } finally {
      emulator!.faults.remove(id);
    }
  });

  it.skipIf(REAL)("a 404 is never retried", async () => {
    emulator!.recorder.reset();
    await expect(client.get({ apiVersion: "v1", kind: "ConfigMap", name: "nope", namespace: NS })).rejects.toBeInstanceOf(
      KubeNotFoundError,
    );
    expect(emulator!.recorder.count({ path: `/namespaces/${NS}/configmaps/nope` })).toBe(1);
  });

  it.skipIf(REAL)("a hung request hits the per-request timeout and is retried", async () => {
    emulator!.recorder.reset();
    const id = emulator!.faults.timeout(`/namespaces/${NS}/configmaps/hung`);
    try {
      const quick = newClient({ requestTimeoutMs: 150, maxAttempts: 2 });
      const started = Date.now();
      const err = await quick.get({ apiVersion: "v1", kind: "ConfigMap", name: "hung", namespace: NS }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeUnavailableError);
      expect((err as KubeUnavailableError).reason).toBe("Timeout");
      expect((err as KubeUnavailableError).attempts).toBe(2);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      emulator!.faults.remove(id);
    }
  });

  it.skipIf(REAL)("a reset connection is transient", async () => {
    emulator!.faults.resetConnections(`/namespaces/${NS}/configmaps/reset-once`, 1);
    await client.apply(configMap("reset-once"));
    expect((await client.get({ apiVersion: "v1", kind: "ConfigMap", name: "reset-once", namespace: NS })).metadata?.name).toBe(
      "reset-once",
    );
  });

  it.skipIf(REAL)("a total outage (connection refused) is KubeUnavailableError until it clears", async () => {
    await emulator!.faults.outage("refuse");
    try {
      const err = await client.ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeUnavailableError);
      expect((err as KubeUnavailableError).statusCode).toBeUndefined();
      expect((err as KubeUnavailableError).message).toMatch(/unreachable/);
    } finally {
      await emulator!.faults.restore();
    }
    expect((await client.ping()).major).toBeTruthy();
  });

  it.skipIf(REAL)("a rollout wait survives a brief outage", async () => {
    await client.apply(workload("patient"));
    const id = emulator!.faults.failPath("/deployments/patient", 503, 4);
    const state = await waitForRollout(client, NS, "patient", "Deployment", { timeoutMs: WAIT, pollMs: 20 });
    expect(state.done).toBe(true);
    emulator!.faults.remove(id);
  });

  it.skipIf(REAL)("no request hit an unknown emulator route", () => {
    expect(emulator!.recorder.unknownRoutes()).toEqual([]);
  });
});

describe("pods in the fleet", () => {
  it("one fleet-wide LIST maps pods to instances by label", async () => {
    const { items, calls: n } = await client.listAll<LivePod>("Pod", "app.kubernetes.io/managed-by=minispod", { pageSize: 500 });
    expect(n).toBe(1);
    const ids = new Set(items.map((p) => p.metadata?.labels?.["minispod.io/instance-id"]));
    expect(ids.has(`${RUN}-talker`)).toBe(true);
  });
});

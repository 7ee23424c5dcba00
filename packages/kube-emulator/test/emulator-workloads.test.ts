// Simulated controllers of the emulator, through @kubernetes/client-node: deployments produce
// pods that become ready after a delay, restarts replace pods, bad images and crash loops show the
// real waiting reasons, PVCs bind and grow, PodMetrics and pod logs behave like a cluster's.
import { PassThrough } from "node:stream";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  Log,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

let kube: KubeEmulator;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;

beforeAll(async () => {
  kube = await KubeEmulator.start({
    podReadyDelayMs: 150,
    crashLoopIntervalMs: 60,
    logIntervalMs: 50,
  });
  kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfigYaml());
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  objects = KubernetesObjectApi.makeApiClient(kc);
  for (const name of ["work", "logs"]) await core.createNamespace({ body: { metadata: { name } } });
});
afterAll(async () => {
  await kube.stop();
});

function deployment(
  name: string,
  opts: {
    image?: string;
    replicas?: number;
    strategy?: "Recreate";
    annotations?: Record<string, string>;
  } = {},
) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "work" },
    spec: {
      replicas: opts.replicas ?? 1,
      ...(opts.strategy ? { strategy: { type: opts.strategy } } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          ...(opts.annotations ? { annotations: opts.annotations } : {}),
        },
        spec: {
          containers: [
            {
              name: "app",
              image: opts.image ?? "n8nio/n8n:1.64.0",
              resources: {
                requests: { cpu: "200m", memory: "256Mi" },
                limits: { cpu: "1", memory: "512Mi" },
              },
            },
          ],
        },
      },
    },
  };
}

const apply = (obj: Record<string, unknown>) =>
  objects.patch(obj as never, undefined, undefined, "minispod", true, PatchStrategy.ServerSideApply);

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const podsOf = async (app: string, namespace = "work") => (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;

/** kubectl rollout status's completeness rule. */
function rolloutComplete(d: V1Deployment): boolean {
  const s = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want
  );
}

describe("deployment controller", () => {
  it("creates pods named <deploy>-<hash>-<rand> that become Ready after the delay, with rollout status moving", async () => {
    await apply(deployment("n8n", { replicas: 2 }));
    await kube.settle();
    const early = await apps.readNamespacedDeployment({
      name: "n8n",
      namespace: "work",
    });
    expect(rolloutComplete(early)).toBe(false);
    expect(early.status?.conditions?.find((c) => c.type === "Progressing")?.reason).toMatch(/NewReplicaSetCreated|ReplicaSetUpdated/);
    expect(early.status?.readyReplicas).toBeUndefined(); // zero values are omitted, as on a real server
    const pending = await podsOf("n8n");
    expect(pending).toHaveLength(2);
    for (const p of pending) {
      expect(p.metadata?.name).toMatch(/^n8n-[a-z0-9]{10}-[a-z0-9]{5}$/);
      expect(p.status?.phase).toBe("Pending");
      expect(p.status?.containerStatuses?.[0].state?.waiting?.reason).toBe("ContainerCreating");
      expect(p.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: "ReplicaSet",
        controller: true,
      });
      expect(p.metadata?.labels?.["pod-template-hash"]).toHaveLength(10);
    }

    const done = await until("rollout", async () => {
      const d = await apps.readNamespacedDeployment({
        name: "n8n",
        namespace: "work",
      });
      return rolloutComplete(d) && d;
    });
    expect(done.status).toMatchObject({
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    });
    expect(done.status?.unavailableReplicas).toBeUndefined();
    expect(done.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Available", "True", "MinimumReplicasAvailable"],
      ["Progressing", "True", "NewReplicaSetAvailable"],
    ]);
    const ready = await podsOf("n8n");
    expect(
      ready.every((p) => p.status?.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")),
    ).toBe(true);
  });

  it("replaces the pods on a restart (restartedAt annotation) and scales to zero", async () => {
    const before = (await podsOf("n8n")).map((p) => p.metadata?.name).sort();
    await apps.patchNamespacedDeployment(
      {
        name: "n8n",
        namespace: "work",
        body: {
          spec: {
            template: {
              metadata: {
                annotations: {
                  "kubectl.kubernetes.io/restartedAt": new Date().toISOString(),
                },
              },
            },
          },
        },
      },
      setHeaderOptions("Content-Type", "application/strategic-merge-patch+json"),
    );
    const after = await until("new pods ready", async () => {
      const d = await apps.readNamespacedDeployment({
        name: "n8n",
        namespace: "work",
      });
      if (!rolloutComplete(d)) return undefined;
      const pods = await podsOf("n8n");
      return pods.length === 2 && pods;
    });
    const names = after.map((p) => p.metadata?.name).sort();
    expect(names.some((n) => before.includes(n))).toBe(false);
    const d = await apps.readNamespacedDeployment({
      name: "n8n",
      namespace: "work",
    });
    expect(d.metadata?.generation).toBe(2);
    expect(d.status?.observedGeneration).toBe(2);

    await apps.patchNamespacedDeploymentScale(
      { name: "n8n", namespace: "work", body: { spec: { replicas: 0 } } },
      setHeaderOptions("Content-Type", "application/merge-patch+json"),
    );
    await until("no pods", async () => (await podsOf("n8n")).length === 0);
    const scaled = await apps.readNamespacedDeployment({
      name: "n8n",
      namespace: "work",
    });
    expect(scaled.status?.replicas).toBeUndefined();
    expect(rolloutComplete(scaled)).toBe(true);
  });

  it("Recreate creates new pods once the old ones are gone; deleting the deployment garbage-collects its pods", async () => {
    await apply(deployment("ghost", { image: "ghost:5", strategy: "Recreate" }));
    const [first] = await until("ghost pod", async () => {
      const p = await podsOf("ghost");
      return p.length === 1 && p;
    });
    const changed = deployment("ghost", {
      image: "ghost:5.1",
      strategy: "Recreate",
    });
    await apply(changed);
    await kube.settle();
    // The old pod is terminating (graceful deletion) and nothing new starts until it is gone.
    const during = await podsOf("ghost");
    expect(during.map((p) => [p.metadata?.name, !!p.metadata?.deletionTimestamp])).toEqual([[first.metadata?.name, true]]);
    await kube.fastForward();
    const pods = await podsOf("ghost");
    expect(pods).toHaveLength(1);
    expect(pods[0].metadata?.name).not.toBe(first.metadata?.name);
    expect(pods[0].spec?.containers[0].image).toBe("ghost:5.1");

    const status = await apps.deleteNamespacedDeployment({
      name: "ghost",
      namespace: "work",
    });
    expect(status).toMatchObject({
      status: "Success",
      details: { name: "ghost", kind: "deployments", group: "apps" },
    });
    await until("pods collected", async () => (await podsOf("ghost")).length === 0);
    const rs = await apps.listNamespacedReplicaSet({
      namespace: "work",
      labelSelector: "app=ghost",
    });
    expect(rs.items).toHaveLength(0);
  });

  it("leaves pods of a bad image Pending in ImagePullBackOff while old pods keep serving", async () => {
    await apply(deployment("badimg", { image: "n8nio/n8n:bad-tag" }));
    const pod = await until("ImagePullBackOff", async () => {
      const [p] = await podsOf("badimg");
      return p?.status?.containerStatuses?.[0].state?.waiting?.reason === "ImagePullBackOff" && p;
    });
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.status?.containerStatuses?.[0].state?.waiting?.message).toBe('Back-off pulling image "n8nio/n8n:bad-tag"');
    const d = await apps.readNamespacedDeployment({
      name: "badimg",
      namespace: "work",
    });
    expect(rolloutComplete(d)).toBe(false);
    expect(d.status?.unavailableReplicas).toBe(1);

    kube.markImageBad("n8nio/n8n:2.0.0");
    await apply(deployment("rolling", { image: "n8nio/n8n:1.64.0" }));
    await until("rolling ready", async () =>
      rolloutComplete(
        await apps.readNamespacedDeployment({
          name: "rolling",
          namespace: "work",
        }),
      ),
    );
    await apply(deployment("rolling", { image: "n8nio/n8n:2.0.0" }));
    await until("new pod stuck", async () => {
      const pods = await podsOf("rolling");
      return pods.some((p) => p.status?.containerStatuses?.[0].state?.waiting?.reason === "ImagePullBackOff") && pods;
    });
    const pods = await podsOf("rolling");
    expect(pods.map((p) => [p.spec?.containers[0].image, p.status?.phase]).sort()).toEqual([
      ["n8nio/n8n:1.64.0", "Running"],
      ["n8nio/n8n:2.0.0", "Pending"],
    ]);
    kube.markImageGood("n8nio/n8n:2.0.0");
    await until("rollout after fix", async () => {
      const d2 = await apps.readNamespacedDeployment({
        name: "rolling",
        namespace: "work",
      });
      return rolloutComplete(d2) && (await podsOf("rolling")).length === 1;
    });
  });

  it("crash-loops with a growing restartCount (setCrash) and recovers when the crash is cleared", async () => {
    await apply(deployment("crashy"));
    await until("crashy ready", async () =>
      rolloutComplete(
        await apps.readNamespacedDeployment({
          name: "crashy",
          namespace: "work",
        }),
      ),
    );
    kube.setCrash("work", "crashy");
    const first = await until("CrashLoopBackOff", async () => {
      const [p] = await podsOf("crashy");
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === "CrashLoopBackOff" && cs;
    });
    expect(first.ready).toBe(false);
    expect(first.lastState?.terminated).toMatchObject({
      exitCode: 1,
      reason: "Error",
    });
    const later = await until("more restarts", async () => {
      const [p] = await podsOf("crashy");
      const n = p?.status?.containerStatuses?.[0].restartCount ?? 0;
      return n >= first.restartCount + 2 && n;
    });
    expect(later).toBeGreaterThan(first.restartCount);
    const d = await apps.readNamespacedDeployment({
      name: "crashy",
      namespace: "work",
    });
    expect(d.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("False");

    kube.setCrash("work", "crashy", false);
    const ok = await until("recovered", async () => {
      const [p] = await podsOf("crashy");
      return p?.status?.containerStatuses?.[0].ready === true && p;
    });
    expect(ok.status?.containerStatuses?.[0].restartCount).toBeGreaterThanOrEqual(later);
  });

  it("also crash-loops pods whose template carries the crash annotation", async () => {
    await apply(
      deployment("annotated", {
        annotations: { [KubeEmulator.crashAnnotation]: "true" },
      }),
    );
    await until("annotated crash", async () => {
      const [p] = await podsOf("annotated");
      return p?.status?.containerStatuses?.[0].state?.waiting?.reason === "CrashLoopBackOff";
    });
  });
});

describe("statefulset, PVC, metrics", () => {
  it("creates <sts>-0 with a PVC from volumeClaimTemplates and replaces it on a template change", async () => {
    const sts = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "pg", namespace: "work" },
      spec: {
        replicas: 1,
        serviceName: "pg",
        selector: { matchLabels: { app: "pg" } },
        template: {
          metadata: { labels: { app: "pg" } },
          spec: { containers: [{ name: "postgres", image: "postgres:16" }] },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "data" },
            spec: {
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: "1Gi" } },
            },
          },
        ],
      },
    };
    await apply(sts);
    const pod = await until("pg-0 ready", async () => {
      const p = await core.readNamespacedPod({ name: "pg-0", namespace: "work" }).catch(() => undefined);
      return p?.status?.containerStatuses?.[0].ready === true && p;
    });
    const pvc = await until("pvc bound", async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({
        name: "data-pg-0",
        namespace: "work",
      });
      return c.status?.phase === "Bound" && c;
    });
    expect(pvc.status?.capacity).toEqual({ storage: "1Gi" });
    const s = await apps.readNamespacedStatefulSet({
      name: "pg",
      namespace: "work",
    });
    expect(s.status).toMatchObject({
      replicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      observedGeneration: 1,
    });

    sts.spec.template.metadata = {
      labels: { app: "pg" },
      annotations: { "kubectl.kubernetes.io/restartedAt": "now" },
    } as never;
    await apply(sts);
    await until("pg-0 replaced", async () => {
      const p = await core.readNamespacedPod({ name: "pg-0", namespace: "work" }).catch(() => undefined);
      return p !== undefined && p.metadata?.uid !== pod.metadata?.uid;
    });
  });

  it("binds PVCs, reflects expansion in status.capacity, and forbids shrinking", async () => {
    const pvc = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace: "work" },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "1Gi" } },
      },
    };
    await apply(pvc);
    await until(
      "bound",
      async () =>
        (
          await core.readNamespacedPersistentVolumeClaim({
            name: "data",
            namespace: "work",
          })
        ).status?.phase === "Bound",
    );
    pvc.spec.resources.requests.storage = "5Gi";
    await apply(pvc);
    const grown = await until("grown", async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({
        name: "data",
        namespace: "work",
      });
      return c.status?.capacity?.storage === "5Gi" && c;
    });
    expect(grown.spec?.volumeName).toMatch(/^pvc-/);
    pvc.spec.resources.requests.storage = "2Gi";
    const err = await apply(pvc).then(
      () => undefined,
      (e: { body: string }) =>
        JSON.parse(e.body) as {
          code: number;
          details: { causes: { field: string; message: string }[] };
        },
    );
    expect(err?.code).toBe(422);
    expect(err?.details.causes[0]).toEqual({
      reason: "FieldValueForbidden",
      field: "spec.resources.requests.storage",
      message: "Forbidden: field can not be less than status.capacity",
    });
  });

  it("serves PodMetrics per namespace and across namespaces with label selectors; usage is deterministic", async () => {
    await apply({ ...deployment("metered", { replicas: 2 }) });
    await until("metered ready", async () =>
      rolloutComplete(
        await apps.readNamespacedDeployment({
          name: "metered",
          namespace: "work",
        }),
      ),
    );
    const custom = kc.makeApiClient(CustomObjectsApi);
    const list = (await custom.listNamespacedCustomObject({
      group: "metrics.k8s.io",
      version: "v1beta1",
      namespace: "work",
      plural: "pods",
      labelSelector: "app=metered",
    })) as {
      items: {
        metadata: { name: string };
        containers: { name: string; usage: { cpu: string; memory: string } }[];
      }[];
    };
    expect(list.items).toHaveLength(2);
    for (const m of list.items) {
      const cpuNano = Number(m.containers[0].usage.cpu.replace(/n$/, ""));
      const memKi = Number(m.containers[0].usage.memory.replace(/Ki$/, ""));
      // A fraction of the 200m / 256Mi requests.
      expect(cpuNano).toBeGreaterThan(0.05 * 200e6 - 1);
      expect(cpuNano).toBeLessThan(0.6 * 200e6 + 1);
      expect(memKi).toBeGreaterThan(0.3 * 256 * 1024 - 1);
      expect(memKi).toBeLessThan(0.8 * 256 * 1024 + 1);
    }
    const again = (await custom.listNamespacedCustomObject({
      group: "metrics.k8s.io",
      version: "v1beta1",
      namespace: "work",
      plural: "pods",
      labelSelector: "app=metered",
    })) as typeof list;
    expect(again.items.map((i) => i.containers)).toEqual(list.items.map((i) => i.containers));

    const all = (await custom.listClusterCustomObject({
      group: "metrics.k8s.io",
      version: "v1beta1",
      plural: "pods",
      labelSelector: "app=metered",
    })) as typeof list;
    expect(all.items).toHaveLength(2);

    kube.setPodUsage("work", list.items[0].metadata.name, {
      cpuMilli: 150,
      memoryMb: 100,
    });
    const pinned = (await custom.getNamespacedCustomObject({
      group: "metrics.k8s.io",
      version: "v1beta1",
      namespace: "work",
      plural: "pods",
      name: list.items[0].metadata.name,
    })) as (typeof list.items)[0];
    expect(pinned.containers[0].usage).toEqual({
      cpu: "150000000n",
      memory: "102400Ki",
    });

    kube.setMetricsAvailable(false);
    const err = await custom
      .listClusterCustomObject({
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "pods",
      })
      .then(
        () => 0,
        (e: { code: number }) => e.code,
      );
    expect(err).toBe(404);
    kube.setMetricsAvailable(true);
  });
});

describe("pod logs", () => {
  let pod: V1Pod;
  beforeAll(async () => {
    await apply({
      ...deployment("logger"),
      metadata: { name: "logger", namespace: "logs" },
    });
    pod = await until("logger running", async () => {
      const [p] = await podsOf("logger", "logs");
      return p?.status?.containerStatuses?.[0].ready === true && p;
    });
    await new Promise((r) => setTimeout(r, 500)); // ~10 lines at 50ms each
  });

  it("returns plain text lines; tailLines, timestamps and sinceSeconds narrow them", async () => {
    const name = pod.metadata?.name as string;
    const all = await core.readNamespacedPodLog({ name, namespace: "logs" });
    const lines = all.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(8);
    expect(lines.slice(0, 2)).toEqual(["Initializing n8n process", "n8n ready on ::, port 5678"]);
    const tail = await core.readNamespacedPodLog({
      name,
      namespace: "logs",
      tailLines: 3,
      timestamps: true,
      container: "app",
    });
    const tailLines = tail.trimEnd().split("\n");
    expect(tailLines).toHaveLength(3);
    for (const l of tailLines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \S/);
    const since = await core.readNamespacedPodLog({
      name,
      namespace: "logs",
      sinceSeconds: 1,
    });
    expect(since.trimEnd().split("\n").length).toBeLessThanOrEqual(lines.length + 2);
    const wrong = await core.readNamespacedPodLog({ name, namespace: "logs", container: "nope" }).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    expect(wrong).toBe(400);
  });

  it("follows the log as a stream until the client stops (client-node Log)", async () => {
    const name = pod.metadata?.name as string;
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => {
      text += c.toString();
    });
    const ended = new Promise<void>((r) => out.on("end", () => r()));
    const req = await new Log(kc).log("logs", name, "app", out, {
      follow: true,
      tailLines: 1,
    });
    await new Promise((r) => setTimeout(r, 300));
    const seenWhileFollowing = text.trimEnd().split("\n").length;
    expect(seenWhileFollowing).toBeGreaterThanOrEqual(3);
    // Deleting the pod ends the stream, as the kubelet's does.
    await core.deleteNamespacedPod({ name, namespace: "logs" });
    await ended;
    req.abort();
  });

  it("refuses logs of a pod that has not started (400 waiting to start)", async () => {
    await apply({
      ...deployment("nolog", { image: "x:bad" }),
      metadata: { name: "nolog", namespace: "logs" },
    });
    const [p] = await until("pending pod", async () => {
      const pods = await podsOf("nolog", "logs");
      return pods.length > 0 && pods;
    });
    const res = await fetch(`${kube.url}/api/v1/namespaces/logs/pods/${p.metadata?.name}/log`, {
      headers: { authorization: `Bearer ${kube.token}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^container "app" in pod ".*" is waiting to start: /);
  });
});

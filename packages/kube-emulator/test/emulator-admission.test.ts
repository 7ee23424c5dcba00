// Admission as the API server does it, over plain HTTP so the exact Status bodies and Warning
// headers are visible: ResourceQuota usage and refusals, LimitRange defaults and min/max,
// PodSecurity enforce/warn, canonical quantities, controller-created pods refused by quota
// (FailedCreate), and the StatefulSet OrderedReady stall of kubernetes/kubernetes#67250.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator, type KubeObject } from "../src/index.js";

let kube: KubeEmulator;

beforeAll(async () => {
  kube = await KubeEmulator.start({ podReadyDelayMs: 0, crashLoopIntervalMs: 50 });
});
afterAll(async () => {
  await kube.stop();
});

async function call(method: string, path: string, body?: unknown, contentType = "application/json") {
  const res = await fetch(`${kube.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${kube.token}`, ...(body !== undefined ? { "Content-Type": contentType } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, warnings: res.headers.get("warning") };
}

async function namespace(name: string, labels: Record<string, string> = {}) {
  expect((await call("POST", "/api/v1/namespaces", { metadata: { name, labels } })).status).toBe(201);
  await kube.settle();
}

const RESTRICTED_SC = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
  runAsUser: 1000,
  seccompProfile: { type: "RuntimeDefault" },
};

function pod(name: string, resources: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) {
  return {
    metadata: { name },
    spec: {
      containers: [{ name: "app", image: "busybox:1.36", ...(resources ? { resources } : {}), securityContext: RESTRICTED_SC }],
      ...extra,
    },
  };
}

const res = (cpu: string, memory: string) => ({ requests: { cpu, memory }, limits: { cpu, memory } });

function forbidden(resource: string, name: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `${resource} "${name}" is forbidden: ${message}`,
    reason: "Forbidden",
    details: { name, kind: resource },
    code: 403,
  };
}

describe("ResourceQuota", () => {
  beforeAll(async () => {
    await namespace("quota");
    const quota = {
      metadata: { name: "tenant-quota" },
      spec: {
        hard: {
          "requests.cpu": "4000m",
          "limits.cpu": "4",
          "requests.memory": "8192Mi",
          "limits.memory": "8Gi",
          "requests.storage": "10Gi",
          persistentvolumeclaims: "2",
          pods: "3",
          services: "1",
        },
      },
    };
    const created = await call("POST", "/api/v1/namespaces/quota/resourcequotas", quota);
    expect(created.status).toBe(201);
    // Stored canonical, as the real server stores quantities.
    expect((created.body.spec as { hard: unknown }).hard).toEqual({
      "requests.cpu": "4",
      "limits.cpu": "4",
      "requests.memory": "8Gi",
      "limits.memory": "8Gi",
      "requests.storage": "10Gi",
      persistentvolumeclaims: "2",
      pods: "3",
      services: "1",
    });
  });

  it("keeps status.used current for pods, services, claims and their requests/limits", async () => {
    expect((await call("POST", "/api/v1/namespaces/quota/pods", pod("a", res("1500m", "1024Mi")))).status).toBe(201);
    expect((await call("POST", "/api/v1/namespaces/quota/pods", pod("b", res("2300m", "1Gi")))).status).toBe(201);
    expect(
      (await call("POST", "/api/v1/namespaces/quota/services", { metadata: { name: "web" }, spec: { ports: [{ port: 80 }] } })).status,
    ).toBe(201);
    const claim = { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "4096Mi" } } } };
    const pvc = await call("POST", "/api/v1/namespaces/quota/persistentvolumeclaims", claim);
    expect(pvc.status).toBe(201);
    expect((pvc.body.spec as { resources: unknown }).resources).toEqual({ requests: { storage: "4Gi" } });
    const q = await call("GET", "/api/v1/namespaces/quota/resourcequotas/tenant-quota");
    expect((q.body.status as { used: unknown }).used).toEqual({
      "requests.cpu": "3800m",
      "limits.cpu": "3800m",
      "requests.memory": "2Gi",
      "limits.memory": "2Gi",
      "requests.storage": "4Gi",
      persistentvolumeclaims: "1",
      pods: "2",
      services: "1",
    });
  });

  it("refuses a pod that would exceed it: 403 with the quota admission's message", async () => {
    const r = await call("POST", "/api/v1/namespaces/quota/pods", pod("x", res("500m", "64Mi")));
    expect(r).toEqual({
      status: 403,
      warnings: null,
      body: forbidden(
        "pods",
        "x",
        "exceeded quota: tenant-quota, requested: limits.cpu=500m,requests.cpu=500m, used: limits.cpu=3800m,requests.cpu=3800m, limited: limits.cpu=4,requests.cpu=4",
      ),
    });
    expect(kube.getObject("v1", "Pod", "quota", "x")).toBeUndefined();
  });

  it("refuses a second service, a claim over requests.storage, and a pod without requests", async () => {
    expect(await call("POST", "/api/v1/namespaces/quota/services", { metadata: { name: "two" }, spec: { ports: [{ port: 80 }] } })).toEqual(
      {
        status: 403,
        warnings: null,
        body: forbidden("services", "two", "exceeded quota: tenant-quota, requested: services=1, used: services=1, limited: services=1"),
      },
    );
    const big = { metadata: { name: "big" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "8Gi" } } } };
    expect((await call("POST", "/api/v1/namespaces/quota/persistentvolumeclaims", big)).body).toEqual(
      forbidden(
        "persistentvolumeclaims",
        "big",
        "exceeded quota: tenant-quota, requested: requests.storage=8Gi, used: requests.storage=4Gi, limited: requests.storage=10Gi",
      ),
    );
    expect((await call("POST", "/api/v1/namespaces/quota/pods", pod("bare", undefined))).body).toEqual(
      forbidden(
        "pods",
        "bare",
        "failed quota: tenant-quota: must specify limits.cpu for: app; limits.memory for: app; requests.cpu for: app; requests.memory for: app",
      ),
    );
  });

  it("frees usage when a pod goes, and then admits", async () => {
    expect((await call("DELETE", "/api/v1/namespaces/quota/pods/b")).status).toBe(200);
    await kube.settle();
    const q = await call("GET", "/api/v1/namespaces/quota/resourcequotas/tenant-quota");
    expect((q.body.status as { used: Record<string, string> }).used["requests.cpu"]).toBe("1500m");
    expect((await call("POST", "/api/v1/namespaces/quota/pods", pod("x", res("500m", "64Mi")))).status).toBe(201);
  });

  it("counts secrets as they are written and deleted; a write that moves none of its keys leaves the quota as it is", async () => {
    await namespace("quota-counts");
    const quota = { metadata: { name: "counts" }, spec: { hard: { secrets: "2", configmaps: "1" } } };
    expect((await call("POST", "/api/v1/namespaces/quota-counts/resourcequotas", quota)).status).toBe(201);
    await kube.settle();
    const used = async () => {
      const q = await call("GET", "/api/v1/namespaces/quota-counts/resourcequotas/counts");
      const meta = q.body.metadata as { resourceVersion: string };
      return { rv: meta.resourceVersion, used: (q.body.status as { used: Record<string, string> }).used };
    };
    expect((await used()).used).toEqual({ secrets: "0", configmaps: "0" });
    const secret = (name: string) => ({ metadata: { name }, stringData: { k: "v" } });
    expect((await call("POST", "/api/v1/namespaces/quota-counts/secrets", secret("one"))).status).toBe(201);
    const afterSecret = await used();
    expect(afterSecret.used).toEqual({ secrets: "1", configmaps: "0" });
    // A Service is not among this quota's keys, and a relabelled secret still counts once.
    expect(
      (await call("POST", "/api/v1/namespaces/quota-counts/services", { metadata: { name: "web" }, spec: { ports: [{ port: 80 }] } }))
        .status,
    ).toBe(201);
    const relabel = { metadata: { labels: { tier: "x" } } };
    expect((await call("PATCH", "/api/v1/namespaces/quota-counts/secrets/one", relabel, "application/merge-patch+json")).status).toBe(200);
    await kube.settle();
    expect(await used()).toEqual(afterSecret);
    // Deleting frees the count (the quota controller's replenishment), and the freed room admits.
    expect((await call("DELETE", "/api/v1/namespaces/quota-counts/secrets/one")).status).toBe(200);
    await kube.settle();
    expect((await used()).used).toEqual({ secrets: "0", configmaps: "0" });
    expect((await call("POST", "/api/v1/namespaces/quota-counts/secrets", secret("two"))).status).toBe(201);
    expect((await call("POST", "/api/v1/namespaces/quota-counts/secrets", secret("three"))).status).toBe(201);
    expect((await call("POST", "/api/v1/namespaces/quota-counts/secrets", secret("four"))).body).toEqual(
      forbidden("secrets", "four", "exceeded quota: counts, requested: secrets=1, used: secrets=2, limited: secrets=2"),
    );
    expect((await used()).used).toEqual({ secrets: "2", configmaps: "0" });
  });

  it("a Deployment's pods refused by quota do not appear: FailedCreate on the ReplicaSet, ReplicaFailure, retried when room frees", async () => {
    const deploy = {
      metadata: { name: "web" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "app", image: "nginx:1.27", resources: res("1", "1Gi"), securityContext: RESTRICTED_SC }] },
        },
      },
    };
    expect((await call("POST", "/apis/apps/v1/namespaces/quota/deployments", deploy)).status).toBe(201);
    await kube.settle();
    // pods: a, x and one web pod fit (pods=3); the second web pod is refused.
    const pods = kube.listObjects("v1", "Pod", { namespace: "quota", labelSelector: "app=web" });
    expect(pods).toHaveLength(1);
    const d = kube.getObject("apps/v1", "Deployment", "quota", "web") as KubeObject;
    const failure = (d.status as { conditions: { type: string; reason: string; message: string; status: string }[] }).conditions.find(
      (c) => c.type === "ReplicaFailure",
    );
    expect(failure?.status).toBe("True");
    expect(failure?.reason).toBe("FailedCreate");
    expect(failure?.message).toMatch(
      /^pods "web-[0-9a-z]+-[0-9a-z]{5}" is forbidden: exceeded quota: tenant-quota, requested: pods=1, used: pods=3, limited: pods=3$/,
    );
    const events = await call("GET", "/api/v1/namespaces/quota/events?fieldSelector=reason%3DFailedCreate");
    const items = events.body.items as { involvedObject: { kind: string }; type: string; message: string; source: unknown }[];
    // Each retry names another random pod, so each is its own Event (as on a real cluster).
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      expect(item.involvedObject.kind).toBe("ReplicaSet");
      expect(item.type).toBe("Warning");
      expect(item.source).toEqual({ component: "replicaset-controller" });
      expect(item.message).toMatch(
        /^Error creating: pods "web-[0-9a-z]+-[0-9a-z]{5}" is forbidden: exceeded quota: tenant-quota, requested: pods=1/,
      );
    }

    expect((await call("DELETE", "/api/v1/namespaces/quota/pods/a")).status).toBe(200);
    await kube.settle();
    expect(kube.listObjects("v1", "Pod", { namespace: "quota", labelSelector: "app=web" })).toHaveLength(2);
    const after = kube.getObject("apps/v1", "Deployment", "quota", "web") as KubeObject;
    expect((after.status as { conditions: { type: string }[] }).conditions.map((c) => c.type)).toEqual(["Available", "Progressing"]);
  });
});

describe("LimitRange", () => {
  beforeAll(async () => {
    await namespace("limits");
    const lr = {
      metadata: { name: "tenant-limits" },
      spec: {
        limits: [
          {
            type: "Container",
            defaultRequest: { cpu: "50m", memory: "64Mi" },
            default: { cpu: "500m", memory: "512Mi" },
            max: { cpu: "2000m" },
          },
          { type: "PersistentVolumeClaim", max: { storage: "10Gi" } },
        ],
      },
    };
    expect((await call("POST", "/api/v1/namespaces/limits/limitranges", lr)).status).toBe(201);
  });

  it("defaults requests and limits into containers that set none", async () => {
    const r = await call("POST", "/api/v1/namespaces/limits/pods", pod("d", undefined));
    expect(r.status).toBe(201);
    const c = (r.body.spec as { containers: { resources: unknown }[] }).containers[0];
    expect(c.resources).toEqual({ limits: { cpu: "500m", memory: "512Mi" }, requests: { cpu: "50m", memory: "64Mi" } });
  });

  it("refuses a container over max and a claim over max: 403 with LimitRanger's message", async () => {
    expect((await call("POST", "/api/v1/namespaces/limits/pods", pod("big", { limits: { cpu: "3" } }))).body).toEqual(
      forbidden("pods", "big", "maximum cpu usage per Container is 2, but limit is 3"),
    );
    const claim = { metadata: { name: "huge" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "20Gi" } } } };
    expect((await call("POST", "/api/v1/namespaces/limits/persistentvolumeclaims", claim)).body).toEqual(
      forbidden("persistentvolumeclaims", "huge", "maximum storage usage per PersistentVolumeClaim is 10Gi, but limit is 20Gi"),
    );
  });
});

describe("Pod Security admission", () => {
  const restricted = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
  };
  const BUSYBOX_VIOLATIONS =
    'allowPrivilegeEscalation != false (container "busybox" must set securityContext.allowPrivilegeEscalation=false), ' +
    'unrestricted capabilities (container "busybox" must set securityContext.capabilities.drop=["ALL"]), ' +
    'runAsNonRoot != true (pod or container "busybox" must set securityContext.runAsNonRoot=true), ' +
    'seccompProfile (pod or container "busybox" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';
  const busybox = { name: "busybox", image: "busybox", command: ["sleep", "3600"] };

  beforeAll(async () => {
    await namespace("psa", restricted);
    await namespace("psa-warn", { "pod-security.kubernetes.io/warn": "baseline" });
  });

  it("enforce: a busybox pod with no securityContext is refused with the real message", async () => {
    const r = await call("POST", "/api/v1/namespaces/psa/pods", { metadata: { name: "bb" }, spec: { containers: [busybox] } });
    expect(r).toEqual({
      status: 403,
      warnings: null,
      body: forbidden("pods", "bb", `violates PodSecurity "restricted:latest": ${BUSYBOX_VIOLATIONS}`),
    });
  });

  it("enforce admits a pod that meets restricted", async () => {
    expect((await call("POST", "/api/v1/namespaces/psa/pods", pod("ok", undefined))).status).toBe(201);
  });

  it("workload templates only get a Warning header; the pods they would create are refused (FailedCreate)", async () => {
    const deploy = {
      metadata: { name: "bb" },
      spec: {
        selector: { matchLabels: { app: "bb" } },
        template: { metadata: { labels: { app: "bb" } }, spec: { containers: [busybox] } },
      },
    };
    const r = await call("POST", "/apis/apps/v1/namespaces/psa/deployments", deploy);
    expect(r.status).toBe(201);
    expect(r.warnings).toBe(`299 - ${JSON.stringify(`would violate PodSecurity "restricted:latest": ${BUSYBOX_VIOLATIONS}`)}`);
    await kube.settle();
    expect(kube.listObjects("v1", "Pod", { namespace: "psa", labelSelector: "app=bb" })).toHaveLength(0);
    const rs = kube.listObjects("apps/v1", "ReplicaSet", { namespace: "psa" })[0];
    const cond = (rs.status as { conditions: { reason: string; message: string }[] }).conditions[0];
    expect(cond.reason).toBe("FailedCreate");
    expect(cond.message).toMatch(
      /^pods "bb-[0-9a-z]+-[0-9a-z]{5}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation/,
    );
  });

  it("warn: the pod is admitted with a Warning header", async () => {
    const r = await call("POST", "/api/v1/namespaces/psa-warn/pods", {
      metadata: { name: "hostnet" },
      spec: { hostNetwork: true, containers: [busybox] },
    });
    expect(r.status).toBe(201);
    expect(r.warnings).toBe(`299 - ${JSON.stringify('would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)')}`);
  });
});

describe("StatefulSet OrderedReady (kubernetes/kubernetes#67250)", () => {
  it("a pod broken by a bad image is not replaced when the template is reverted; deleting it unsticks the set", async () => {
    await namespace("sts");
    const sts = (image: string) => ({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db", namespace: "sts" },
      spec: {
        serviceName: "db",
        replicas: 1,
        selector: { matchLabels: { app: "db" } },
        template: { metadata: { labels: { app: "db" } }, spec: { containers: [{ name: "pg", image }] } },
      },
    });
    const apply = (image: string) =>
      call(
        "PATCH",
        "/apis/apps/v1/namespaces/sts/statefulsets/db?fieldManager=test&force=true",
        sts(image),
        "application/apply-patch+yaml",
      );
    expect((await apply("postgres:17")).status).toBe(201);
    await kube.fastForward();
    const first = kube.getObject("v1", "Pod", "sts", "db-0") as KubeObject;
    expect((first.status as { phase: string }).phase).toBe("Running");

    expect((await apply("postgres:bad")).status).toBe(200);
    await kube.fastForward();
    const broken = kube.getObject("v1", "Pod", "sts", "db-0") as KubeObject;
    expect(broken.metadata.uid).not.toBe(first.metadata.uid);
    expect((broken.spec as { containers: { image: string }[] }).containers[0].image).toBe("postgres:bad");

    // Revert: the real controller waits for db-0 to become Ready before it would update it. It never does.
    expect((await apply("postgres:17")).status).toBe(200);
    await kube.fastForward();
    await kube.fastForward();
    const stuck = kube.getObject("v1", "Pod", "sts", "db-0") as KubeObject;
    expect(stuck.metadata.uid).toBe(broken.metadata.uid);
    expect((stuck.spec as { containers: { image: string }[] }).containers[0].image).toBe("postgres:bad");
    const status = (kube.getObject("apps/v1", "StatefulSet", "sts", "db") as KubeObject).status as Record<string, unknown>;
    expect(status.readyReplicas).toBeUndefined();
    expect(status.updatedReplicas).toBeUndefined();
    expect(status.currentRevision).not.toBe(status.updateRevision);

    // Someone deletes the broken pod: it comes back from the reverted template and the set recovers.
    expect((await call("DELETE", "/api/v1/namespaces/sts/pods/db-0")).status).toBe(200);
    await kube.fastForward();
    const fixed = kube.getObject("v1", "Pod", "sts", "db-0") as KubeObject;
    expect((fixed.spec as { containers: { image: string }[] }).containers[0].image).toBe("postgres:17");
    expect((fixed.status as { phase: string }).phase).toBe("Running");
    const healed = (kube.getObject("apps/v1", "StatefulSet", "sts", "db") as KubeObject).status as Record<string, unknown>;
    expect(healed.readyReplicas).toBe(1);
    expect(healed.currentRevision).toBe(healed.updateRevision);
  });
});

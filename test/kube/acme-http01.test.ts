// cert-manager's HTTP-01 challenge against the product's tenant baseline, in the stricter
// emulator: the solver pod, service and ingress count against the tenant's quota, and the
// certificate is issued only if the tenant's NetworkPolicies admit the ingress controller to the
// solver on 8089 — for the baseline as rendered (also for a user at their instance limit), and
// not for a policy set that blocks the solver.
import { KubeEmulator, type KubeObject } from "@minispod/kube-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderTenant } from "../../src/kube/templates/tenant.js";

let kube: KubeEmulator;

beforeAll(async () => {
  kube = await KubeEmulator.start({
    podReadyDelayMs: 0,
    ingressControllerNamespace: "ingress-nginx",
    namespaces: ["default", "kube-system", "ingress-nginx"],
  });
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
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const QUOTA = { maxInstances: 1, cpuMilli: 500, memoryMb: 512, storageGb: 5 };

async function applyTenant(namespace: string, skip: (kind: string, name: string) => boolean = () => false) {
  for (const m of renderTenant({ userId: namespace, namespace, quota: QUOTA, ingressControllerNamespace: "ingress-nginx" })) {
    const meta = m.metadata as { name: string; namespace?: string };
    if (skip(m.kind as string, meta.name)) continue;
    const [group, version] = (m.apiVersion as string).includes("/") ? (m.apiVersion as string).split("/") : ["", m.apiVersion as string];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const plural = {
      Namespace: "namespaces",
      ServiceAccount: "serviceaccounts",
      ResourceQuota: "resourcequotas",
      LimitRange: "limitranges",
      NetworkPolicy: "networkpolicies",
    }[m.kind as string];
    const path = m.kind === "Namespace" ? `${base}/namespaces/${meta.name}` : `${base}/namespaces/${namespace}/${plural}/${meta.name}`;
    const r = await call("PATCH", `${path}?fieldManager=minispod&force=true`, m, "application/apply-patch+yaml");
    expect([200, 201]).toContain(r.status);
  }
  await kube.settle();
}

/** One instance using the user's whole quota: its pod, its service, its claim, and its Ingress asking for a certificate. */
async function fullInstance(namespace: string) {
  const sc = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: "RuntimeDefault" },
  };
  const resources = { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "500m", memory: "512Mi" } };
  const pod = {
    metadata: { name: "app", labels: { app: "app", "minispod.io/expose-http": "true" } },
    spec: { containers: [{ name: "app", image: "ghost:5", resources, securityContext: sc }] },
  };
  expect((await call("POST", `/api/v1/namespaces/${namespace}/pods`, pod)).status).toBe(201);
  expect(
    (
      await call("POST", `/api/v1/namespaces/${namespace}/services`, {
        metadata: { name: "app" },
        spec: { selector: { app: "app" }, ports: [{ port: 80 }] },
      })
    ).status,
  ).toBe(201);
  const ingress = {
    metadata: { name: "app", annotations: { "cert-manager.io/cluster-issuer": "letsencrypt" } },
    spec: {
      tls: [{ hosts: ["app.example.com"], secretName: "app-tls" }],
      rules: [
        {
          host: "app.example.com",
          http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "app", port: { number: 80 } } } }] },
        },
      ],
    },
  };
  expect((await call("POST", `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`, ingress)).status).toBe(201);
  await kube.settle();
}

const ready = (ns: string) =>
  (
    (kube.getObject("cert-manager.io/v1", "Certificate", ns, "app-tls") as KubeObject).status as {
      conditions: { type: string; status: string; reason: string; message: string }[];
    }
  ).conditions;
const solvers = (ns: string) => kube.listObjects("v1", "Pod", { namespace: ns, labelSelector: "acme.cert-manager.io/http01-solver=true" });

describe("ACME HTTP-01 against the tenant baseline", () => {
  it("issues the certificate for a user at their instance limit, and removes the solver afterwards", async () => {
    await applyTenant("user-full");
    await fullInstance("user-full");
    expect(ready("user-full")[0]).toMatchObject({ type: "Ready", status: "True", reason: "Ready" });
    expect(kube.getObject("v1", "Secret", "user-full", "app-tls")?.type).toBe("kubernetes.io/tls");
    expect(solvers("user-full")).toEqual([]);
    expect(kube.listObjects("v1", "Service", { namespace: "user-full" }).map((s) => s.metadata.name)).toEqual(["app"]);
  });

  it("stalls, not Ready with the reason, when the policies do not admit the ingress controller to the solver", async () => {
    await applyTenant("user-blocked", (kind, name) => kind === "NetworkPolicy" && name === "allow-acme-http01-solver");
    await fullInstance("user-blocked");
    const [r, issuing] = ready("user-blocked");
    expect(r).toMatchObject({
      type: "Ready",
      status: "False",
      reason: "DoesNotExist",
      message: "Issuing certificate as Secret does not exist",
    });
    expect(issuing.message).toMatch(
      /^Waiting for HTTP-01 challenge propagation: .*NetworkPolicy in user-blocked does not admit ingress-nginx to the solver on 8089\)$/,
    );
    expect(kube.getObject("v1", "Secret", "user-blocked", "app-tls")).toBeUndefined();
    // The solver runs (and is counted against the quota) while the challenge is pending.
    const [solver] = solvers("user-blocked");
    expect((solver.spec as { containers: { ports: unknown; resources: unknown }[] }).containers[0]).toMatchObject({
      ports: [{ name: "http", containerPort: 8089, protocol: "TCP" }],
      resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
    });
    const quota = kube.getObject("v1", "ResourceQuota", "user-blocked", "tenant-quota") as KubeObject;
    expect((quota.status as { used: Record<string, string> }).used).toMatchObject({
      pods: "2",
      services: "2",
      "limits.cpu": "600m",
      "requests.cpu": "510m",
    });

    // Adding the baseline's policy lets the challenge through.
    await applyTenant("user-blocked");
    expect(ready("user-blocked")[0]).toMatchObject({ type: "Ready", status: "True" });
    expect(solvers("user-blocked")).toEqual([]);
  });
});

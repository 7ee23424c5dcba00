// The Kubernetes API emulator, driven through the real @kubernetes/client-node and raw fetch:
// discovery, CRUD, Status errors, patch formats, server-side apply, selectors and pagination.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Deployment,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

let kube: KubeEmulator;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;

beforeAll(async () => {
  kube = await KubeEmulator.start({ podReadyDelayMs: 0 });
  kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfigYaml());
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  objects = KubernetesObjectApi.makeApiClient(kc);
});
afterAll(async () => {
  await kube.stop();
});

/** Raw request with the emulator's token; returns status, parsed body and headers. */
async function raw(method: string, path: string, body?: unknown, contentType = "application/json") {
  const res = await fetch(`${kube.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${kube.token}`,
      "content-type": contentType,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** The parsed Status of a failed client-node call (ApiException.body is a JSON string). */
async function statusOf(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) return JSON.parse(err.body as string) as Record<string, unknown>;
    throw err;
  }
  throw new Error("expected the call to fail");
}

function deployment(
  name: string,
  namespace: string,
  extra: {
    image?: string;
    replicas?: number;
    labels?: Record<string, string>;
  } = {},
) {
  const labels = { app: name, ...(extra.labels ?? {}) };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels },
    spec: {
      replicas: extra.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "app",
              image: extra.image ?? "n8nio/n8n:1.64.0",
              ports: [{ containerPort: 5678 }],
            },
          ],
        },
      },
    },
  };
}

async function ns(name: string) {
  await core.createNamespace({ body: { metadata: { name } } });
}

describe("discovery and misc endpoints", () => {
  it("serves /api, /api/v1, /apis and group versions with resource facts", async () => {
    const api = await raw("GET", "/api");
    expect(api.status).toBe(200);
    expect(api.body).toMatchObject({ kind: "APIVersions", versions: ["v1"] });

    const v1 = await raw("GET", "/api/v1");
    const resources = v1.body.resources as Record<string, unknown>[];
    expect(v1.body.groupVersion).toBe("v1");
    expect(resources.find((r) => r.name === "pods")).toEqual({
      name: "pods",
      singularName: "pod",
      namespaced: true,
      kind: "Pod",
      verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      shortNames: ["po"],
      categories: ["all"],
    });
    expect(resources.find((r) => r.name === "pods/log")).toMatchObject({
      kind: "Pod",
      verbs: ["get"],
    });
    expect(resources.find((r) => r.name === "namespaces")).toMatchObject({
      namespaced: false,
      shortNames: ["ns"],
    });

    const groups = await raw("GET", "/apis");
    const names = (groups.body.groups as { name: string }[]).map((g) => g.name);
    expect(names).toEqual([
      "apps",
      "discovery.k8s.io",
      "networking.k8s.io",
      "cert-manager.io",
      "snapshot.storage.k8s.io",
      "metrics.k8s.io",
    ]);

    const appsV1 = await raw("GET", "/apis/apps/v1");
    expect((appsV1.body.resources as { name: string }[]).map((r) => r.name)).toContain("deployments/scale");
    const certs = await raw("GET", "/apis/cert-manager.io/v1");
    expect(certs.body.resources).toContainEqual(expect.objectContaining({ name: "certificates", kind: "Certificate" }));

    const version = await raw("GET", "/version");
    expect(version.body).toMatchObject({ major: "1", minor: "33" });
  });

  it("answers an unknown path with a loud 404 Status, never a silent success", async () => {
    kube.recorder.reset();
    for (const path of ["/apis/apps/v1/namespaces/default/widgets", "/api/v2/pods", "/apis/nope.io/v1", "/foo"]) {
      const res = await raw("GET", path);
      expect(res.status).toBe(404);
      expect(res.headers.get("x-emulator-unknown-route")).toBe("true");
      expect(res.body).toMatchObject({
        kind: "Status",
        status: "Failure",
        reason: "NotFound",
        code: 404,
      });
    }
    expect(kube.recorder.unknownRoutes().map((c) => c.path)).toEqual([
      "/apis/apps/v1/namespaces/default/widgets",
      "/api/v2/pods",
      "/apis/nope.io/v1",
      "/foo",
    ]);
  });

  it("rejects a wrong token with 401 (and a missing one when requireAuth is set)", async () => {
    const res = await fetch(`${kube.url}/api/v1/namespaces`, {
      headers: { authorization: "Bearer wrong" },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      kind: "Status",
      reason: "Unauthorized",
      code: 401,
    });
    expect((await fetch(`${kube.url}/api/v1/namespaces`)).status).toBe(200);
    const strict = await KubeEmulator.start({ requireAuth: true });
    try {
      expect((await fetch(`${strict.url}/api/v1/namespaces`)).status).toBe(401);
      expect(
        (
          await fetch(`${strict.url}/api/v1/namespaces`, {
            headers: { authorization: `Bearer ${strict.token}` },
          })
        ).status,
      ).toBe(200);
    } finally {
      await strict.stop();
    }
  });
});

describe("CRUD and Status errors", () => {
  beforeAll(() => ns("crud"));

  it("creates (201), reads, updates and deletes a ConfigMap with one increasing resourceVersion", async () => {
    const created = await raw("POST", "/api/v1/namespaces/crud/configmaps", {
      metadata: { name: "cfg" },
      data: { a: "1" },
    });
    expect(created.status).toBe(201);
    const meta = created.body.metadata as Record<string, unknown>;
    expect(meta.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const rv1 = Number(meta.resourceVersion);

    const read = await core.readNamespacedConfigMap({
      name: "cfg",
      namespace: "crud",
    });
    expect(read.data).toEqual({ a: "1" });

    read.data = { a: "2" };
    const updated = await core.replaceNamespacedConfigMap({
      name: "cfg",
      namespace: "crud",
      body: read,
    });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(rv1);
    expect(updated.metadata?.uid).toBe(meta.uid);

    const del = await raw("DELETE", "/api/v1/namespaces/crud/configmaps/cfg");
    expect(del.status).toBe(200);
    expect(del.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: "cfg", kind: "configmaps", uid: meta.uid },
      code: 200,
    });
    const gone = await statusOf(core.readNamespacedConfigMap({ name: "cfg", namespace: "crud" }));
    expect(gone).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'configmaps "cfg" not found',
      reason: "NotFound",
      details: { name: "cfg", kind: "configmaps" },
      code: 404,
    });
    const delAgain = await raw("DELETE", "/api/v1/namespaces/crud/configmaps/cfg");
    expect(delAgain.status).toBe(404);
  });

  it("returns 409 AlreadyExists on a duplicate create and 409 Conflict on a stale update", async () => {
    await apps.createNamespacedDeployment({
      namespace: "crud",
      body: deployment("dup", "crud") as V1Deployment,
    });
    const dup = await statusOf(
      apps.createNamespacedDeployment({
        namespace: "crud",
        body: deployment("dup", "crud") as V1Deployment,
      }),
    );
    expect(dup).toMatchObject({
      status: "Failure",
      message: 'deployments.apps "dup" already exists',
      reason: "AlreadyExists",
      details: { name: "dup", group: "apps", kind: "deployments" },
      code: 409,
    });
    const live = await apps.readNamespacedDeployment({
      name: "dup",
      namespace: "crud",
    });
    const stale = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: "1" },
    };
    const conflict = await statusOf(
      apps.replaceNamespacedDeployment({
        name: "dup",
        namespace: "crud",
        body: stale,
      }),
    );
    expect(conflict).toMatchObject({
      reason: "Conflict",
      code: 409,
      message:
        'Operation cannot be fulfilled on deployments.apps "dup": the object has been modified; please apply your changes to the latest version and try again',
    });
  });

  it("returns 422 Invalid with causes for bad names and broken deployments", async () => {
    const badName = await raw("POST", "/api/v1/namespaces/crud/configmaps", {
      metadata: { name: "Bad_Name" },
    });
    expect(badName.status).toBe(422);
    expect(badName.body).toMatchObject({
      reason: "Invalid",
      code: 422,
      details: { name: "Bad_Name", kind: "ConfigMap" },
    });
    expect((badName.body.details as { causes: unknown[] }).causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "metadata.name",
        message: expect.stringMatching(/^Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/),
      },
    ]);
    // Services need an RFC 1035 label (must start with a letter); namespaces an RFC 1123 label.
    const svc = await raw("POST", "/api/v1/namespaces/crud/services", {
      metadata: { name: "1svc" },
      spec: { ports: [{ port: 80 }] },
    });
    expect(svc.status).toBe(422);
    const nsDot = await raw("POST", "/api/v1/namespaces", {
      metadata: { name: "a.b" },
    });
    expect(nsDot.status).toBe(422);

    const broken = deployment("broken", "crud");
    broken.spec.template.metadata.labels = { app: "other" };
    (broken.spec.template.spec.containers[0] as { image?: string }).image = undefined;
    const res = await raw("POST", "/apis/apps/v1/namespaces/crud/deployments", broken);
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/^Deployment\.apps "broken" is invalid: \[/);
    expect((res.body.details as { causes: { field: string; reason: string }[] }).causes.map((c) => [c.field, c.reason])).toEqual([
      ["spec.template.metadata.labels", "FieldValueInvalid"],
      ["spec.template.spec.containers[0].image", "FieldValueRequired"],
    ]);
    const noSelector = deployment("nosel", "crud") as Record<string, unknown> & { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    const res2 = await raw("POST", "/apis/apps/v1/namespaces/crud/deployments", noSelector);
    expect((res2.body.details as { causes: { field: string }[] }).causes).toContainEqual(
      expect.objectContaining({
        field: "spec.selector",
        reason: "FieldValueRequired",
      }),
    );
  });

  it("returns 404 for a create in a missing namespace and 400 for malformed or mismatched bodies", async () => {
    const missing = await raw("POST", "/api/v1/namespaces/nowhere/configmaps", {
      metadata: { name: "x" },
    });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      reason: "NotFound",
      message: 'namespaces "nowhere" not found',
      details: { name: "nowhere", kind: "namespaces" },
    });
    const malformed = await raw("POST", "/api/v1/namespaces/crud/configmaps", "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({
      kind: "Status",
      reason: "BadRequest",
      code: 400,
    });
    const wrongKind = await raw("POST", "/api/v1/namespaces/crud/configmaps", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "x" },
    });
    expect(wrongKind.status).toBe(400);
    const wrongName = await raw("PUT", "/api/v1/namespaces/crud/configmaps/a", {
      metadata: { name: "b" },
    });
    expect(wrongName.status).toBe(400);
    expect(wrongName.body.message).toBe("the name of the object (b) does not match the name on the URL (a)");
  });

  it("folds Secret stringData into base64 data and defaults Service fields", async () => {
    const secret = await core.createNamespacedSecret({
      namespace: "crud",
      body: { metadata: { name: "s" }, stringData: { password: "hunter2" } },
    });
    expect(secret.data).toEqual({
      password: Buffer.from("hunter2").toString("base64"),
    });
    expect(secret.stringData).toBeUndefined();
    expect(secret.type).toBe("Opaque");
    const svc = await core.createNamespacedService({
      namespace: "crud",
      body: {
        metadata: { name: "web" },
        spec: {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: 5678 }],
        },
      },
    });
    expect(svc.spec?.type).toBe("ClusterIP");
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\./);
    expect(svc.spec?.ports?.[0].protocol).toBe("TCP");
  });
});

describe("patch content types", () => {
  beforeAll(async () => {
    await ns("patching");
    await apps.createNamespacedDeployment({
      namespace: "patching",
      body: deployment("web", "patching") as V1Deployment,
    });
  });

  it("applies JSON patch, merge patch and strategic merge patch (containers merge by name)", async () => {
    const p = "/apis/apps/v1/namespaces/patching/deployments/web";
    const j = await raw("PATCH", p, [{ op: "replace", path: "/spec/replicas", value: 3 }], "application/json-patch+json");
    expect(j.status).toBe(200);
    expect((j.body.spec as { replicas: number }).replicas).toBe(3);

    const m = await raw("PATCH", p, { metadata: { labels: { tier: "web" } } }, "application/merge-patch+json");
    expect((m.body.metadata as { labels: Record<string, string> }).labels).toEqual({ app: "web", tier: "web" });

    const s = await raw(
      "PATCH",
      p,
      {
        spec: {
          template: {
            spec: {
              containers: [
                { name: "sidecar", image: "busybox:1.36" },
                { name: "app", env: [{ name: "A", value: "1" }] },
              ],
            },
          },
        },
      },
      "application/strategic-merge-patch+json",
    );
    expect(s.status).toBe(200);
    const containers = (
      s.body.spec as {
        template: {
          spec: {
            containers: { name: string; image: string; env?: unknown[] }[];
          };
        };
      }
    ).template.spec.containers;
    expect(containers.map((c) => [c.name, c.image])).toEqual([
      ["app", "n8nio/n8n:1.64.0"],
      ["sidecar", "busybox:1.36"],
    ]);
    expect(containers[0].env).toEqual([{ name: "A", value: "1" }]);
    expect((s.body.metadata as { generation: number }).generation).toBe(3);
  });

  it("rejects other content types with 415, failing JSON patches with 422, and stale resourceVersions with 409", async () => {
    const p = "/apis/apps/v1/namespaces/patching/deployments/web";
    const bad = await raw("PATCH", p, { spec: {} }, "text/plain");
    expect(bad.status).toBe(415);
    expect(bad.body).toMatchObject({
      kind: "Status",
      reason: "UnsupportedMediaType",
      code: 415,
    });
    const test = await raw("PATCH", p, [{ op: "test", path: "/spec/replicas", value: 99 }], "application/json-patch+json");
    expect(test.status).toBe(422);
    const stale = await raw("PATCH", p, { metadata: { resourceVersion: "1" }, spec: { replicas: 1 } }, "application/merge-patch+json");
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe("Conflict");
    const missing = await raw("PATCH", "/apis/apps/v1/namespaces/patching/deployments/nope", {}, "application/merge-patch+json");
    expect(missing.status).toBe(404);
  });
});

describe("server-side apply", () => {
  beforeAll(() => ns("ssa"));

  it("creates with 201, is idempotent (resourceVersion unchanged), and records managedFields per manager", async () => {
    const dep: KubernetesObject = deployment("svc-a", "ssa", { replicas: 2 });
    const first = await objects.patch(dep, undefined, undefined, "minispod", true, PatchStrategy.ServerSideApply);
    await kube.settle();
    const settled = await apps.readNamespacedDeployment({
      name: "svc-a",
      namespace: "ssa",
    });
    const again = await objects.patch(dep, undefined, undefined, "minispod", true, PatchStrategy.ServerSideApply);
    expect(again.metadata?.resourceVersion).toBe(settled.metadata?.resourceVersion);
    expect(first.metadata?.uid).toBe(again.metadata?.uid);
    const mf = again.metadata?.managedFields ?? [];
    expect(mf.map((m) => [m.manager, m.operation])).toEqual([["minispod", "Apply"]]);
    expect(mf[0].fieldsV1).toMatchObject({
      "f:spec": {
        "f:replicas": {},
        "f:template": {
          "f:spec": {
            "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:image": {} } },
          },
        },
      },
    });

    const created = await raw(
      "PATCH",
      "/api/v1/namespaces/ssa/configmaps/applied?fieldManager=minispod",
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "applied" },
        data: { a: "1" },
      },
      "application/apply-patch+yaml",
    );
    expect(created.status).toBe(201);
    const yamlBody = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n";
    const reapplied = await raw(
      "PATCH",
      "/api/v1/namespaces/ssa/configmaps/applied?fieldManager=minispod",
      yamlBody,
      "application/apply-patch+yaml",
    );
    expect(reapplied.status).toBe(200);
    expect((reapplied.body.metadata as { resourceVersion: string }).resourceVersion).toBe(
      (created.body.metadata as { resourceVersion: string }).resourceVersion,
    );
  });

  it("removes fields a manager stops applying, and requires a fieldManager", async () => {
    const path = "/api/v1/namespaces/ssa/configmaps/shrink?fieldManager=minispod";
    await raw(
      "PATCH",
      path,
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "shrink" },
        data: { a: "1", b: "2" },
      },
      "application/apply-patch+yaml",
    );
    const res = await raw(
      "PATCH",
      path,
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "shrink" },
        data: { a: "1" },
      },
      "application/apply-patch+yaml",
    );
    expect(res.body.data).toEqual({ a: "1" });
    const noManager = await raw(
      "PATCH",
      "/api/v1/namespaces/ssa/configmaps/shrink",
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shrink" } },
      "application/apply-patch+yaml",
    );
    expect(noManager.status).toBe(400);
  });

  it("reports a 409 conflict with causes when another manager owns a changed field; force takes it over", async () => {
    const dep: KubernetesObject = deployment("svc-b", "ssa", { replicas: 1 });
    await objects.patch(dep, undefined, undefined, "minispod", true, PatchStrategy.ServerSideApply);
    // Someone else (kubectl scale-like) changes replicas with an Update operation.
    await raw(
      "PATCH",
      "/apis/apps/v1/namespaces/ssa/deployments/svc-b?fieldManager=kubectl",
      { spec: { replicas: 5 } },
      "application/merge-patch+json",
    );
    const conflict = await statusOf(objects.patch(dep, undefined, undefined, "minispod", false, PatchStrategy.ServerSideApply));
    expect(conflict).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas',
      reason: "Conflict",
      details: {
        causes: [
          {
            reason: "FieldManagerConflict",
            message: 'conflict with "kubectl" using apps/v1',
            field: ".spec.replicas",
          },
        ],
      },
      code: 409,
    });
    const forced = await objects.patch(dep, undefined, undefined, "minispod", true, PatchStrategy.ServerSideApply);
    expect((forced as V1Deployment).spec?.replicas).toBe(1);
    const owners = forced.metadata?.managedFields?.map((m) => m.manager);
    expect(owners).toEqual(["minispod"]);
  });
});

describe("stored objects", () => {
  // What lists, watches and the values derived once per stored object rely on; the test suites run with
  // EMULATOR_CHECK_STORED=1 (vitest.config.ts), which makes a write over a mutated object throw.
  it.runIf(process.env.EMULATOR_CHECK_STORED)("a stored object mutated in place is caught at its next write", async () => {
    await ns("immutable");
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace: "immutable" }, data: { a: "1" } };
    kube.apply(cm);
    (kube.getObject("v1", "ConfigMap", "immutable", "cm") as unknown as { data: Record<string, string> }).data.a = "2";
    expect(() => kube.apply({ ...cm, data: { a: "3" } })).toThrow(
      "emulator: the stored configmaps immutable/cm was mutated after it was stored",
    );
  });
});

describe("managedFields of updates", () => {
  beforeAll(() => ns("owners"));

  it("a manager that writes its own fields again keeps them; one that writes another's field takes it", async () => {
    const base = "/api/v1/namespaces/owners/configmaps";
    const merge = (manager: string, data: Record<string, string>) =>
      raw("PATCH", `${base}/cm?fieldManager=${manager}`, { data }, "application/merge-patch+json");
    const owners = (body: Record<string, unknown>) =>
      (
        (body.metadata as { managedFields: { manager: string; operation: string; time: string; fieldsV1: unknown }[] }).managedFields ?? []
      ).map((m) => ({ manager: m.manager, operation: m.operation, fieldsV1: m.fieldsV1 }));
    expect((await raw("POST", `${base}?fieldManager=first`, { metadata: { name: "cm" }, data: { a: "1" } })).status).toBe(201);
    const added = await merge("second", { b: "2" });
    expect(added.status).toBe(200);
    const both = [
      { manager: "first", operation: "Update", fieldsV1: { "f:data": { "f:a": {} } } },
      { manager: "second", operation: "Update", fieldsV1: { "f:data": { "f:b": {} } } },
    ];
    expect(owners(added.body)).toEqual(both);
    // The same field again, a new value: the same ownership.
    const again = await merge("second", { b: "3" });
    expect(owners(again.body)).toEqual(both);
    expect((again.body.data as Record<string, string>).b).toBe("3");
    // Another manager's field: it moves to the writer, and a manager left with nothing is dropped.
    const taken = await merge("second", { a: "9" });
    expect(owners(taken.body)).toEqual([{ manager: "second", operation: "Update", fieldsV1: { "f:data": { "f:a": {}, "f:b": {} } } }]);
  });
});

describe("list: selectors and pagination", () => {
  beforeAll(async () => {
    await ns("sel-a");
    await ns("sel-b");
    for (const [n, tier, env] of [
      ["sel-a", "web", "prod"],
      ["sel-a", "db", "prod"],
      ["sel-b", "web", "dev"],
      ["sel-b", "cache", undefined],
    ] as const) {
      const labels: Record<string, string> = { tier };
      if (env) labels.env = env;
      await core.createNamespacedConfigMap({
        namespace: n,
        body: { metadata: { name: `${tier}-cm`, labels } },
      });
    }
  });

  const names = (items: { metadata?: { namespace?: string; name?: string } }[]) =>
    items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`);

  it("supports =, ==, !=, in, notin, exists and !exists across namespaces", async () => {
    const q = async (labelSelector: string) => names((await core.listConfigMapForAllNamespaces({ labelSelector })).items);
    expect(await q("tier=web")).toEqual(["sel-a/web-cm", "sel-b/web-cm"]);
    expect(await q("tier==db")).toEqual(["sel-a/db-cm"]);
    expect(await q("tier,tier!=web")).toEqual(["sel-a/db-cm", "sel-b/cache-cm"]);
    expect(await q("tier in (db, cache)")).toEqual(["sel-a/db-cm", "sel-b/cache-cm"]);
    expect(await q("tier,env notin (prod)")).toEqual(["sel-b/cache-cm", "sel-b/web-cm"]);
    expect(await q("tier,!env")).toEqual(["sel-b/cache-cm"]);
    expect(await q("env,tier=web")).toEqual(["sel-a/web-cm", "sel-b/web-cm"]);
    const bad = await raw("GET", "/api/v1/configmaps?labelSelector=a%20b%20c");
    expect(bad.status).toBe(400);
  });

  it("supports field selectors on metadata.name / metadata.namespace and rejects unknown fields", async () => {
    const byName = await core.listConfigMapForAllNamespaces({
      fieldSelector: "metadata.name=web-cm",
    });
    expect(names(byName.items)).toEqual(["sel-a/web-cm", "sel-b/web-cm"]);
    const byNs = await core.listConfigMapForAllNamespaces({
      fieldSelector: "metadata.namespace!=sel-a",
      labelSelector: "tier",
    });
    expect(names(byNs.items)).toEqual(["sel-b/cache-cm", "sel-b/web-cm"]);
    const bad = await raw("GET", "/api/v1/configmaps?fieldSelector=spec.foo%3Dx");
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe("field label not supported: spec.foo");
  });

  it("paginates with limit and continue; remainingItemCount only without selectors", async () => {
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await core.listConfigMapForAllNamespaces({
        labelSelector: "tier",
        limit: 3,
        _continue: cont,
      });
      seen.push(...names(page.items));
      cont = page.metadata?._continue || undefined;
      expect(page.metadata?.remainingItemCount).toBeUndefined();
      pages++;
    } while (cont);
    expect(pages).toBe(2);
    expect(seen).toEqual(["sel-a/db-cm", "sel-a/web-cm", "sel-b/cache-cm", "sel-b/web-cm"]);

    const first = await raw("GET", "/api/v1/namespaces/sel-a/configmaps?limit=1");
    expect((first.body.items as unknown[]).length).toBe(1);
    expect(first.body.metadata).toMatchObject({
      remainingItemCount: 1,
      continue: expect.any(String),
    });
    // Items of typed lists carry no apiVersion/kind, as on a real server.
    expect((first.body.items as Record<string, unknown>[])[0].kind).toBeUndefined();
    const badToken = await raw("GET", "/api/v1/configmaps?continue=garbage");
    expect(badToken.status).toBe(400);
  });
});

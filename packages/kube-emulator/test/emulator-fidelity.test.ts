// What a real API server does that clients notice, over plain HTTP so exact statuses, bodies and
// headers are visible: field validation (types, unknown and duplicate fields by fieldValidation),
// OpenAPI v2/v3 with the upstream schemas, protobuf bodies, ServiceAccount token automount, graceful
// pod deletion, the pvc-protection finalizer, Endpoints/EndpointSlices, logs --previous, image IDs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator, type KubeObject } from "../src/index.js";

let kube: KubeEmulator;

beforeAll(async () => {
  kube = await KubeEmulator.start({ podReadyDelayMs: 0, podStopDelayMs: 200 });
  for (const ns of ["fv", "sa", "term", "ep"]) await call("POST", "/api/v1/namespaces", { metadata: { name: ns } });
  await kube.settle();
});
afterAll(async () => {
  await kube.stop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  opts: { contentType?: string; raw?: string | Buffer; accept?: string } = {},
) {
  const res = await fetch(`${kube.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${kube.token}`,
      ...(body !== undefined || opts.raw !== undefined ? { "Content-Type": opts.contentType ?? "application/json" } : {}),
      ...(opts.accept ? { Accept: opts.accept } : {}),
    },
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get("content-type") ?? "";
  return {
    status: res.status,
    type,
    bytes: text,
    body: (type.startsWith("application/json") ? JSON.parse(text.toString()) : {}) as Record<string, unknown>,
    warnings: res.headers.get("warning"),
  };
}

const badRequest = (message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason: "BadRequest",
  code: 400,
});

describe("field validation", () => {
  const cms = "/api/v1/namespaces/fv/configmaps";

  it("refuses wrong types in every mode with the decoder's message", async () => {
    for (const mode of ["Strict", "Warn", "Ignore"]) {
      const r = await call("POST", `${cms}?fieldValidation=${mode}`, { metadata: { name: "t" }, data: { C: 3 } });
      expect(r.status).toBe(400);
      expect(r.body).toEqual(
        badRequest(
          'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string',
        ),
      );
    }
    const d = await call("POST", "/apis/apps/v1/namespaces/fv/deployments", {
      metadata: { name: "d" },
      spec: {
        replicas: "2",
        selector: { matchLabels: { a: "b" } },
        template: { metadata: { labels: { a: "b" } }, spec: { containers: [] } },
      },
    });
    expect(d.body.message).toBe(
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32',
    );
  });

  it("Strict refuses unknown and duplicate fields, Warn drops them with a warning, Ignore drops them", async () => {
    const raw = '{"metadata":{"name":"s"},"data":{"a":"1","a":"2"},"bogus":1,"spec":{"x":1}}';
    const strict = await call("POST", `${cms}?fieldValidation=Strict`, undefined, { raw });
    expect(strict.status).toBe(400);
    expect(strict.body).toEqual(
      badRequest(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus", unknown field "spec", duplicate field "data.a"',
      ),
    );
    const warn = await call("POST", cms, undefined, { raw: raw.replace('"s"', '"w"') });
    expect(warn.status).toBe(201);
    expect(warn.warnings).toBe('299 - "unknown field \\"bogus\\"", 299 - "unknown field \\"spec\\"", 299 - "duplicate field \\"data.a\\""');
    expect(warn.body.bogus).toBeUndefined();
    expect(warn.body.data).toEqual({ a: "2" });
    const ignore = await call("POST", `${cms}?fieldValidation=Ignore`, undefined, { raw: raw.replace('"s"', '"i"') });
    expect(ignore.status).toBe(201);
    expect(ignore.warnings).toBeNull();
    const nested = await call("POST", "/api/v1/namespaces/fv/pods?fieldValidation=Strict", {
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "busybox", foo: 1 }] },
    });
    expect(nested.body.message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].foo"',
    );
    expect((await call("POST", `${cms}?fieldValidation=Loose`, { metadata: { name: "x" } })).body.message).toBe(
      'fieldValidation parameter unsupported: "Loose"',
    );
  });

  it("checks the object a JSON patch produces: Strict refuses, Warn removes the unknown field", async () => {
    await call("POST", cms, { metadata: { name: "jp" }, data: { a: "1" } });
    const ops = [
      { op: "add", path: "/bogus", value: 1 },
      { op: "replace", path: "/data/a", value: "2" },
    ];
    const path = `${cms}/jp`;
    const strict = await call("PATCH", `${path}?fieldValidation=Strict`, ops, { contentType: "application/json-patch+json" });
    expect(strict.body.message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"',
    );
    const typed = await call("PATCH", path, [{ op: "replace", path: "/data/a", value: 2 }], { contentType: "application/json-patch+json" });
    expect(typed.status).toBe(400);
    const warn = await call("PATCH", path, ops, { contentType: "application/json-patch+json" });
    expect(warn.status).toBe(200);
    expect(warn.warnings).toBe('299 - "unknown field \\"bogus\\""');
    expect(warn.body.bogus).toBeUndefined();
    expect(warn.body.data).toEqual({ a: "2" });
  });

  it("server-side apply refuses unknown fields whatever the mode", async () => {
    const r = await call("PATCH", "/api/v1/namespaces/fv/configmaps/a?fieldManager=t&fieldValidation=Ignore", undefined, {
      contentType: "application/apply-patch+yaml",
      raw: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbogus: 1\n",
    });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe("failed to create typed patch object (fv/a; /v1, Kind=ConfigMap): .bogus: field not declared in schema");
  });
});

describe("OpenAPI", () => {
  it("serves v3 documents with the upstream schemas, and v2 as JSON and as gnostic protobuf", async () => {
    const v3 = await call("GET", "/openapi/v3/apis/apps/v1");
    const schemas = (v3.body.components as { schemas: Record<string, { properties?: Record<string, { description?: string }> }> }).schemas;
    expect(schemas["io.k8s.api.apps.v1.DeploymentSpec"].properties?.replicas).toEqual({
      type: "integer",
      description: "Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1.",
    });
    expect(schemas["io.k8s.api.core.v1.Container"].properties?.image?.description).toMatch(/^Container image name\./);
    const v2 = await call("GET", "/openapi/v2");
    expect((v2.body.definitions as Record<string, unknown>)["io.k8s.api.core.v1.ConfigMap"]).toMatchObject({
      "x-kubernetes-group-version-kind": [{ group: "", version: "v1", kind: "ConfigMap" }],
    });
    const pb = await call("GET", "/openapi/v2", undefined, { accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" });
    expect(pb.type).toBe("application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
    // Document.swagger (field 1) = "2.0" comes first.
    expect([...pb.bytes.subarray(0, 5)]).toEqual([0x0a, 3, 0x32, 0x2e, 0x30]);
    expect(pb.bytes.includes(Buffer.from("io.k8s.api.apps.v1.DeploymentSpec"))).toBe(true);
  });
});

describe("protobuf request bodies", () => {
  // k8s\0 + runtime.Unknown{typeMeta{apiVersion: v1, kind: ConfigMap}, raw: ConfigMap{metadata{name: pb}, data{k: v}}}
  const str = (field: number, s: string | Buffer) => {
    const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
    return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
  };
  const configMap = Buffer.concat([str(1, str(1, "pb")), str(2, Buffer.concat([str(1, "k"), str(2, "v")]))]);
  const typeMeta = Buffer.concat([str(1, "v1"), str(2, "ConfigMap")]);
  const body = Buffer.concat([Buffer.from("k8s\0"), str(1, typeMeta), str(2, configMap)]);

  it("decodes ConfigMaps as kubectl create sends them, and refuses kinds it cannot decode (StatefulSet) with a 415", async () => {
    const r = await call("POST", "/api/v1/namespaces/fv/configmaps", undefined, {
      contentType: "application/vnd.kubernetes.protobuf",
      raw: body,
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toEqual({ k: "v" });
    const sts = Buffer.concat([
      Buffer.from("k8s\0"),
      str(1, Buffer.concat([str(1, "apps/v1"), str(2, "StatefulSet")])),
      str(2, Buffer.alloc(0)),
    ]);
    const refused = await call("POST", "/apis/apps/v1/namespaces/fv/statefulsets", undefined, {
      contentType: "application/vnd.kubernetes.protobuf",
      raw: sts,
    });
    expect(refused.status).toBe(415);
    expect(refused.body.message).toBe(
      "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
    );
  });
});

describe("ServiceAccount admission", () => {
  it("mounts a projected token unless automount is off on the account or the pod, and refuses a missing account", async () => {
    const spec = { containers: [{ name: "c", image: "busybox" }] };
    const on = await call("POST", "/api/v1/namespaces/sa/pods", { metadata: { name: "on" }, spec });
    expect(on.status).toBe(201);
    const podSpec = on.body.spec as { serviceAccountName: string; volumes: { name: string }[]; containers: { volumeMounts: unknown[] }[] };
    expect(podSpec.serviceAccountName).toBe("default");
    expect(podSpec.volumes[0].name).toMatch(/^kube-api-access-[a-z0-9]{5}$/);
    expect(podSpec.containers[0].volumeMounts).toEqual([
      { name: podSpec.volumes[0].name, readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" },
    ]);
    const off = await call("POST", "/api/v1/namespaces/sa/pods", {
      metadata: { name: "off" },
      spec: { ...spec, automountServiceAccountToken: false },
    });
    expect((off.body.spec as { volumes?: unknown }).volumes).toBeUndefined();
    await call("POST", "/api/v1/namespaces/sa/serviceaccounts", { metadata: { name: "quiet" }, automountServiceAccountToken: false });
    const quiet = await call("POST", "/api/v1/namespaces/sa/pods", {
      metadata: { name: "quiet" },
      spec: { ...spec, serviceAccountName: "quiet" },
    });
    expect((quiet.body.spec as { volumes?: unknown }).volumes).toBeUndefined();
    const missing = await call("POST", "/api/v1/namespaces/sa/pods", {
      metadata: { name: "m" },
      spec: { ...spec, serviceAccountName: "nope" },
    });
    expect(missing.status).toBe(403);
    expect(missing.body.message).toBe('pods "m" is forbidden: error looking up service account sa/nope: serviceaccount "nope" not found');
  });
});

describe("deletion", () => {
  it("a pod terminates gracefully; a claim in use stays Terminating until the pod is gone", async () => {
    await call("POST", "/api/v1/namespaces/term/persistentvolumeclaims", {
      metadata: { name: "data" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    await call("POST", "/api/v1/namespaces/term/pods", {
      metadata: { name: "user" },
      spec: {
        terminationGracePeriodSeconds: 5,
        containers: [{ name: "c", image: "busybox" }],
        volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }],
      },
    });
    await kube.settle();
    const pvc = kube.getObject("v1", "PersistentVolumeClaim", "term", "data") as KubeObject;
    expect(pvc.metadata.finalizers).toEqual(["kubernetes.io/pvc-protection"]);

    const delPvc = await call("DELETE", "/api/v1/namespaces/term/persistentvolumeclaims/data");
    expect(delPvc.status).toBe(200);
    expect((delPvc.body.metadata as { deletionTimestamp?: string }).deletionTimestamp).toBeDefined();
    await kube.settle();
    expect(kube.getObject("v1", "PersistentVolumeClaim", "term", "data")?.metadata.deletionTimestamp).toBeDefined();

    const delPod = await call("DELETE", "/api/v1/namespaces/term/pods/user");
    expect(delPod.status).toBe(200);
    const meta = delPod.body.metadata as { deletionTimestamp: string; deletionGracePeriodSeconds: number };
    expect(meta.deletionGracePeriodSeconds).toBe(5);
    expect(Date.parse(meta.deletionTimestamp) - Date.now()).toBeGreaterThan(3000);
    await kube.settle();
    expect(kube.getObject("v1", "Pod", "term", "user")?.metadata.deletionTimestamp).toBe(meta.deletionTimestamp);
    expect(kube.listObjects("v1", "Event", { namespace: "term" }).map((e) => (e as { reason?: string }).reason)).toContain("Killing");

    await kube.fastForward();
    expect(kube.getObject("v1", "Pod", "term", "user")).toBeUndefined();
    expect(kube.getObject("v1", "PersistentVolumeClaim", "term", "data")).toBeUndefined();
  });
});

describe("Endpoints and EndpointSlices, logs, image IDs", () => {
  it("lists ready pod IPs for a Service's selector and follows pods as they go", async () => {
    await call("POST", "/api/v1/namespaces/ep/services", {
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
    for (const name of ["a", "b"]) {
      await call("POST", "/api/v1/namespaces/ep/pods", {
        metadata: { name, labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "nginx:1.27", ports: [{ name: "http", containerPort: 8080 }] }] },
      });
    }
    await call("POST", "/api/v1/namespaces/ep/pods", {
      metadata: { name: "other", labels: { app: "db" } },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    });
    await kube.settle();
    const ep = await call("GET", "/api/v1/namespaces/ep/endpoints/web");
    expect(ep.warnings).toBe('299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"');
    const subsets = ep.body.subsets as { addresses: { targetRef: { name: string } }[]; ports: unknown[] }[];
    expect(subsets[0].addresses.map((a) => a.targetRef.name).sort()).toEqual(["a", "b"]);
    expect(subsets[0].ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);
    const slices = await call(
      "GET",
      "/apis/discovery.k8s.io/v1/namespaces/ep/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb",
    );
    const [slice] = slices.body.items as { addressType: string; endpoints: { conditions: { ready: boolean } }[]; ports: unknown[] }[];
    expect(slice.addressType).toBe("IPv4");
    expect(slice.endpoints.map((e) => e.conditions.ready)).toEqual([true, true]);
    expect(slice.ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);

    const pod = kube.getObject("v1", "Pod", "ep", "a") as KubeObject;
    const cs = (pod.status as { containerStatuses: { image: string; imageID: string; containerID: string }[] }).containerStatuses[0];
    expect(cs.image).toBe("docker.io/library/nginx:1.27");
    expect(cs.imageID).toMatch(/^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
    expect(cs.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    const previous = await call("GET", "/api/v1/namespaces/ep/pods/a/log?previous=true");
    expect(previous.status).toBe(400);
    expect(previous.body).toEqual(badRequest('previous terminated container "c" in pod "a" not found'));

    await call("DELETE", "/api/v1/namespaces/ep/services/web");
    await kube.settle();
    expect(kube.getObject("v1", "Endpoints", "ep", "web")).toBeUndefined();
    expect(kube.listObjects("discovery.k8s.io/v1", "EndpointSlice", { namespace: "ep" })).toEqual([]);
  });
});

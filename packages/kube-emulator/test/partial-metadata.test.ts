// Metadata-only reads (meta.k8s.io/v1 PartialObjectMetadataList / PartialObjectMetadata), as
// client-go's metadata client asks for them: metadata without spec, data or status.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

let kube: KubeEmulator;
const LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const OBJECT_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

beforeAll(async () => {
  kube = await KubeEmulator.start({ podReadyDelayMs: 0 });
  kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "meta" } });
  for (const name of ["one", "two", "three"]) {
    kube.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: "meta", labels: { team: name === "three" ? "b" : "a" }, annotations: { note: name } } as {
        name: string;
        namespace: string;
      },
      type: "Opaque",
      data: { password: Buffer.from(`secret-${name}`).toString("base64") },
    });
  }
});
afterAll(async () => {
  await kube.stop();
});

async function get(path: string, accept: string) {
  const res = await fetch(`${kube.url}${path}`, { headers: { authorization: `Bearer ${kube.token}`, accept } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("PartialObjectMetadataList", () => {
  it("a LIST returns only metadata (labels, annotations, managedFields) with the label selector and pagination applied", async () => {
    const first = await get("/api/v1/namespaces/meta/secrets?labelSelector=team%3Da&limit=1", LIST_ACCEPT);
    expect(first.status).toBe(200);
    expect(first.body.kind).toBe("PartialObjectMetadataList");
    expect(first.body.apiVersion).toBe("meta.k8s.io/v1");
    const items = first.body.items as Array<Record<string, unknown>>;
    expect(items).toHaveLength(1);
    expect(Object.keys(items[0] as object).sort()).toEqual(["apiVersion", "kind", "metadata"]);
    expect(items[0]).toMatchObject({
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: { name: "one", namespace: "meta", labels: { team: "a" }, annotations: { note: "one" } },
    });
    const meta = items[0]?.metadata as Record<string, unknown>;
    expect(meta.managedFields).toEqual([expect.objectContaining({ manager: "minispod", operation: "Apply" })]);
    expect(JSON.stringify(first.body)).not.toContain(Buffer.from("secret-one").toString("base64"));
    const cont = (first.body.metadata as { continue?: string }).continue;
    expect(cont).toEqual(expect.any(String));
    const second = await get(
      `/api/v1/namespaces/meta/secrets?labelSelector=team%3Da&limit=1&continue=${encodeURIComponent(cont ?? "")}`,
      LIST_ACCEPT,
    );
    expect((second.body.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name)).toEqual(["two"]);
    expect((second.body.metadata as { continue?: string }).continue).toBeUndefined();
  });

  it("across all namespaces, and a GET of one object with as=PartialObjectMetadata", async () => {
    const all = await get("/api/v1/secrets?labelSelector=team", LIST_ACCEPT);
    expect((all.body.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name).sort()).toEqual(["one", "three", "two"]);
    const one = await get("/api/v1/namespaces/meta/secrets/three", OBJECT_ACCEPT);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: expect.objectContaining({ name: "three" }),
    });
  });

  it("falls back to the next media type offered, and refuses (406) when only an impossible metadata form is offered", async () => {
    const fallback = await get("/api/v1/namespaces/meta/secrets", `${OBJECT_ACCEPT},application/json`);
    expect(fallback.status).toBe(200);
    expect(fallback.body.kind).toBe("SecretList");
    const refused = await get("/api/v1/namespaces/meta/secrets", OBJECT_ACCEPT);
    expect(refused.status).toBe(406);
    expect(refused.body).toMatchObject({ kind: "Status", reason: "NotAcceptable", code: 406 });
    const wrongVersion = await get(
      "/api/v1/namespaces/meta/secrets/one",
      "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta2",
    );
    expect(wrongVersion.status).toBe(406);
  });
});

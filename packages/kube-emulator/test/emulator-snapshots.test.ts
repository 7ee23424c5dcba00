// CSI volume snapshots through @kubernetes/client-node: VolumeSnapshotClass/VolumeSnapshot/
// VolumeSnapshotContent as the external-snapshotter CRDs validate them, the snapshot controller
// (bound content at once, readyToUse after a delay, errors when the class or PVC is missing), PVCs
// provisioned from a snapshot only when it is ready, and the volume-contents test hook that proves a
// restored volume holds the snapshot's data.
import type { CoreV1Api, CustomObjectsApi, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeEmulator } from "../src/index.js";
import { startEmulatorWithNamespace } from "./helpers.js";

const GROUP = "snapshot.storage.k8s.io";
const NS = "snaps";
let kube: KubeEmulator;
let core: CoreV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  ({ kube, core, custom } = await startEmulatorWithNamespace(NS, { podReadyDelayMs: 0, snapshotReadyDelayMs: 60_000 }));
});
afterAll(async () => {
  await kube.stop();
});

function claim(name: string, size = "1Gi", dataSource?: { apiGroup?: string; kind: string; name: string }): V1PersistentVolumeClaim {
  return {
    metadata: { name },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } }, ...(dataSource ? { dataSource } : {}) },
  };
}

function snapshot(name: string, pvc: string, cls?: string) {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: "VolumeSnapshot",
    metadata: { name },
    spec: { source: { persistentVolumeClaimName: pvc }, ...(cls ? { volumeSnapshotClassName: cls } : {}) },
  };
}

type Obj = { metadata: { name: string; uid: string }; spec: Record<string, unknown>; status?: Record<string, unknown> };
const getSnapshot = async (name: string) =>
  (await custom.getNamespacedCustomObject({ group: GROUP, version: "v1", namespace: NS, plural: "volumesnapshots", name })) as Obj;
const getContent = async (name: string) =>
  (await custom.getClusterCustomObject({ group: GROUP, version: "v1", plural: "volumesnapshotcontents", name })) as Obj;
const createSnapshot = (body: object) =>
  custom.createNamespacedCustomObject({ group: GROUP, version: "v1", namespace: NS, plural: "volumesnapshots", body }) as Promise<Obj>;

async function events(name: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => `${e.type} ${e.reason}`);
}

async function rejection(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; body: string };
    return { code: e.code, body: JSON.parse(e.body) };
  }
  throw new Error("expected a rejection");
}

describe("snapshot.storage.k8s.io/v1", () => {
  it("is discoverable and starts with one default VolumeSnapshotClass", async () => {
    const classes = (await custom.listClusterCustomObject({ group: GROUP, version: "v1", plural: "volumesnapshotclasses" })) as {
      items: Array<Record<string, unknown> & { metadata: { name: string; annotations?: Record<string, string> } }>;
    };
    expect(classes.items).toHaveLength(1);
    expect(classes.items[0]).toMatchObject({
      metadata: { name: "csi-snapshots", annotations: { "snapshot.storage.kubernetes.io/is-default-class": "true" } },
      driver: "csi.emulator.minispod.io",
      deletionPolicy: "Delete",
    });
  });

  it("refuses invalid objects as the CRDs do (422 with causes)", async () => {
    const both = await rejection(
      createSnapshot({ ...snapshot("bad", "x"), spec: { source: { persistentVolumeClaimName: "x", volumeSnapshotContentName: "y" } } }),
    );
    expect(both.code).toBe(422);
    expect(both.body).toMatchObject({ kind: "Status", reason: "Invalid", details: { causes: [{ field: "spec.source" }] } });
    const noSource = await rejection(createSnapshot({ ...snapshot("bad", "x"), spec: {} }));
    expect(noSource.code).toBe(422);
    expect(noSource.body).toMatchObject({ details: { causes: [{ reason: "FieldValueRequired", field: "spec.source" }] } });
    const cls = await rejection(
      custom.createClusterCustomObject({
        group: GROUP,
        version: "v1",
        plural: "volumesnapshotclasses",
        body: { apiVersion: `${GROUP}/v1`, kind: "VolumeSnapshotClass", metadata: { name: "bad" }, driver: "x", deletionPolicy: "Keep" },
      }),
    );
    expect(cls.code).toBe(422);
    expect(cls.body).toMatchObject({ details: { causes: [{ reason: "FieldValueNotSupported", field: "deletionPolicy" }] } });
    const pvc = await rejection(
      core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claim("bad", "1Gi", { kind: "VolumeSnapshot", name: "x" }) }),
    );
    expect(pvc.code).toBe(422);
    // dataSourceRef is filled from dataSource before validation, so both are named.
    expect(pvc.body).toMatchObject({
      details: {
        causes: [
          { reason: "FieldValueNotSupported", field: "spec.dataSource" },
          { reason: "FieldValueNotSupported", field: "spec.dataSourceRef" },
        ],
      },
    });
  });

  it("snapshots a bound PVC: bound content at once, readyToUse after the delay, with restoreSize and events", async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claim("data", "2Gi") });
    await kube.settle();
    kube.writeVolumeData(NS, "data", "marker", "v1");
    const created = await createSnapshot(snapshot("snap-1", "data"));
    await kube.settle();
    let vs = await getSnapshot("snap-1");
    const contentName = `snapcontent-${created.metadata.uid}`;
    expect(vs.status).toEqual({ boundVolumeSnapshotContentName: contentName, readyToUse: false });
    const content = await getContent(contentName);
    expect(content.spec).toMatchObject({
      deletionPolicy: "Delete",
      driver: "csi.emulator.minispod.io",
      volumeSnapshotClassName: "csi-snapshots",
      volumeSnapshotRef: { kind: "VolumeSnapshot", name: "snap-1", namespace: NS, uid: created.metadata.uid },
    });
    expect(content.spec.source).toEqual({ volumeHandle: expect.stringMatching(/^pvc-/) });

    // Written after the cut: not in the snapshot.
    kube.writeVolumeData(NS, "data", "marker", "v2");
    await kube.fastForward();
    vs = await getSnapshot("snap-1");
    expect(vs.status).toMatchObject({ boundVolumeSnapshotContentName: contentName, readyToUse: true, restoreSize: "2Gi" });
    expect((await getContent(contentName)).status).toMatchObject({ readyToUse: true, restoreSize: 2 * 1024 ** 3 });
    expect((await events("snap-1")).sort()).toEqual(["Normal CreatingSnapshot", "Normal SnapshotCreated", "Normal SnapshotReady"]);
  });

  it("restores a PVC from a ready snapshot: Bound, holding the snapshot's data (not today's)", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: NS,
      body: claim("data-restored", "2Gi", { apiGroup: GROUP, kind: "VolumeSnapshot", name: "snap-1" }),
    });
    await kube.settle();
    const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "data-restored" });
    expect(pvc.status?.phase).toBe("Bound");
    // The API server fills dataSourceRef from dataSource.
    expect(pvc.spec?.dataSourceRef).toEqual({ apiGroup: GROUP, kind: "VolumeSnapshot", name: "snap-1" });
    expect(kube.readVolumeData(NS, "data-restored")).toEqual({ marker: "v1" });
    expect(kube.readVolumeData(NS, "data")).toEqual({ marker: "v2" });
  });

  it("leaves a PVC from a missing or not-ready snapshot Pending with ProvisioningFailed, and binds it once ready", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: NS,
      body: claim("from-missing", "2Gi", { apiGroup: GROUP, kind: "VolumeSnapshot", name: "snap-2" }),
    });
    await kube.settle();
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "from-missing" })).status?.phase).toBe("Pending");
    const ev = await core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=from-missing" });
    expect(ev.items.map((e) => [e.type, e.reason, e.message])).toEqual([
      [
        "Warning",
        "ProvisioningFailed",
        `failed to provision volume with StorageClass "standard": error getting handle for DataSource Type VolumeSnapshot by Name snap-2: error getting snapshot snap-2 from api server: volumesnapshots.${GROUP} "snap-2" not found`,
      ],
    ]);

    kube.writeVolumeData(NS, "data", "marker", "v3");
    await createSnapshot(snapshot("snap-2", "data"));
    await kube.settle();
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "from-missing" })).status?.phase).toBe("Pending");
    expect(await events("from-missing")).toEqual(["Warning ProvisioningFailed", "Warning ProvisioningFailed"]);

    await kube.fastForward();
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "from-missing" })).status?.phase).toBe("Bound");
    expect(kube.readVolumeData(NS, "from-missing")).toEqual({ marker: "v3" });
  });

  it("refuses to provision a claim smaller than the snapshot's restoreSize", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: NS,
      body: claim("too-small", "1Gi", { apiGroup: GROUP, kind: "VolumeSnapshot", name: "snap-1" }),
    });
    await kube.settle();
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "too-small" })).status?.phase).toBe("Pending");
    const ev = await core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=too-small" });
    expect(ev.items[0]?.message).toBe(
      `failed to provision volume with StorageClass "standard": requested volume size ${1024 ** 3} is less than the size ${2 * 1024 ** 3} for the source snapshot snap-1`,
    );
  });

  it("a missing class or PVC leaves the snapshot not ready with status.error, until the PVC appears", async () => {
    await createSnapshot(snapshot("no-class", "data", "nope"));
    await createSnapshot(snapshot("no-pvc", "later"));
    await kube.settle();
    expect((await getSnapshot("no-class")).status).toEqual({
      readyToUse: false,
      error: { message: `Failed to get snapshot class with error volumesnapshotclass.${GROUP} "nope" not found`, time: expect.any(String) },
    });
    expect(await events("no-class")).toEqual(["Warning GetSnapshotClassFailed"]);
    expect((await getSnapshot("no-pvc")).status).toMatchObject({
      readyToUse: false,
      error: { message: expect.stringContaining('"later\\') },
    });

    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claim("later") });
    await kube.fastForward();
    expect((await getSnapshot("no-pvc")).status).toMatchObject({ readyToUse: true, restoreSize: "1Gi" });
  });

  it("a snapshot the driver fails to cut reports readyToUse false with the driver's error", async () => {
    kube.failSnapshots(NS, "data", "rpc error: code = Internal desc = disk busy");
    await createSnapshot(snapshot("snap-fail", "data"));
    await kube.fastForward();
    expect((await getSnapshot("snap-fail")).status).toMatchObject({
      readyToUse: false,
      error: { message: "Failed to check and update snapshot content: rpc error: code = Internal desc = disk busy" },
    });
    kube.failSnapshots(NS, "data", undefined);
  });

  it("deleting a snapshot deletes its content (deletionPolicy Delete)", async () => {
    const vs = await getSnapshot("snap-2");
    const contentName = String(vs.status?.boundVolumeSnapshotContentName);
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: "v1", namespace: NS, plural: "volumesnapshots", name: "snap-2" });
    await kube.settle();
    const gone = await rejection(getContent(contentName));
    expect(gone.code).toBe(404);
    // Volumes restored from it keep their data.
    expect(kube.readVolumeData(NS, "from-missing")).toEqual({ marker: "v3" });
  });
});

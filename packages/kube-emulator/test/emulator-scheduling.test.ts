// The scheduler's volume-binding check: a pod whose PersistentVolumeClaim is missing or not yet
// Bound stays Pending on no node, with PodScheduled=False/Unschedulable and a FailedScheduling
// event worded as kube-scheduler words it, and starts once the claim binds — as on a real cluster.
import type { CoreV1Api, CustomObjectsApi, V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeEmulator } from "../src/index.js";
import { startEmulatorWithNamespace } from "./helpers.js";

const NS = "sched";
let kube: KubeEmulator;
let core: CoreV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  ({ kube, core, custom } = await startEmulatorWithNamespace(NS, { podReadyDelayMs: 0, snapshotReadyDelayMs: 60_000 }));
});
afterAll(async () => {
  await kube.stop();
});

function podMounting(name: string, claim: string): V1Pod {
  return {
    metadata: { name },
    spec: {
      containers: [{ name: "app", image: "busybox:1.36", volumeMounts: [{ name: "data", mountPath: "/data" }] }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim } }],
    },
  };
}

const claim = (name: string, dataSource?: { apiGroup: string; kind: string; name: string }) => ({
  metadata: { name },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...(dataSource ? { dataSource } : {}) },
});

async function schedulingEvents(pod: string): Promise<Array<{ type?: string; reason?: string; message?: string; source?: string }>> {
  const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${pod}` });
  return list.items
    .filter((e) => e.reason === "FailedScheduling" || e.reason === "Scheduled")
    .map((e) => ({ type: e.type, reason: e.reason, message: e.message, source: e.source?.component }));
}

const unschedulable = (reason: string) =>
  `0/1 nodes are available: ${reason}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`;

describe("scheduling waits for the pod's PersistentVolumeClaims", () => {
  it("a missing claim leaves the pod Pending and Unschedulable; it starts once the claim exists and binds", async () => {
    await core.createNamespacedPod({ namespace: NS, body: podMounting("app-1", "data-1") });
    await kube.fastForward();
    let pod = await core.readNamespacedPod({ namespace: NS, name: "app-1" });
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.status?.containerStatuses).toBeUndefined();
    expect(pod.status?.conditions?.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }))).toEqual([
      {
        type: "PodScheduled",
        status: "False",
        reason: "Unschedulable",
        message: unschedulable('persistentvolumeclaim "data-1" not found'),
      },
    ]);
    expect(await schedulingEvents("app-1")).toEqual([
      {
        type: "Warning",
        reason: "FailedScheduling",
        message: unschedulable('persistentvolumeclaim "data-1" not found'),
        source: "default-scheduler",
      },
    ]);

    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claim("data-1") });
    await kube.fastForward();
    pod = await core.readNamespacedPod({ namespace: NS, name: "app-1" });
    expect(pod.spec?.nodeName).toBe("emulator-node");
    expect(pod.status?.phase).toBe("Running");
    expect(pod.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
    // Events list by name, not by time: both are there (the conditions above show the order).
    expect((await schedulingEvents("app-1")).map((e) => e.reason).sort()).toEqual(["FailedScheduling", "Scheduled"]);
  });

  it("a claim still being provisioned from a snapshot (Pending) keeps the pod unscheduled until it is Bound", async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claim("source") });
    await kube.settle();
    kube.writeVolumeData(NS, "source", "marker", "snap");
    await custom.createNamespacedCustomObject({
      group: "snapshot.storage.k8s.io",
      version: "v1",
      namespace: NS,
      plural: "volumesnapshots",
      body: {
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshot",
        metadata: { name: "snap" },
        spec: { source: { persistentVolumeClaimName: "source" } },
      },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: NS,
      body: claim("restored", { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "snap" }),
    });
    await core.createNamespacedPod({ namespace: NS, body: podMounting("app-2", "restored") });
    await kube.settle();
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "restored" })).status?.phase).toBe("Pending");
    let pod = await core.readNamespacedPod({ namespace: NS, name: "app-2" });
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.status?.conditions).toMatchObject([
      {
        type: "PodScheduled",
        status: "False",
        reason: "Unschedulable",
        message: unschedulable("pod has unbound immediate PersistentVolumeClaims"),
      },
    ]);
    expect(await schedulingEvents("app-2")).toEqual([
      {
        type: "Warning",
        reason: "FailedScheduling",
        message: unschedulable("pod has unbound immediate PersistentVolumeClaims"),
        source: "default-scheduler",
      },
    ]);

    // The snapshot becomes ready, the claim is provisioned from it and binds: the pod is scheduled and runs.
    await kube.fastForward();
    await kube.fastForward();
    expect((await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "restored" })).status?.phase).toBe("Bound");
    pod = await core.readNamespacedPod({ namespace: NS, name: "app-2" });
    expect(pod.spec?.nodeName).toBe("emulator-node");
    expect(pod.status?.phase).toBe("Running");
    expect(kube.readVolumeData(NS, "restored")).toEqual({ marker: "snap" });
  });

  it("an unscheduled pod is deleted at once (no kubelet to stop it)", async () => {
    await core.createNamespacedPod({ namespace: NS, body: podMounting("app-3", "nowhere") });
    await kube.settle();
    await core.deleteNamespacedPod({ namespace: NS, name: "app-3" });
    const list = await core.listNamespacedPod({ namespace: NS, fieldSelector: "metadata.name=app-3" });
    expect(list.items).toEqual([]);
  });
});

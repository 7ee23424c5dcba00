/**
 * Backups end to end: HTTP API -> database -> backup loop -> the real cluster client -> the emulator's
 * CSI snapshot model. PENDING -> READY (with the size) or FAILED (with the controller's or driver's
 * reason, an ERROR event, the failed snapshot removed); delete removes the snapshot, then the backup.
 */
import type { LivePersistentVolumeClaim } from "../../src/kube/objects.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildAdmin,
  buildFundedUser,
  buildUser,
  createTestContext,
  errorShape,
  type TestContext,
  type TestUser,
  backupTestKit,
  plansBySlug,
} from "../helpers/app.js";

let ctx: TestContext;
let admin: TestUser;
const plans: Record<string, { id: string }> = {};

beforeAll(async () => {
  ctx = await createTestContext({ env: { K8S_EMULATOR_SNAPSHOT_READY_DELAY: "0" } });
  admin = await buildAdmin(ctx);
  Object.assign(plans, await plansBySlug(ctx));
});
afterAll(async () => {
  await ctx.close();
});

const { prisma, emulator, settle, backupsDone } = backupTestKit(() => ctx);
const SNAP = "snapshot.storage.k8s.io/v1";

async function runningInstance(u: TestUser, plan = "n8n/starter", name = "backed up") {
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans[plan]!.id, instanceName: name });
  expect(res.status).toBe(201);
  await settle();
  return res.body.instance as { id: string; namespace: string; resourceName: string };
}

const fundedUser = () => buildFundedUser(ctx);

async function eventsOf(id: string) {
  const rows = await prisma().instanceEvent.findMany({ where: { instanceId: id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.filter((e) => e.type.startsWith("BACKUP_")).map((e) => ({ type: e.type, level: e.level }));
}

/** minispod_backups_total by result, as /metrics shows it. */
async function backupCounts(): Promise<{ ready: number; failed: number }> {
  const values = (await ctx.container.metrics.backups.get()).values;
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? Number.NaN;
  return { ready: of("ready"), failed: of("failed") };
}

describe("manual backups: POST -> PENDING -> READY; list; delete", () => {
  let u: TestUser;
  let inst: Awaited<ReturnType<typeof runningInstance>>;
  let backupId: string;
  let snapshotName: string;

  it("takes a VolumeSnapshot of the instance's PVC: 202 PENDING, then READY with the restore size", async () => {
    u = await fundedUser();
    inst = await runningInstance(u);
    const res = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.backup).toEqual({
      id: expect.any(String),
      instanceId: inst.id,
      status: "PENDING",
      reason: null,
      trigger: "manual",
      snapshotName: expect.stringMatching(new RegExp(`^${inst.resourceName}-backup-[0-9a-f]{8}$`)),
      snapshotClass: "csi-snapshots",
      sizeBytes: null,
      createdAt: expect.any(String),
      readyAt: null,
      failedAt: null,
      deleteRequestedAt: null,
    });
    backupId = res.body.backup.id;
    snapshotName = res.body.backup.snapshotName;
    // One at a time.
    const again = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape("CONFLICT", { details: { backupId } }));

    await backupsDone();
    const list = await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(list.status).toBe(200);
    expect(list.body.page).toEqual({ page: 1, pageSize: 20, total: 1, totalPages: 1 });
    expect(list.body.data[0]).toMatchObject({ id: backupId, status: "READY", sizeBytes: 5 * 2 ** 30, readyAt: expect.any(String) });

    const vs = emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, snapshotName);
    expect(vs?.spec).toEqual({
      volumeSnapshotClassName: "csi-snapshots",
      source: { persistentVolumeClaimName: `${inst.resourceName}-pvc` },
    });
    expect(vs?.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "minispod",
      "minispod.io/instance-id": inst.id,
      "minispod.io/user-id": u.id,
      "minispod.io/backup-id": backupId,
    });
    expect(vs?.status).toMatchObject({ readyToUse: true, restoreSize: "5Gi" });
    expect(await eventsOf(inst.id)).toEqual([
      { type: "BACKUP_REQUESTED", level: "INFO" },
      { type: "BACKUP_READY", level: "INFO" },
    ]);
    expect(await prisma().auditEvent.findFirst({ where: { action: "instance.backup.create", objectId: inst.id } })).toMatchObject({
      actorId: u.id,
    });
  });

  it("captures the volume's contents at the cut: a claim restored from it holds the data of then, not of now", async () => {
    const e = emulator();
    const pvc = `${inst.resourceName}-pvc`;
    e.writeVolumeData(inst.namespace, pvc, "marker", "before");
    const res = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(res.status).toBe(202);
    await backupsDone();
    e.writeVolumeData(inst.namespace, pvc, "marker", "after");
    // What a restore does with it (the restore endpoint itself is not built yet): a PVC from the snapshot.
    await ctx.container.kube.client.apply({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "probe-restore", namespace: inst.namespace },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "5Gi" } },
        dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: res.body.backup.snapshotName },
      },
    } as LivePersistentVolumeClaim & { apiVersion: string; kind: string });
    await e.settle();
    expect(e.getObject("v1", "PersistentVolumeClaim", inst.namespace, "probe-restore")?.status).toMatchObject({ phase: "Bound" });
    expect(e.readVolumeData(inst.namespace, "probe-restore")).toEqual({ marker: "before" });
    expect(e.readVolumeData(inst.namespace, pvc)).toEqual({ marker: "after" });
    e.deleteObject("v1", "PersistentVolumeClaim", inst.namespace, "probe-restore");
  });

  it("lets admins read the list but not act; another tenant gets 404s", async () => {
    expect((await ctx.api.get(`/api/instances/${inst.id}/backups`).set(admin.auth)).body.page.total).toBe(2);
    expect((await ctx.api.post(`/api/instances/${inst.id}/backups`).set(admin.auth)).status).toBe(404);
    const other = await buildUser(ctx);
    for (const res of [
      await ctx.api.get(`/api/instances/${inst.id}/backups`).set(other.auth),
      await ctx.api.post(`/api/instances/${inst.id}/backups`).set(other.auth),
      await ctx.api.delete(`/api/instances/${inst.id}/backups/${backupId}`).set(other.auth),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body).toEqual(errorShape("NOT_FOUND"));
    }
    expect((await ctx.api.get(`/api/instances/${inst.id}/backups`)).status).toBe(401);
  });

  it("deletes a backup: 202 with deleteRequestedAt, gone from the list; the loop removes the snapshot, then the row", async () => {
    const res = await ctx.api.delete(`/api/instances/${inst.id}/backups/${backupId}`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.backup).toMatchObject({ id: backupId, status: "READY", deleteRequestedAt: expect.any(String) });
    const list = await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(list.body.data.map((b: { id: string }) => b.id)).not.toContain(backupId);
    const twice = await ctx.api.delete(`/api/instances/${inst.id}/backups/${backupId}`).set(u.auth);
    expect(twice.status).toBe(404);

    await backupsDone();
    await emulator().settle();
    expect(await prisma().backup.findUnique({ where: { id: backupId } })).toBeNull();
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, snapshotName)).toBeUndefined();
    expect(
      emulator()
        .listObjects(SNAP, "VolumeSnapshotContent")
        .filter((c) => (c.spec as { volumeSnapshotRef: { name: string } }).volumeSnapshotRef.name === snapshotName),
    ).toEqual([]);
    expect((await eventsOf(inst.id)).slice(-2)).toEqual([
      { type: "BACKUP_DELETE_REQUESTED", level: "INFO" },
      { type: "BACKUP_DELETED", level: "INFO" },
    ]);
    expect((await ctx.api.delete(`/api/instances/${inst.id}/backups/nope`).set(u.auth)).status).toBe(404);
  });
});

describe("failures are FAILED with the reason, never silent", () => {
  it("a snapshot the CSI driver fails: FAILED with the driver's error, an ERROR event, the snapshot removed", async () => {
    const u = await fundedUser();
    const inst = await runningInstance(u, "ghost/starter", "fragile");
    const before = await backupCounts();
    emulator().failSnapshots(inst.namespace, `${inst.resourceName}-pvc`, "rpc error: code = Internal desc = disk busy");
    const res = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(res.status).toBe(202);
    await backupsDone();
    emulator().failSnapshots(inst.namespace, `${inst.resourceName}-pvc`, undefined);
    const list = await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(list.body.data[0]).toMatchObject({
      status: "FAILED",
      reason: "Failed to check and update snapshot content: rpc error: code = Internal desc = disk busy",
      failedAt: expect.any(String),
      sizeBytes: null,
    });
    expect(await eventsOf(inst.id)).toEqual([
      { type: "BACKUP_REQUESTED", level: "INFO" },
      { type: "BACKUP_FAILED", level: "ERROR" },
    ]);
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, res.body.backup.snapshotName)).toBeUndefined();
    // A new attempt may follow at once.
    expect((await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth)).status).toBe(202);
    await backupsDone();
    expect((await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth)).body.data[0].status).toBe("READY");
    // Both outcomes are counted for alerting (minispod_backups_total{result}).
    expect(await backupCounts()).toEqual({ ready: before.ready + 1, failed: before.failed + 1 });
  });

  it("a cluster without the configured VolumeSnapshotClass: FAILED with the snapshot controller's message", async () => {
    const u = await fundedUser();
    const inst = await runningInstance(u, "n8n/starter", "classless");
    const cls = emulator().getObject(SNAP, "VolumeSnapshotClass", undefined, "csi-snapshots");
    emulator().deleteObject(SNAP, "VolumeSnapshotClass", undefined, "csi-snapshots");
    try {
      expect((await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth)).status).toBe(202);
      await backupsDone();
      const list = await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth);
      expect(list.body.data[0]).toMatchObject({
        status: "FAILED",
        reason: 'Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io "csi-snapshots" not found',
      });
    } finally {
      const { uid: _u, resourceVersion: _r, creationTimestamp: _c, managedFields: _m, ...metadata } = cls!.metadata;
      emulator().apply({ ...cls!, metadata }, "kube-apiserver");
    }
  });
});

describe("which instances can be backed up", () => {
  it("a STOPPED instance can (its volume is kept); a PROVISIONING or TERMINATED one cannot (409)", async () => {
    const u = await fundedUser();
    const inst = await runningInstance(u, "postgresql/small", "db");
    expect((await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth)).status).toBe(202);
    await settle();
    expect((await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth)).status).toBe(202);
    await backupsDone();
    expect((await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth)).body.data[0].status).toBe("READY");
    // Its owner stopped it: it stays stopped.
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("STOPPED");

    const sub = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans["n8n/starter"]!.id, instanceName: "young" });
    const early = await ctx.api.post(`/api/instances/${sub.body.instance.id}/backups`).set(u.auth);
    expect(early.status).toBe(409);
    expect(early.body).toEqual(errorShape("INVALID_STATE", { details: { status: sub.body.instance.status } }));
    await settle();
    expect((await ctx.api.delete(`/api/instances/${sub.body.instance.id}`).set(u.auth)).status).toBe(202);
    await settle();
    const late = await ctx.api.post(`/api/instances/${sub.body.instance.id}/backups`).set(u.auth);
    expect(late.status).toBe(409);
    expect(late.body).toEqual(errorShape("INVALID_STATE", { details: { status: "TERMINATED" } }));
  });
});

describe("PostgreSQL consistency: a brief scale-down for the cut", () => {
  it("stops a RUNNING PostgreSQL instance, snapshots it once STOPPED, then starts it again by itself", async () => {
    const u = await fundedUser();
    const inst = await runningInstance(u, "postgresql/small", "live-db");
    const res = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(res.status).toBe(202);
    await ctx.container.loops.backups.runOnce();
    // Asked to stop; no snapshot yet (the cut waits for the clean shutdown).
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({ desiredState: "STOPPED" });
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, res.body.backup.snapshotName)).toBeUndefined();
    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("STOPPED");
    // The owner cannot start it in the middle of the backup.
    const start = await ctx.api.post(`/api/instances/${inst.id}/start`).set(u.auth);
    expect(start.status).toBe(409);
    expect(start.body).toEqual(errorShape("INVALID_STATE", { details: { status: "STOPPED", backupId: res.body.backup.id } }));

    await backupsDone();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "RUNNING",
      desiredState: "RUNNING",
    });
    expect((await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth)).body.data[0]).toMatchObject({ status: "READY" });
    const events = await prisma().instanceEvent.findMany({
      where: { instanceId: inst.id },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
    const after = events.slice(events.findIndex((e) => e.type === "BACKUP_REQUESTED")).map((e) => e.type);
    expect(after).toEqual([
      "BACKUP_REQUESTED",
      "STOP_REQUESTED",
      "OBJECTS_APPLIED",
      "STOPPED",
      "BACKUP_READY",
      "START_REQUESTED",
      "STARTING",
      "OBJECTS_APPLIED",
      "UPDATING_COMPLETE",
    ]);
    expect(events.find((e) => e.type === "STOP_REQUESTED")?.message).toBe("Stopping briefly for a consistent PostgreSQL backup");
  });
});

describe("an instance's deletion", () => {
  it("deletes its backups but the newest READY one (kept: BACKUP_RETENTION_AFTER_DELETE): the snapshots and the rows", async () => {
    const u = await fundedUser();
    const keep = await runningInstance(u, "n8n/starter", "keeper");
    const inst = await runningInstance(u, "ghost/starter", "doomed");
    const b = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    const k = await ctx.api.post(`/api/instances/${keep.id}/backups`).set(u.auth);
    await backupsDone();
    // The newest READY backup outlives the instance (test/modules/backup-retention.test.ts); the older ones go.
    const newest = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    await backupsDone();
    expect((await ctx.api.delete(`/api/instances/${inst.id}`).set(u.auth)).status).toBe(202);
    await settle();
    await backupsDone();
    await emulator().settle();
    // The namespace stays (the user has another instance): the snapshot was deleted explicitly.
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, b.body.backup.snapshotName)).toBeUndefined();
    expect((await prisma().backup.findMany({ where: { instanceId: inst.id } })).map((r) => r.id)).toEqual([newest.body.backup.id]);
    expect((await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth)).body.data.map((r: { id: string }) => r.id)).toEqual([
      newest.body.backup.id,
    ]);
    expect(
      (await prisma().instanceEvent.findMany({ where: { instanceId: inst.id, type: "BACKUP_DELETE_REQUESTED" } })).map((e) => e.message),
    ).toEqual([`Deletion of backup ${b.body.backup.snapshotName}: the instance was deleted`]);
    // The other instance's backup is untouched.
    expect(emulator().getObject(SNAP, "VolumeSnapshot", keep.namespace, k.body.backup.snapshotName)?.status).toMatchObject({
      readyToUse: true,
    });
  });
});

describe("the storage quota", () => {
  it("counts backups (their restore size; the plan's storage while pending); no room is a 422", async () => {
    const u = await fundedUser();
    const inst = await runningInstance(u, "n8n/starter", "counted");
    const usage = async () => (await ctx.api.get("/api/quotas").set(u.auth)).body.usage.storageGb;
    expect(await usage()).toBe(5);
    const first = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(await usage()).toBe(10);
    await backupsDone();
    expect(await usage()).toBe(10);

    const quota = await ctx.api
      .put(`/api/admin/users/${u.id}/quota`)
      .set(admin.auth)
      .send({ maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb: 10 });
    expect(quota.status).toBe(200);
    const full = await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(full.status).toBe(422);
    expect(full.body).toEqual(errorShape("QUOTA_EXCEEDED", { details: { limit: "storageGb", max: 10, current: 10, requested: 5 } }));

    // A deleted backup frees its share at once; a FAILED one holds nothing.
    expect((await ctx.api.delete(`/api/instances/${inst.id}/backups/${first.body.backup.id}`).set(u.auth)).status).toBe(202);
    expect(await usage()).toBe(5);
    emulator().failSnapshots(inst.namespace, `${inst.resourceName}-pvc`, "no space");
    expect((await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth)).status).toBe(202);
    await backupsDone();
    emulator().failSnapshots(inst.namespace, `${inst.resourceName}-pvc`, undefined);
    expect(await usage()).toBe(5);
  });
});

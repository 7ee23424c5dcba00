/**
 * Restore from a backup, end to end on the emulator: backup -> change the data marker -> restore ->
 * the snapshot's marker is back, on a new PVC made from the snapshot; the old PVC is deleted once the
 * instance runs on the new one, or kept and switched back to when the restored instance never runs.
 */
import type { LiveDeployment } from "../../src/kube/objects.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KINDS } from "../../src/kube/client.js";
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
const plans: Record<string, { id: string }> = {};

beforeAll(async () => {
  ctx = await createTestContext({ env: { K8S_EMULATOR_SNAPSHOT_READY_DELAY: "0", STUCK_POD_GRACE: "1ms" } });
  Object.assign(plans, await plansBySlug(ctx));
});
afterAll(async () => {
  await ctx.close();
});

const { prisma, emulator, settle, backupsDone } = backupTestKit(() => ctx);

async function setup(name: string) {
  const u: TestUser = await buildFundedUser(ctx);
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans["n8n/starter"]!.id, instanceName: name });
  expect(res.status).toBe(201);
  await settle();
  const inst = res.body.instance as { id: string; namespace: string; resourceName: string };
  return { u, inst, pvc: `${inst.resourceName}-pvc` };
}

async function mountedClaim(ns: string, name: string): Promise<string | undefined> {
  const dep = await ctx.container.kube.client.get<LiveDeployment>({ ...KINDS.Deployment, name, namespace: ns });
  return dep.spec?.template.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
}

async function backup(u: TestUser, id: string): Promise<string> {
  const res = await ctx.api.post(`/api/instances/${id}/backups`).set(u.auth);
  expect(res.body.error).toBeUndefined();
  expect(res.status).toBe(202);
  await backupsDone();
  return res.body.backup.id;
}

describe("POST /api/instances/:id/restore", () => {
  it("backup -> change the marker -> restore -> the snapshot's marker is back, on a new volume; the old one is deleted", async () => {
    const { u, inst, pvc } = await setup("restorable");
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "at-backup");
    const backupId = await backup(u, inst.id);
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "changed-later");

    const res = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId });
    expect(res.status).toBe(202);
    expect(res.body.instance).toMatchObject({ id: inst.id, status: "RESTORING", desiredState: "RUNNING" });
    const again = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape("INVALID_STATE", { details: { status: "RESTORING", desiredState: "RUNNING" } }));
    // The backup being restored cannot be deleted meanwhile.
    expect((await ctx.api.delete(`/api/instances/${inst.id}/backups/${backupId}`).set(u.auth)).status).toBe(409);

    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "RUNNING",
      statusMessage: null,
    });
    const claim = await mountedClaim(inst.namespace, inst.resourceName);
    expect(claim).toMatch(new RegExp(`^${inst.resourceName}-restore-[0-9a-f]{6}$`));
    expect(emulator().readVolumeData(inst.namespace, claim!)).toEqual({ marker: "at-backup" });
    expect(emulator().getObject("v1", "PersistentVolumeClaim", inst.namespace, claim!)?.spec).toMatchObject({
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot" },
    });
    await emulator().settle();
    expect(emulator().getObject("v1", "PersistentVolumeClaim", inst.namespace, pvc)).toBeUndefined();
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      volumeClaim: claim,
      restoreClaim: null,
      restoreSnapshot: null,
    });
    const types = (
      await prisma().instanceEvent.findMany({ where: { instanceId: inst.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] })
    ).map((e) => e.type);
    expect(types.slice(types.indexOf("RESTORE_REQUESTED"))).toEqual(["RESTORE_REQUESTED", "OBJECTS_APPLIED", "RESTORING_COMPLETE"]);

    // Later operations keep the restored volume: a restart re-applies it, a second restore replaces it.
    expect((await ctx.api.post(`/api/instances/${inst.id}/restart`).set(u.auth)).status).toBe(202);
    await settle();
    expect(await mountedClaim(inst.namespace, inst.resourceName)).toBe(claim);
    emulator().writeVolumeData(inst.namespace, claim!, "marker", "third");
    const second = await backup(u, inst.id);
    emulator().writeVolumeData(inst.namespace, claim!, "marker", "fourth");
    const r2 = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId: second });
    expect(await prisma().backup.findUnique({ where: { id: second } })).toMatchObject({ status: "READY" });
    expect(r2.status).toBe(202);
    await settle();
    const claim2 = await mountedClaim(inst.namespace, inst.resourceName);
    expect(claim2).not.toBe(claim);
    expect(emulator().readVolumeData(inst.namespace, claim2!)).toEqual({ marker: "third" });
  });

  it("refuses what cannot be restored: an unknown backup (404), a FAILED one (409), bad input (400), another tenant (404)", async () => {
    const { u, inst, pvc } = await setup("picky");
    const unknown = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId: "nope" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorShape("NOT_FOUND"));
    emulator().failSnapshots(inst.namespace, pvc, "disk busy");
    const failed = await backup(u, inst.id);
    emulator().failSnapshots(inst.namespace, pvc, undefined);
    const res = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId: failed });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(errorShape("INVALID_STATE", { details: { backupStatus: "FAILED" } }));
    const bad = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId: failed, extra: 1 });
    expect(bad.status).toBe(400);
    expect((await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({})).status).toBe(400);
    const other = await buildUser(ctx);
    expect((await ctx.api.post(`/api/instances/${inst.id}/restore`).set(other.auth).send({ backupId: failed })).status).toBe(404);
    expect((await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).status).toBe("RUNNING");
  });

  it("a restored instance that never runs is switched back to its old volume (RESTORE_FAILED), which was kept", async () => {
    const { u, inst, pvc } = await setup("fallback");
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "old");
    const backupId = await backup(u, inst.id);
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "current");
    expect((await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId })).status).toBe(202);
    // The restored pods crash-loop: after STUCK_POD_GRACE the restore is given up.
    emulator().setCrash(inst.namespace, inst.resourceName, true);
    await ctx.container.loops.reconciler.reconcileNow(inst.id);
    await emulator().fastForward();
    let row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    for (let i = 0; i < 20 && row.status === "RESTORING"; i++) {
      await ctx.container.loops.reconciler.reconcileNow(inst.id);
      await emulator().fastForward();
      row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    }
    expect(row).toMatchObject({ status: "UPDATING", restoreClaim: null, restoreSnapshot: null, volumeClaim: null });
    emulator().setCrash(inst.namespace, inst.resourceName, false);
    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
    expect(await mountedClaim(inst.namespace, inst.resourceName)).toBe(pvc);
    expect(emulator().readVolumeData(inst.namespace, pvc)).toEqual({ marker: "current" });
    const failed = await prisma().instanceEvent.findFirst({ where: { instanceId: inst.id, type: "RESTORE_FAILED" } });
    expect(failed).toMatchObject({ level: "ERROR" });
    expect(failed?.message).toMatch(/^Restore failed \(Pods are stuck in CrashLoopBackOff/);
    await emulator().settle();
    const restoreClaims = emulator()
      .listObjects("v1", "PersistentVolumeClaim", { namespace: inst.namespace })
      .filter((p) => p.metadata.name.startsWith(`${inst.resourceName}-restore-`));
    expect(restoreClaims).toEqual([]);
  });

  it("needs room in the storage quota for the new volume while it runs (422); a volume the cluster refuses is switched back", async () => {
    const { u, inst, pvc } = await setup("tight");
    const admin = await buildAdmin(ctx);
    const quota = (storageGb: number) =>
      ctx.api.put(`/api/admin/users/${u.id}/quota`).set(admin.auth).send({ maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb });
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "kept");
    const backupId = await backup(u, inst.id);

    // The volume (5 GiB) and the backup (5 GiB) use 10.
    expect((await quota(10)).status).toBe(200);
    const res = await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(errorShape("QUOTA_EXCEEDED", { details: { limit: "storageGb", max: 10, current: 10, requested: 5 } }));
    expect((await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).status).toBe("RUNNING");

    // Room at request time, but the namespace's ResourceQuota shrinks before the new PVC is created.
    expect((await quota(15)).status).toBe(200);
    expect((await ctx.api.post(`/api/instances/${inst.id}/restore`).set(u.auth).send({ backupId })).status).toBe(202);
    expect((await quota(5)).status).toBe(200);
    await ctx.container.loops.reconciler.syncTenants();
    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
    expect(await mountedClaim(inst.namespace, inst.resourceName)).toBe(pvc);
    expect(emulator().readVolumeData(inst.namespace, pvc)).toEqual({ marker: "kept" });
    const failed = await prisma().instanceEvent.findFirst({ where: { instanceId: inst.id, type: "RESTORE_FAILED" } });
    expect(failed?.message).toMatch(/exceeded quota/);
  });
});

/**
 * A deleted instance keeps its last backup for BACKUP_RETENTION_AFTER_DELETE, and it can be restored
 * into a new instance of the same service (POST /api/subscriptions {restoreBackupId}), end to end on
 * the emulator: the newest READY backup is kept and the others go; the tenant namespace (which holds
 * the snapshot) stays while it is kept; a new instance's volume is made from it and holds the
 * snapshot's data; the backup becomes the new instance's; after the retention it is deleted, and the
 * namespace with it. Time moves through the injectable clock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adoptRetained, expireRetained } from "../../src/modules/backups/backup-retention.js";
import { ShiftedClock } from "../helpers/clock.js";
import { inTransaction } from "../../src/platform/transaction.js";
import {
  buildFundedUser,
  createTestContext,
  errorShape,
  type TestContext,
  type TestUser,
  backupTestKit,
  plansBySlug,
} from "../helpers/app.js";

const DAY = 86_400_000;
const SNAP = "snapshot.storage.k8s.io/v1";
const clock = new ShiftedClock();
let ctx: TestContext;
const plans: Record<string, { id: string; monthlyPriceCredits: number; serviceId: string }> = {};

beforeAll(async () => {
  ctx = await createTestContext({ clock, env: { K8S_EMULATOR_SNAPSHOT_READY_DELAY: "0" } });
  Object.assign(plans, await plansBySlug(ctx));
});
afterAll(async () => {
  await ctx.close();
});

const { prisma, emulator, settle, backupsDone } = backupTestKit(() => ctx);

interface Inst {
  id: string;
  name: string;
  namespace: string;
  resourceName: string;
}

async function create(u: TestUser, plan: string, name: string, restoreBackupId?: string) {
  return ctx.api
    .post("/api/subscriptions")
    .set(u.auth)
    .send({ planId: plans[plan]!.id, instanceName: name, ...(restoreBackupId ? { restoreBackupId } : {}) });
}

async function running(u: TestUser, plan: string, name: string): Promise<Inst> {
  const res = await create(u, plan, name);
  expect(res.status).toBe(201);
  await settle();
  return res.body.instance as Inst;
}

async function backup(u: TestUser, id: string): Promise<{ id: string; snapshotName: string }> {
  const res = await ctx.api.post(`/api/instances/${id}/backups`).set(u.auth);
  expect(res.status).toBe(202);
  await backupsDone();
  return res.body.backup;
}

async function deleteInstance(u: TestUser, id: string): Promise<void> {
  expect((await ctx.api.delete(`/api/instances/${id}`).set(u.auth)).status).toBe(202);
  await settle();
  await backupsDone();
  await emulator().settle();
}

/** "Active", "Terminating" (deleted, being emptied) or "gone". */
function namespaceState(ns: string): string {
  const obj = emulator().getObject("v1", "Namespace", undefined, ns);
  if (!obj) return "gone";
  return obj.metadata.deletionTimestamp ? "Terminating" : String((obj.status as { phase?: string } | undefined)?.phase);
}
const snapshotOf = (ns: string, name: string) => emulator().getObject(SNAP, "VolumeSnapshot", ns, name);
const balance = async (u: TestUser) => (await ctx.api.get("/api/credits").set(u.auth)).body.balance as number;

describe("a deleted instance's last backup", () => {
  let u: TestUser;
  let first: Inst;
  let older: { id: string; snapshotName: string };
  let newest: { id: string; snapshotName: string };

  it("is kept (the newest READY one; the others are deleted), with the namespace that holds its snapshot", async () => {
    u = await buildFundedUser(ctx);
    first = await running(u, "n8n/starter", "first");
    const pvc = `${first.resourceName}-pvc`;
    emulator().writeVolumeData(first.namespace, pvc, "marker", "older");
    older = await backup(u, first.id);
    emulator().writeVolumeData(first.namespace, pvc, "marker", "kept");
    newest = await backup(u, first.id);
    emulator().writeVolumeData(first.namespace, pvc, "marker", "after-the-last-backup");
    const before = clock.now().getTime();
    await deleteInstance(u, first.id);

    const inst = await prisma().instance.findUniqueOrThrow({ where: { id: first.id } });
    expect(inst.status).toBe("TERMINATED");
    // The older backup went as before; the newest is kept for the retention (7 days by default).
    expect(await prisma().backup.findUnique({ where: { id: older.id } })).toBeNull();
    expect(snapshotOf(first.namespace, older.snapshotName)).toBeUndefined();
    const kept = await prisma().backup.findUniqueOrThrow({ where: { id: newest.id } });
    expect(kept).toMatchObject({ status: "READY", deleteRequestedAt: null, instanceId: first.id });
    const until = kept.retainedUntil!.getTime();
    expect(until).toBeGreaterThanOrEqual(before + 7 * DAY);
    expect(until).toBeLessThanOrEqual(clock.now().getTime() + 7 * DAY);
    // Its snapshot lives in the tenant namespace, which stays (the instance's own objects are gone).
    expect(snapshotOf(first.namespace, newest.snapshotName)?.status).toMatchObject({ readyToUse: true });
    expect(namespaceState(first.namespace)).toBe("Active");
    expect(emulator().getObject("v1", "PersistentVolumeClaim", first.namespace, pvc)).toBeUndefined();
    const events = await prisma().instanceEvent.findMany({ where: { instanceId: first.id, type: "BACKUP_RETAINED" } });
    expect(events.map((e) => e.message)).toEqual([
      `Backup ${newest.snapshotName} is kept until ${kept.retainedUntil!.toISOString()}: it can be restored into a new instance of the same service until then`,
    ]);
    const terminated = await prisma().instanceEvent.findFirstOrThrow({ where: { instanceId: first.id, type: "TERMINATED" } });
    expect((terminated.data as { removed: string[] }).removed).not.toContain(`Namespace/${first.namespace}`);
  });

  it("is listed under GET /api/backups/retained and counts against the storage quota", async () => {
    const res = await ctx.api.get("/api/backups/retained").set(u.auth);
    expect(res.status).toBe(200);
    const kept = await prisma().backup.findUniqueOrThrow({ where: { id: newest.id } });
    const inst = await prisma().instance.findUniqueOrThrow({ where: { id: first.id } });
    const plan = await prisma().plan.findUniqueOrThrow({ where: { id: plans["n8n/starter"]!.id }, include: { service: true } });
    expect(res.body).toEqual({
      data: [
        {
          id: newest.id,
          instanceId: first.id,
          status: "READY",
          reason: null,
          trigger: "manual",
          snapshotName: newest.snapshotName,
          snapshotClass: "csi-snapshots",
          sizeBytes: 5 * 2 ** 30,
          createdAt: kept.createdAt.toISOString(),
          readyAt: kept.readyAt!.toISOString(),
          failedAt: null,
          deleteRequestedAt: null,
          retainedUntil: kept.retainedUntil!.toISOString(),
          instance: { id: first.id, name: "first", terminatedAt: inst.terminatedAt!.toISOString() },
          service: { id: plan.service.id, slug: "n8n", name: plan.service.name },
          plan: {
            id: plan.id,
            slug: "starter",
            name: plan.name,
            cpuMilli: plan.cpuMilli,
            memoryMb: plan.memoryMb,
            storageGb: 5,
            monthlyPriceCredits: plan.monthlyPriceCredits,
          },
        },
      ],
      page: { page: 1, pageSize: 20, total: 1, totalPages: 1 },
    });
    // The deleted instance holds nothing any more; its kept snapshot does (5 GiB).
    expect((await ctx.api.get("/api/quotas").set(u.auth)).body.usage).toMatchObject({ instances: 0, storageGb: 5 });
    // Nobody else sees it.
    const other = await buildFundedUser(ctx);
    expect((await ctx.api.get("/api/backups/retained").set(other.auth)).body.data).toEqual([]);
  });

  it("is restored into a new instance of the same service: its volume holds the snapshot's data, and the backup becomes its", async () => {
    const credits = await balance(u);
    const res = await create(u, "n8n/starter", "second", newest.id);
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(201);
    expect(res.body.instance).toMatchObject({ name: "second", status: "PENDING" });
    const second = res.body.instance as Inst;
    // Bought like any instance: the first period is charged.
    expect(await balance(u)).toBe(credits - plans["n8n/starter"]!.monthlyPriceCredits);
    // The backup is the new instance's now: no longer retained, and its snapshot cannot be deleted before the volume exists.
    expect((await ctx.api.get("/api/backups/retained").set(u.auth)).body.data).toEqual([]);
    const blocked = await ctx.api.delete(`/api/instances/${second.id}/backups/${newest.id}`).set(u.auth);
    expect(blocked.status).toBe(409);
    expect(blocked.body).toEqual(
      errorShape("INVALID_STATE", { message: "The instance is being restored from this backup", details: { backupId: newest.id } }),
    );

    await settle();
    expect((await ctx.api.get(`/api/instances/${second.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "RUNNING",
      statusMessage: null,
    });
    const pvc = `${second.resourceName}-pvc`;
    expect(emulator().getObject("v1", "PersistentVolumeClaim", second.namespace, pvc)?.spec).toMatchObject({
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: newest.snapshotName },
      resources: { requests: { storage: "5Gi" } },
    });
    // The data of the last backup, not what the deleted instance wrote after it.
    expect(emulator().readVolumeData(second.namespace, pvc)).toEqual({ marker: "kept" });
    const list = await ctx.api.get(`/api/instances/${second.id}/backups`).set(u.auth);
    expect(list.body.data.map((b: { id: string; instanceId: string; status: string }) => [b.id, b.instanceId, b.status])).toEqual([
      [newest.id, second.id, "READY"],
    ]);
    expect(await prisma().backup.findUniqueOrThrow({ where: { id: newest.id } })).toMatchObject({ retainedUntil: null });
    const newEvents = (
      await prisma().instanceEvent.findMany({ where: { instanceId: second.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] })
    )
      .map((e) => e.type)
      .filter((t) => ["CREATED", "RESTORE_REQUESTED", "RUNNING"].includes(t));
    expect(newEvents).toEqual(["CREATED", "RESTORE_REQUESTED", "RUNNING"]);
    const moved = await prisma().instanceEvent.findMany({ where: { instanceId: first.id, type: "BACKUP_MOVED" } });
    expect(moved.map((e) => e.message)).toEqual([
      `Backup ${newest.snapshotName} was restored into the new instance 'second'; it is now that instance's backup`,
    ]);
    // Once the volume exists, the backup is an ordinary one of the new instance (deletable, restorable in place).
    const del = await ctx.api.delete(`/api/instances/${second.id}/backups/${newest.id}`).set(u.auth);
    expect(del.status).toBe(202);
    await backupsDone();
    expect(snapshotOf(second.namespace, newest.snapshotName)).toBeUndefined();
    expect(emulator().readVolumeData(second.namespace, pvc)).toEqual({ marker: "kept" });
  });
});

describe("restoring a backup into a new instance: what is refused (nothing charged, nothing created)", () => {
  let u: TestUser;
  let retained: { id: string; snapshotName: string };
  let live: Inst;

  async function refused(user: TestUser, plan: string, backupId: string) {
    const credits = await balance(user);
    const subscriptions = await prisma().subscription.count({ where: { userId: user.id } });
    const res = await create(user, plan, "refused", backupId);
    expect(await balance(user)).toBe(credits);
    expect(await prisma().subscription.count({ where: { userId: user.id } })).toBe(subscriptions);
    return res;
  }

  it("another user's backup (404), another service (422), too large for the plan (422), not READY or not retained (409)", async () => {
    u = await buildFundedUser(ctx);
    live = await running(u, "n8n/starter", "live");
    const big = await running(u, "n8n/pro", "big");
    retained = await backup(u, big.id);
    await deleteInstance(u, big.id);

    const stranger = await buildFundedUser(ctx);
    const notYours = await refused(stranger, "n8n/pro", retained.id);
    expect(notYours.status).toBe(404);
    expect(notYours.body).toEqual(errorShape("NOT_FOUND", { message: "Backup not found" }));

    const ghost = await refused(u, "ghost/starter", retained.id);
    expect(ghost.status).toBe(422);
    expect(ghost.body).toEqual(
      errorShape("BACKUP_MISMATCH", {
        message: "The backup is of a n8n instance; restore it into a plan of the same service",
        details: { backupId: retained.id, service: "n8n" },
      }),
    );

    const small = await refused(u, "n8n/starter", retained.id);
    expect(small.status).toBe(422);
    expect(small.body).toEqual(
      errorShape("BACKUP_MISMATCH", {
        message: "The backup needs a volume of at least 10 GB; the plan has 5 GB",
        details: { backupId: retained.id, sizeBytes: 10 * 2 ** 30, planStorageGb: 5 },
      }),
    );

    const pending = await ctx.api.post(`/api/instances/${live.id}/backups`).set(u.auth);
    expect(pending.status).toBe(202);
    const notReady = await refused(u, "n8n/starter", pending.body.backup.id);
    expect(notReady.status).toBe(409);
    expect(notReady.body).toEqual(
      errorShape("INVALID_STATE", {
        message: "Backup is PENDING; only a READY backup can be restored",
        details: { backupId: pending.body.backup.id, status: "PENDING" },
      }),
    );
    await backupsDone();
    const ofLive = await refused(u, "n8n/starter", pending.body.backup.id);
    expect(ofLive.status).toBe(409);
    expect(ofLive.body).toEqual(
      errorShape("INVALID_STATE", {
        message: "The backup's instance is not deleted; restore it in place (POST /api/instances/:id/restore)",
        details: { backupId: pending.body.backup.id, instanceId: live.id },
      }),
    );

    const bad = await ctx.api
      .post("/api/subscriptions")
      .set(u.auth)
      .send({ planId: plans["n8n/pro"]!.id, instanceName: "bad", restoreBackupId: "" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("VALIDATION_ERROR");
  });

  it("a backup whose retention is over is a 404; the loop deletes it (the namespace stays for the live instance)", async () => {
    clock.offsetMs = 7 * DAY + 60_000;
    try {
      const expired = await refused(u, "n8n/pro", retained.id);
      const row = await prisma().backup.findUniqueOrThrow({ where: { id: retained.id } });
      expect(expired.status).toBe(404);
      expect(expired.body).toEqual(
        errorShape("NOT_FOUND", {
          message: "Backup not found: its retention after the instance was deleted is over",
          details: { backupId: retained.id, retainedUntil: row.retainedUntil!.toISOString() },
        }),
      );
      expect((await ctx.api.get("/api/backups/retained").set(u.auth)).body.data).toEqual([]);
      await backupsDone();
      await emulator().settle();
      expect(await prisma().backup.findUnique({ where: { id: retained.id } })).toBeNull();
      expect(snapshotOf(live.namespace, retained.snapshotName)).toBeUndefined();
      expect(namespaceState(live.namespace)).toBe("Active");
      const gone = await refused(u, "n8n/pro", retained.id);
      expect(gone.status).toBe(404);
      expect(gone.body).toEqual(errorShape("NOT_FOUND", { message: "Backup not found" }));
    } finally {
      clock.offsetMs = 0;
    }
  });
});

describe("the tenant namespace of a user with no instance left", () => {
  it("stays while a retained backup is in it, and goes when its retention is over", async () => {
    const u = await buildFundedUser(ctx);
    const only = await running(u, "ghost/starter", "only");
    const kept = await backup(u, only.id);
    await deleteInstance(u, only.id);
    expect(namespaceState(only.namespace)).toBe("Active");
    expect(snapshotOf(only.namespace, kept.snapshotName)?.status).toMatchObject({ readyToUse: true });

    // A day before the end nothing happens.
    clock.offsetMs = 6 * DAY;
    try {
      await backupsDone();
      await emulator().settle();
      expect(await prisma().backup.findUnique({ where: { id: kept.id } })).not.toBeNull();
      expect(namespaceState(only.namespace)).toBe("Active");

      clock.offsetMs = 7 * DAY + 60_000;
      await backupsDone();
      await emulator().settle();
      expect(await prisma().backup.findUnique({ where: { id: kept.id } })).toBeNull();
      expect(snapshotOf(only.namespace, kept.snapshotName)).toBeUndefined();
      // Deleted: Terminating, then gone once the namespace controller has emptied it.
      expect(["Terminating", "gone"]).toContain(namespaceState(only.namespace));
      emulator().finalizeNamespaces();
      expect(namespaceState(only.namespace)).toBe("gone");
      expect(
        (await prisma().instanceEvent.findMany({ where: { instanceId: only.id, type: "BACKUP_DELETE_REQUESTED" } })).map((e) => e.message),
      ).toEqual([`Deletion of backup ${kept.snapshotName}: its retention after the instance was deleted is over`]);
      expect(await prisma().user.findUniqueOrThrow({ where: { id: u.id } })).toMatchObject({ tenantAppliedHash: null });
    } finally {
      clock.offsetMs = 0;
    }
  });

  it("goes when its owner gives the retained backup up early (DELETE /api/backups/retained/:id); another user gets a 404", async () => {
    const u = await buildFundedUser(ctx);
    const only = await running(u, "n8n/starter", "short-lived");
    const kept = await backup(u, only.id);
    await deleteInstance(u, only.id);
    expect(namespaceState(only.namespace)).toBe("Active");

    const stranger = await buildFundedUser(ctx);
    const notYours = await ctx.api.delete(`/api/backups/retained/${kept.id}`).set(stranger.auth);
    expect(notYours.status).toBe(404);
    expect(notYours.body).toEqual(errorShape("NOT_FOUND", { message: "Backup not found" }));

    const res = await ctx.api.delete(`/api/backups/retained/${kept.id}`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.backup).toMatchObject({ id: kept.id, deleteRequestedAt: expect.any(String), instance: { id: only.id } });
    expect((await ctx.api.get("/api/backups/retained").set(u.auth)).body.data).toEqual([]);
    await backupsDone();
    await emulator().settle();
    expect(await prisma().backup.findUnique({ where: { id: kept.id } })).toBeNull();
    expect(["Terminating", "gone"]).toContain(namespaceState(only.namespace));
    emulator().finalizeNamespaces();
    expect(namespaceState(only.namespace)).toBe("gone");
    expect((await ctx.api.delete(`/api/backups/retained/${kept.id}`).set(u.auth)).status).toBe(404);
  });
});

describe("the OpenAPI document", () => {
  it("has the retained-backup endpoints and restoreBackupId on POST /api/subscriptions, with their schemas", async () => {
    const doc = (await ctx.api.get("/openapi.json")).body;
    expect(Object.keys(doc.paths["/api/backups/retained"])).toEqual(["get"]);
    expect(Object.keys(doc.paths["/api/backups/retained/{backupId}"])).toEqual(["delete"]);
    const list = doc.paths["/api/backups/retained"].get.responses["200"].content["application/json"].schema;
    expect(JSON.stringify(list)).toContain("retainedUntil");
    const body = doc.paths["/api/subscriptions"].post.requestBody.content["application/json"].schema;
    expect(body.properties.restoreBackupId).toMatchObject({ type: "string", minLength: 1, maxLength: 64 });
    expect(body.required).toEqual(["planId", "instanceName"]);
    expect(Object.keys(doc.paths["/api/subscriptions"].post.responses)).toEqual(
      expect.arrayContaining(["201", "402", "404", "409", "422"]),
    );
  });
});

describe("the loop's expiry and a restore racing for one retained backup", () => {
  it("exactly one wins, every time (each update is guarded by the state it expects)", async () => {
    const u = await buildFundedUser(ctx);
    const gone = await running(u, "ghost/starter", "raced");
    const kept = await backup(u, gone.id);
    await deleteInstance(u, gone.id);
    const row = await prisma().backup.findUniqueOrThrow({ where: { id: kept.id } });
    const until = row.retainedUntil!;
    for (let round = 0; round < 6; round++) {
      await prisma().backup.update({
        where: { id: kept.id },
        data: { instanceId: gone.id, retainedUntil: until, deleteRequestedAt: null },
      });
      // The restore read the backup just before the end of its retention; the loop looks just after it.
      const [adopted, expired] = await Promise.all([
        inTransaction(prisma(), (tx) => adoptRetained(tx, row, { id: gone.id, name: "raced" }, new Date(until.getTime() - 1000))),
        expireRetained(prisma(), row, new Date(until.getTime() + 1000)),
      ]);
      expect([adopted, expired].filter(Boolean)).toHaveLength(1);
      const after = await prisma().backup.findUniqueOrThrow({ where: { id: kept.id } });
      // Adopted: no longer retained and not being deleted. Expired: still marked retained, being deleted.
      if (adopted) expect(after).toMatchObject({ retainedUntil: null, deleteRequestedAt: null });
      else expect(after).toMatchObject({ retainedUntil: until, deleteRequestedAt: new Date(until.getTime() + 1000) });
    }
  });
});

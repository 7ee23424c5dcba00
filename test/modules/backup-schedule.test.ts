/**
 * The plans' daily backups end to end: the backup loop's one fleet query finds the due instances,
 * requests scheduled backups through the manual path (quota, quiesce), cuts them on the emulator,
 * applies the plan's retention (the oldest READY scheduled snapshots are deleted, also from the
 * cluster; manual backups and a backup being restored from are kept), and makes failures loud: a quota
 * refusal is a FAILED backup, and an instance with no good backup in 48 h is counted in the health
 * summary and the `minispod_backups_overdue` gauge and evented once.
 *
 * Time: a clock that runs with the wall clock plus an offset the test moves, so the reconciler and the
 * emulator behave as usual while a test jumps to an instance's daily slot.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackupSchedule, CHECK_INTERVAL_MS } from "../../src/modules/backups/backup-schedule.js";
import { lastSlotAt } from "../../src/modules/backups/backup-schedule.sql.js";
import { InstanceManifests } from "../../src/modules/instances/instance-manifests.js";
import { ShiftedClock } from "../helpers/clock.js";
import {
  buildAdmin,
  buildFundedUser,
  createTestContext,
  errorShape,
  type TestContext,
  type TestUser,
  backupTestKit,
  plansBySlug,
} from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SPREAD = 4 * HOUR;
const SNAP = "snapshot.storage.k8s.io/v1";

const clock = new ShiftedClock();
let ctx: TestContext;
let admin: TestUser;
const plans: Record<string, { id: string; backupRetention: number; backupHourUtc: number; storageGb: number }> = {};

beforeAll(async () => {
  ctx = await createTestContext({
    clock,
    env: { K8S_EMULATOR_SNAPSHOT_READY_DELAY: "0", BACKUP_SCHEDULE_ENABLED: "true", BACKUP_SCHEDULE_BATCH: "2" },
  });
  admin = await buildAdmin(ctx);
  Object.assign(plans, await plansBySlug(ctx));
});
afterAll(async () => {
  await ctx.close();
});

const { prisma, emulator, settle } = backupTestKit(() => ctx);
const loop = () => ctx.container.loops.backups;
const backupsDone = () => loop().runUntilIdle({ timeoutMs: 30_000, between: settle });

async function runningInstance(u: TestUser, plan: string, name: string) {
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans[plan]!.id, instanceName: name });
  expect(res.status).toBe(201);
  await settle();
  const row = await prisma().instance.findUniqueOrThrow({ where: { id: res.body.instance.id } });
  expect(row.status).toBe("RUNNING");
  return { id: row.id, namespace: row.namespace, resourceName: row.k8sName, createdAt: row.createdAt, plan };
}

/**
 * A moment a passed slot is surely taken at: the schedule's fleet query runs at most CHECK_INTERVAL_MS
 * apart, so a slot is taken within that much after it passed (the last query may have run just before it).
 */
const takenBy = (slot: Date) => new Date(slot.getTime() + CHECK_INTERVAL_MS);

/** The instance's first daily slot after it was created. */
function firstSlot(inst: { id: string; createdAt: Date; plan: string }): Date {
  const last = lastSlotAt(inst.id, plans[inst.plan]!.backupHourUtc, SPREAD, inst.createdAt);
  return new Date(last.getTime() + DAY);
}

async function backupsOf(instanceId: string) {
  return prisma().backup.findMany({ where: { instanceId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
}

async function backupEvents(instanceId: string) {
  const rows = await prisma().instanceEvent.findMany({ where: { instanceId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.filter((e) => e.type.startsWith("BACKUP_")).map((e) => ({ type: e.type, level: e.level, message: e.message }));
}

async function terminate(u: TestUser, id: string) {
  expect((await ctx.api.delete(`/api/instances/${id}`).set(u.auth)).status).toBe(202);
  await settle();
  await backupsDone();
}

async function gauge(name: string): Promise<number> {
  const text = await ctx.container.metrics.text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : Number.NaN;
}

async function failedCount(): Promise<number> {
  return (await ctx.container.metrics.backups.get()).values.find((v) => v.labels.result === "failed")?.value ?? Number.NaN;
}

async function summaryBackups() {
  const res = await ctx.api.get("/api/admin/health/summary").set(admin.auth);
  expect(res.status).toBe(200);
  return res.body.summary.backups;
}

describe("the catalog carries the schedule", () => {
  it("seeded plans have a retention and a window; admins set them, bad values are 400", async () => {
    const list = await ctx.api.get("/api/services/n8n");
    expect(list.status).toBe(200);
    expect(
      list.body.service.plans.map((p: { slug: string; backupRetention: number; backupHourUtc: number }) => [
        p.slug,
        p.backupRetention,
        p.backupHourUtc,
      ]),
    ).toEqual([
      ["starter", 7, 2],
      ["pro", 14, 2],
    ]);
    const svc = list.body.service.id as string;
    const created = await ctx.api
      .post(`/api/admin/services/${svc}/plans`)
      .set(admin.auth)
      .send({ slug: "nightly", name: "Nightly", cpuMilli: 100, memoryMb: 128, storageGb: 1, monthlyPriceCredits: 1 });
    expect(created.status).toBe(201);
    // Defaults: no scheduled backups unless the plan says so.
    expect(created.body.plan).toMatchObject({ slug: "nightly", backupRetention: 0, backupHourUtc: 2 });
    const patched = await ctx.api
      .patch(`/api/admin/plans/${created.body.plan.id}`)
      .set(admin.auth)
      .send({ backupRetention: 3, backupHourUtc: 23 });
    expect(patched.status).toBe(200);
    expect(patched.body.plan).toMatchObject({ backupRetention: 3, backupHourUtc: 23 });
    for (const bad of [{ backupRetention: -1 }, { backupHourUtc: 24 }, { backupRetention: 1.5 }, { backupRetention: "7" }]) {
      const res = await ctx.api.patch(`/api/admin/plans/${created.body.plan.id}`).set(admin.auth).send(bad);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorShape("VALIDATION_ERROR", { details: expect.any(Array) }));
    }
    expect(await prisma().plan.findUniqueOrThrow({ where: { id: created.body.plan.id } })).toMatchObject({
      backupRetention: 3,
      backupHourUtc: 23,
    });
    await prisma().plan.update({ where: { id: created.body.plan.id }, data: { isActive: false } });
  });
});

describe("a daily scheduled backup, and the plan's retention", () => {
  let u: TestUser;
  let inst: Awaited<ReturnType<typeof runningInstance>>;
  let slot: Date;

  it("is not taken before the instance's slot, and is taken once when the slot has passed", async () => {
    u = await buildFundedUser(ctx);
    inst = await runningInstance(u, "n8n/starter", "scheduled");
    slot = firstSlot(inst);
    // The slot lies in the plan's window: its hour plus the instance's spread offset.
    const dayStart = Date.UTC(slot.getUTCFullYear(), slot.getUTCMonth(), slot.getUTCDate());
    expect(slot.getTime() - dayStart - 2 * HOUR).toBeGreaterThanOrEqual(0);
    expect(slot.getTime() - dayStart - 2 * HOUR).toBeLessThan(SPREAD);

    clock.jumpTo(new Date(slot.getTime() - 10 * 60_000));
    expect(await loop().runOnce()).toMatchObject({ skipped: false, scheduled: 0 });
    expect(await backupsOf(inst.id)).toEqual([]);

    clock.jumpTo(new Date(slot.getTime() + 1000));
    expect(await loop().runOnce()).toMatchObject({ scheduled: 1 });
    await backupsDone();
    const rows = await backupsOf(inst.id);
    expect(rows.map((b) => [b.trigger, b.status, b.pvcName])).toEqual([["scheduled", "READY", `${inst.resourceName}-pvc`]]);
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, rows[0]!.snapshotName)?.status).toMatchObject({
      readyToUse: true,
    });
    expect(await backupEvents(inst.id)).toEqual([
      {
        type: "BACKUP_REQUESTED",
        level: "INFO",
        message: `Scheduled backup requested: VolumeSnapshot ${rows[0]!.snapshotName} of ${inst.resourceName}-pvc (class csi-snapshots)`,
      },
      { type: "BACKUP_READY", level: "INFO", message: `Backup ${rows[0]!.snapshotName} is ready` },
    ]);
    const list = await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(list.body.data[0]).toMatchObject({ trigger: "scheduled", status: "READY" });

    // Later passes of the same day take nothing more.
    clock.jumpTo(new Date(slot.getTime() + 20 * HOUR));
    expect(await loop().runOnce()).toMatchObject({ scheduled: 0 });
    expect(await backupsOf(inst.id)).toHaveLength(1);
  });

  it("keeps the newest `backupRetention` READY scheduled backups: older snapshots are deleted from the cluster; manual backups are neither counted nor deleted", async () => {
    const patched = await ctx.api.patch(`/api/admin/plans/${plans["n8n/starter"]!.id}`).set(admin.auth).send({ backupRetention: 2 });
    expect(patched.status).toBe(200);
    // A manual backup between the scheduled ones.
    expect((await ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth)).status).toBe(202);
    await backupsDone();
    clock.jumpTo(new Date(slot.getTime() + DAY + 1000));
    await backupsDone();
    const before = await backupsOf(inst.id);
    expect(before.map((b) => [b.trigger, b.status])).toEqual([
      ["scheduled", "READY"],
      ["manual", "READY"],
      ["scheduled", "READY"],
    ]);

    clock.jumpTo(new Date(slot.getTime() + 2 * DAY + 1000));
    await backupsDone();
    await emulator().settle();
    const after = await backupsOf(inst.id);
    // The oldest scheduled one is gone (row and VolumeSnapshot); the manual one stays.
    expect(after.map((b) => b.id)).toEqual([before[1]!.id, before[2]!.id, expect.any(String)]);
    expect(after.map((b) => [b.trigger, b.status])).toEqual([
      ["manual", "READY"],
      ["scheduled", "READY"],
      ["scheduled", "READY"],
    ]);
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, before[0]!.snapshotName)).toBeUndefined();
    expect(
      emulator()
        .listObjects(SNAP, "VolumeSnapshot")
        .filter((v) => v.metadata.namespace === inst.namespace)
        .map((v) => v.metadata.name)
        .sort(),
    ).toEqual(after.map((b) => b.snapshotName).sort());
    const deletion = (await backupEvents(inst.id)).filter((e) => e.type === "BACKUP_DELETE_REQUESTED" || e.type === "BACKUP_DELETED");
    expect(deletion).toEqual([
      {
        type: "BACKUP_DELETE_REQUESTED",
        level: "INFO",
        message: `Deletion of backup ${before[0]!.snapshotName}: retention: the plan keeps the newest 2 scheduled backups`,
      },
      { type: "BACKUP_DELETED", level: "INFO", message: `Backup ${before[0]!.snapshotName} deleted` },
    ]);
  });

  it("never deletes the backup the instance is being restored from", async () => {
    const [, oldestScheduled] = await backupsOf(inst.id);
    expect(oldestScheduled?.trigger).toBe("scheduled");
    // A restore from it in progress (the restore flow sets restoreSnapshot).
    await prisma().instance.update({ where: { id: inst.id }, data: { restoreSnapshot: oldestScheduled!.snapshotName } });
    clock.jumpTo(new Date(slot.getTime() + 3 * DAY + 1000));
    await backupsDone();
    await prisma().instance.update({ where: { id: inst.id }, data: { restoreSnapshot: null } });
    const rows = await backupsOf(inst.id);
    expect(rows.filter((b) => b.trigger === "scheduled").map((b) => b.id)).toContain(oldestScheduled!.id);
    // Three scheduled READY: the protected one, and the newest two.
    expect(rows.filter((b) => b.trigger === "scheduled" && b.status === "READY")).toHaveLength(3);
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, oldestScheduled!.snapshotName)).toBeDefined();

    // The next scheduled backup catches up with it.
    clock.jumpTo(new Date(slot.getTime() + 4 * DAY + 1000));
    await backupsDone();
    const later = await backupsOf(inst.id);
    expect(later.map((b) => b.trigger)).toEqual(["manual", "scheduled", "scheduled"]);
    expect(later.map((b) => b.id)).not.toContain(oldestScheduled!.id);
    await terminate(u, inst.id);
  });
});

describe("failures are loud", () => {
  let u: TestUser;
  let inst: Awaited<ReturnType<typeof runningInstance>>;
  let slot: Date;

  it("a scheduled snapshot the CSI driver fails is FAILED with an ERROR event that names the schedule", async () => {
    const owner = await buildFundedUser(ctx);
    const fragile = await runningInstance(owner, "n8n/pro", "fragile");
    emulator().failSnapshots(fragile.namespace, `${fragile.resourceName}-pvc`, "rpc error: code = Internal desc = disk busy");
    clock.jumpTo(takenBy(firstSlot(fragile)));
    await backupsDone();
    emulator().failSnapshots(fragile.namespace, `${fragile.resourceName}-pvc`, undefined);
    const [row] = await backupsOf(fragile.id);
    const reason = "Failed to check and update snapshot content: rpc error: code = Internal desc = disk busy";
    expect(row).toMatchObject({ trigger: "scheduled", status: "FAILED", reason });
    expect((await backupEvents(fragile.id)).at(-1)).toEqual({
      type: "BACKUP_FAILED",
      level: "ERROR",
      message: `Scheduled backup ${row!.snapshotName} failed: ${reason}`,
    });
    await terminate(owner, fragile.id);
  });

  it("a scheduled backup the storage quota refuses is FAILED with the reason and an ERROR event, not skipped", async () => {
    u = await buildFundedUser(ctx);
    inst = await runningInstance(u, "ghost/starter", "crowded");
    slot = firstSlot(inst);
    // Room for the instance's volume (5 GiB), none for a copy.
    const quota = await ctx.api
      .put(`/api/admin/users/${u.id}/quota`)
      .set(admin.auth)
      .send({ maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb: 5 });
    expect(quota.status).toBe(200);
    const failedBefore = await failedCount();

    clock.jumpTo(takenBy(slot));
    expect(await loop().runOnce()).toMatchObject({ scheduled: 0, refused: 1, failed: 1 });
    const rows = await backupsOf(inst.id);
    const reason = "the storage quota has no room for it: Quota exceeded: storageGb is 5, 5 in use, 5 requested";
    expect(rows.map((b) => ({ trigger: b.trigger, status: b.status, reason: b.reason }))).toEqual([
      { trigger: "scheduled", status: "FAILED", reason },
    ]);
    expect(await backupEvents(inst.id)).toEqual([
      { type: "BACKUP_FAILED", level: "ERROR", message: `Scheduled backup ${rows[0]!.snapshotName} failed: ${reason}` },
    ]);
    expect(await failedCount()).toBe(failedBefore + 1);
    // No snapshot was ever made; the owner sees the failure in the list.
    expect(emulator().getObject(SNAP, "VolumeSnapshot", inst.namespace, rows[0]!.snapshotName)).toBeUndefined();
    const list = await ctx.api.get(`/api/instances/${inst.id}/backups`).set(u.auth);
    expect(list.body.data).toEqual([expect.objectContaining({ trigger: "scheduled", status: "FAILED", reason })]);
    // One attempt per slot: the next pass does not pile up refusals.
    expect(await loop().runOnce()).toMatchObject({ refused: 0 });
    expect(await backupsOf(inst.id)).toHaveLength(1);
  });

  it("an instance without a good backup for 48 h is counted in the summary and the gauge, and evented once", async () => {
    expect(await summaryBackups()).toEqual({ withoutGoodBackup48h: 0 });
    expect(await gauge("minispod_backups_overdue")).toBe(0);
    // 48 h after its creation (and past a second refused slot): overdue.
    clock.jumpTo(new Date(inst.createdAt.getTime() + 48 * HOUR + 60_000));
    const first = await loop().runOnce();
    expect(first.overdue).toBe(1);
    expect(await summaryBackups()).toEqual({ withoutGoodBackup48h: 1 });
    expect(await gauge("minispod_backups_overdue")).toBe(1);
    // The admin finds them in the instance list too.
    const overdueList = await ctx.api.get("/api/instances?backupOverdue=true").set(admin.auth);
    expect(overdueList.status).toBe(200);
    expect(overdueList.body.data.map((i: { id: string }) => i.id)).toEqual([inst.id]);
    expect(overdueList.body.page.total).toBe(1);
    expect((await ctx.api.get("/api/instances?backupOverdue=maybe").set(admin.auth)).status).toBe(400);
    expect(await loop().runOnce()).toMatchObject({ overdue: 0 });
    const overdue = (await backupEvents(inst.id)).filter((e) => e.type === "BACKUP_OVERDUE");
    expect(overdue).toEqual([
      {
        type: "BACKUP_OVERDUE",
        level: "ERROR",
        message: "Scheduled backups are overdue: no good backup in 48 h (there is none); see the BACKUP_FAILED events",
      },
    ]);
    // Each refused slot is its own FAILED backup.
    const failed = await backupsOf(inst.id);
    expect(failed.every((b) => b.trigger === "scheduled" && b.status === "FAILED")).toBe(true);
    expect(failed.length).toBeGreaterThanOrEqual(2);

    // Room again: the next slot's backup is good; the failed scheduled ones it supersedes are removed.
    await ctx.api
      .put(`/api/admin/users/${u.id}/quota`)
      .set(admin.auth)
      .send({ maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb: 20 });
    const nextSlot = new Date(lastSlotAt(inst.id, plans["ghost/starter"]!.backupHourUtc, SPREAD, clock.now()).getTime() + DAY + 1000);
    clock.jumpTo(nextSlot);
    await backupsDone();
    expect((await backupsOf(inst.id)).map((b) => [b.trigger, b.status])).toEqual([["scheduled", "READY"]]);
    expect(await summaryBackups()).toEqual({ withoutGoodBackup48h: 0 });
    expect(await gauge("minispod_backups_overdue")).toBe(0);
    expect((await ctx.api.get("/api/instances?backupOverdue=true").set(admin.auth)).body.data).toEqual([]);
    expect((await backupEvents(inst.id)).filter((e) => e.type === "BACKUP_OVERDUE")).toHaveLength(1);
    await terminate(u, inst.id);
  });
});

describe("PostgreSQL", () => {
  it("a scheduled backup of a RUNNING PostgreSQL instance stops it briefly for the cut, like a manual one", async () => {
    const u = await buildFundedUser(ctx);
    const inst = await runningInstance(u, "postgresql/small", "nightly-db");
    clock.jumpTo(takenBy(firstSlot(inst)));
    expect(await loop().runOnce()).toMatchObject({ scheduled: 1 });
    const [row] = await backupsOf(inst.id);
    expect(row).toMatchObject({ trigger: "scheduled", quiesce: true, status: "PENDING" });
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({ desiredState: "STOPPED" });
    await backupsDone();
    expect(await prisma().backup.findUniqueOrThrow({ where: { id: row!.id } })).toMatchObject({ status: "READY" });
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "RUNNING",
      desiredState: "RUNNING",
    });
    await terminate(u, inst.id);
  });
});

/** The schedule on its own clock (no loop pass in between), reporting whether its fleet query ran. */
function scheduleOn(at: ShiftedClock) {
  return new BackupSchedule({
    prisma: prisma(),
    clock: at,
    manifests: InstanceManifests.fromConfig(ctx.config.kube),
    quotas: ctx.container.services.quotas,
    snapshotClass: "csi-snapshots",
    timeoutMs: 60_000,
    enabled: true,
    spreadMs: SPREAD,
    batch: 10,
  });
}

describe("the pace of the fleet queries", () => {
  it("the due query runs at most a minute apart: a slot that passes meanwhile is taken at most a minute late", async () => {
    const u = await buildFundedUser(ctx);
    const inst = await runningInstance(u, "n8n/starter", "paced");
    const slot = firstSlot(inst);
    const at = new ShiftedClock();
    const schedule = scheduleOn(at);
    at.jumpTo(new Date(slot.getTime() - 30_000));
    expect(await schedule.requestDue()).toEqual({ checked: true, requested: 0, refused: 0 });
    // The slot passes 30 s later: the query waits for its minute.
    at.jumpTo(new Date(slot.getTime() + 1000));
    expect(await schedule.requestDue()).toEqual({ checked: false, requested: 0, refused: 0 });
    expect(await backupsOf(inst.id)).toEqual([]);
    at.jumpTo(new Date(slot.getTime() + 30_000));
    expect(await schedule.requestDue()).toEqual({ checked: true, requested: 1, refused: 0 });
    expect((await backupsOf(inst.id)).map((b) => [b.trigger, b.status])).toEqual([["scheduled", "PENDING"]]);
    // Nothing more to take: the next passes of that minute skip the query; a clock that moved back runs it.
    expect(await schedule.requestDue()).toMatchObject({ checked: false });
    at.jumpTo(new Date(slot.getTime() + 89_000));
    expect(await schedule.requestDue()).toMatchObject({ checked: false });
    at.jumpTo(new Date(slot.getTime()));
    expect(await schedule.requestDue()).toEqual({ checked: true, requested: 0, refused: 0 });
    await backupsDone();
    await terminate(u, inst.id);
  });

  it("the summary and the gauge serve the stored overdue count for 2 minutes, then count it again", async () => {
    const fresh = await summaryBackups();
    const stored = (computedAt: Date) =>
      prisma().fleetGauge.upsert({
        where: { name: "backups_overdue" },
        create: { name: "backups_overdue", value: 42, computedAt },
        update: { value: 42, computedAt },
      });
    // (42: a value no count gives here, to tell the stored count from a fresh one.)
    await stored(new Date(clock.now().getTime() - 100_000));
    expect(await summaryBackups()).toEqual({ withoutGoodBackup48h: 42 });
    expect(await gauge("minispod_backups_overdue")).toBe(42);
    await stored(new Date(clock.now().getTime() - 121_000));
    expect(await summaryBackups()).toEqual(fresh);
    expect(await gauge("minispod_backups_overdue")).toBe(fresh.withoutGoodBackup48h);
    // A sweep's end stores the count again.
    await stored(new Date(clock.now().getTime() - 100_000));
    expect((await ctx.api.post("/api/admin/health/check").set(admin.auth).send({})).status).toBe(200);
    expect(await summaryBackups()).toEqual(fresh);
    expect((await prisma().fleetGauge.findUniqueOrThrow({ where: { name: "backups_overdue" } })).value).toBe(fresh.withoutGoodBackup48h);
  });
});

describe("the fleet query", () => {
  it("requests at most BACKUP_SCHEDULE_BATCH scheduled backups per pass, never one beside a pending backup", async () => {
    const u = await buildFundedUser(ctx, 50_000);
    const insts = [];
    for (const name of ["one", "two", "three", "four"]) insts.push(await runningInstance(u, "n8n/starter", name));
    // The first has a manual backup pending when the slots pass.
    const manual = await ctx.api.post(`/api/instances/${insts[0]!.id}/backups`).set(u.auth);
    expect(manual.status).toBe(202);
    // 30 h later every instance has passed one slot (and none is 48 h old).
    clock.jumpTo(new Date(Math.max(...insts.map((i) => i.createdAt.getTime())) + 30 * HOUR));
    const first = await loop().runOnce();
    // Three are due; the batch is 2.
    expect(first.scheduled).toBe(2);
    expect((await backupsOf(insts[0]!.id)).map((b) => b.trigger)).toEqual(["manual"]);
    // The next passes take the rest (and the first instance's, once its manual backup is READY).
    await backupsDone();
    await backupsDone();
    // Every instance got its one scheduled backup, the first one's after its manual backup was READY.
    for (const i of insts) expect((await backupsOf(i.id)).filter((b) => b.trigger === "scheduled" && b.status === "READY")).toHaveLength(1);
    const [manualRow, scheduledRow] = await backupsOf(insts[0]!.id);
    expect((await backupEvents(insts[0]!.id)).map((e) => e.message.split(" ").slice(0, 2).join(" "))).toEqual([
      "Backup requested:",
      `Backup ${manualRow!.snapshotName}`,
      "Scheduled backup",
      `Backup ${scheduledRow!.snapshotName}`,
    ]);
    for (const i of insts) await terminate(u, i.id);
  });
});

describe.skipIf(!usingPostgres)("concurrency (real PostgreSQL)", () => {
  it("manual requests racing the schedule never leave two pending backups of one instance", async () => {
    const u = await buildFundedUser(ctx, 50_000);
    const inst = await runningInstance(u, "n8n/starter", "raced");
    clock.jumpTo(new Date(inst.createdAt.getTime() + 30 * HOUR));
    // The schedule's request path on its own (no loop pass cuts anything meanwhile), against two manual requests.
    const schedule = scheduleOn(clock);
    const [a, b, due] = await Promise.all([
      ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth),
      ctx.api.post(`/api/instances/${inst.id}/backups`).set(u.auth),
      schedule.requestDue(),
    ]);
    const accepted = [a, b].filter((r) => r.status === 202).length;
    for (const r of [a, b]) {
      expect([202, 409]).toContain(r.status);
      if (r.status === 409) expect(r.body.error.code).toBe("CONFLICT");
    }
    expect(accepted + due.requested).toBe(1);
    expect(await prisma().backup.count({ where: { instanceId: inst.id, status: "PENDING", deleteRequestedAt: null } })).toBe(1);
    await backupsDone();
    await terminate(u, inst.id);
  });
});

/**
 * Version upgrades end to end on the emulator: a snapshot first, then the rollout of the new image;
 * a new version that never becomes ready is rolled back by itself — the previous image on a volume
 * restored from the pre-upgrade snapshot (its data marker is back); upgrade paths the catalog does not
 * allow (a PostgreSQL major version in place) are refused and change nothing; the admin manages the
 * versions and their paths.
 */
import type { LiveDeployment, LiveStatefulSet } from "../../src/kube/objects.js";
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
const N8N = "docker.n8n.io/n8nio/n8n";

beforeAll(async () => {
  ctx = await createTestContext({ env: { K8S_EMULATOR_SNAPSHOT_READY_DELAY: "0", STUCK_POD_GRACE: "1ms" } });
  Object.assign(plans, await plansBySlug(ctx));
});
afterAll(async () => {
  await ctx.close();
});

const { prisma, emulator, settle } = backupTestKit(() => ctx);
const backupsDone = (between?: () => Promise<void>) => ctx.container.loops.backups.runUntilIdle({ timeoutMs: 20_000, between });

async function setup(plan: string, name: string) {
  const u: TestUser = await buildFundedUser(ctx);
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans[plan]!.id, instanceName: name });
  expect(res.status).toBe(201);
  await settle();
  const inst = res.body.instance as { id: string; namespace: string; resourceName: string };
  return { u, inst, pvc: `${inst.resourceName}-pvc` };
}

async function deployment(ns: string, name: string) {
  const dep = await ctx.container.kube.client.get<LiveDeployment>({ ...KINDS.Deployment, name, namespace: ns });
  return {
    image: dep.spec?.template.spec?.containers[0]?.image,
    claim: dep.spec?.template.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName,
  };
}

async function upgradeEvents(id: string) {
  const rows = await prisma().instanceEvent.findMany({ where: { instanceId: id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.filter((e) => e.type.startsWith("UPGRADE_"));
}

const ref = (version: string, notes = expect.any(String), image = N8N) => ({ version, image, notes });

describe("GET /api/instances/:id/versions and PUT /api/instances/:id/version", () => {
  it("a new instance runs the service's default version; an upgrade snapshots, rolls out the new image and records each step", async () => {
    const { u, inst, pvc } = await setup("n8n/starter", "upgradable");
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({ version: "1.103.2", image: N8N });
    const before = await ctx.api.get(`/api/instances/${inst.id}/versions`).set(u.auth);
    expect(before.status).toBe(200);
    expect(before.body).toEqual({
      versions: { instanceId: inst.id, service: "n8n", current: ref("1.103.2"), available: [ref("1.104.0")], upgrade: null },
    });
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "kept-through-upgrade");

    const res = await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" });
    expect(res.body.error).toBeUndefined();
    expect(res.status).toBe(202);
    const backup = await prisma().backup.findFirstOrThrow({ where: { instanceId: inst.id } });
    expect(backup).toMatchObject({ trigger: "upgrade", status: "PENDING" });
    expect(res.body.versions).toEqual({
      instanceId: inst.id,
      service: "n8n",
      current: ref("1.103.2"),
      available: [ref("1.104.0")],
      upgrade: { fromVersion: "1.103.2", toVersion: "1.104.0", phase: "SNAPSHOT", backupId: backup.id },
    });
    // While it is in progress: a second upgrade, and deleting its backup, are refused.
    const again = await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(
      errorShape("INVALID_STATE", { details: { status: "RUNNING", desiredState: "RUNNING", upgradeToVersion: "1.104.0" } }),
    );
    expect((await ctx.api.delete(`/api/instances/${inst.id}/backups/${backup.id}`).set(u.auth)).status).toBe(409);
    expect((await deployment(inst.namespace, inst.resourceName)).image).toBe(`${N8N}:1.103.2`);

    await backupsDone(settle);
    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "RUNNING",
      statusMessage: null,
    });
    expect(await deployment(inst.namespace, inst.resourceName)).toEqual({ image: `${N8N}:1.104.0`, claim: pvc });
    expect(emulator().readVolumeData(inst.namespace, pvc)).toEqual({ marker: "kept-through-upgrade" });
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      version: "1.104.0",
      image: N8N,
      upgradeToVersion: null,
      upgradeFromVersion: null,
      upgradeBackupId: null,
    });
    expect(await prisma().backup.findUniqueOrThrow({ where: { id: backup.id } })).toMatchObject({ status: "READY", trigger: "upgrade" });
    expect((await upgradeEvents(inst.id)).map((e) => e.type)).toEqual([
      "UPGRADE_REQUESTED",
      "UPGRADE_SNAPSHOT_READY",
      "UPGRADE_STARTED",
      "UPGRADE_ROLLED_OUT",
    ]);
    const all = (
      await prisma().instanceEvent.findMany({ where: { instanceId: inst.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] })
    ).map((e) => e.type);
    expect(all.slice(all.indexOf("UPGRADE_REQUESTED"))).toEqual([
      "UPGRADE_REQUESTED",
      "BACKUP_REQUESTED",
      "BACKUP_READY",
      "UPGRADE_SNAPSHOT_READY",
      "UPGRADE_STARTED",
      "OBJECTS_APPLIED",
      "UPGRADING_COMPLETE",
      "UPGRADE_ROLLED_OUT",
    ]);
    const after = await ctx.api.get(`/api/instances/${inst.id}/versions`).set(u.auth);
    expect(after.body).toEqual({
      versions: { instanceId: inst.id, service: "n8n", current: ref("1.104.0"), available: [], upgrade: null },
    });
  });

  it("a new version that never becomes ready is rolled back by itself: the old image runs on the pre-upgrade snapshot's data", async () => {
    const { u, inst, pvc } = await setup("n8n/starter", "rollback");
    emulator().writeVolumeData(inst.namespace, pvc, "marker", "before-upgrade");
    emulator().markImageBad(`${N8N}:1.104.0`);
    try {
      expect((await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" })).status).toBe(202);
      await backupsDone();
      expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
        status: "UPGRADING",
        version: "1.104.0",
        upgradeFromVersion: "1.103.2",
      });
      const rolling = await ctx.api.get(`/api/instances/${inst.id}/versions`).set(u.auth);
      expect(rolling.body.versions.upgrade).toMatchObject({ fromVersion: "1.103.2", toVersion: "1.104.0", phase: "ROLLING_OUT" });
      // The new version touches the data before it fails.
      emulator().writeVolumeData(inst.namespace, pvc, "marker", "migrated-by-new-version");
      let row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
      for (let i = 0; i < 30 && row.status !== "RUNNING"; i++) {
        await ctx.container.loops.reconciler.reconcileNow(inst.id);
        await emulator().fastForward();
        row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
      }
      expect(row).toMatchObject({
        status: "RUNNING",
        version: "1.103.2",
        image: N8N,
        upgradeToVersion: null,
        upgradeFromVersion: null,
        restoreClaim: null,
      });
      const dep = await deployment(inst.namespace, inst.resourceName);
      expect(dep.image).toBe(`${N8N}:1.103.2`);
      expect(dep.claim).toMatch(new RegExp(`^${inst.resourceName}-restore-[0-9a-f]{6}$`));
      expect(row.volumeClaim).toBe(dep.claim);
      expect(emulator().readVolumeData(inst.namespace, dep.claim!)).toEqual({ marker: "before-upgrade" });
      await emulator().settle();
      expect(emulator().getObject("v1", "PersistentVolumeClaim", inst.namespace, pvc)).toBeUndefined();
      const events = await upgradeEvents(inst.id);
      expect(events.map((e) => e.type)).toEqual([
        "UPGRADE_REQUESTED",
        "UPGRADE_SNAPSHOT_READY",
        "UPGRADE_STARTED",
        "UPGRADE_FAILED",
        "UPGRADE_ROLLED_BACK",
      ]);
      expect(events[3]).toMatchObject({ level: "ERROR" });
      expect(events[3]?.message).toMatch(
        /^Upgrade to 1\.104\.0 failed \(Pods are stuck in ImagePullBackOff.*\); rolling back to 1\.103\.2 with the pre-upgrade backup/,
      );
      expect(events[4]).toMatchObject({ level: "WARN", data: expect.objectContaining({ restored: true, version: "1.103.2" }) });
      expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance).toMatchObject({ status: "RUNNING" });
      expect((await ctx.api.get(`/api/instances/${inst.id}/versions`).set(u.auth)).body.versions).toMatchObject({
        current: ref("1.103.2"),
        upgrade: null,
      });
    } finally {
      emulator().markImageGood(`${N8N}:1.104.0`);
    }
  });

  it("a pre-upgrade snapshot that fails stops the upgrade before it starts: the instance stays RUNNING on its version", async () => {
    const { u, inst, pvc } = await setup("n8n/starter", "no-snapshot");
    emulator().failSnapshots(inst.namespace, pvc, "disk busy");
    try {
      expect((await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" })).status).toBe(202);
      await backupsDone(settle);
    } finally {
      emulator().failSnapshots(inst.namespace, pvc, undefined);
    }
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "RUNNING",
      version: "1.103.2",
      upgradeToVersion: null,
      upgradeBackupId: null,
    });
    expect((await deployment(inst.namespace, inst.resourceName)).image).toBe(`${N8N}:1.103.2`);
    const events = await upgradeEvents(inst.id);
    expect(events.map((e) => e.type)).toEqual(["UPGRADE_REQUESTED", "UPGRADE_FAILED"]);
    expect(events[1]).toMatchObject({ level: "ERROR" });
    expect(events[1]?.message).toMatch(
      /^Upgrade to 1\.104\.0 not started: the pre-upgrade backup .* failed \(.*disk busy\); the instance stays on 1\.103\.2$/,
    );
  });

  it("an upgrade whose next step was lost (a process died once its backup was READY) is taken up by the next backup pass", async () => {
    const { u, inst } = await setup("n8n/starter", "resumed");
    expect((await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" })).status).toBe(202);
    // As if the backup loop had marked the backup READY and died before the upgrade's step: a plain backup's pass.
    const backup = await prisma().backup.update({
      where: { id: (await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).upgradeBackupId! },
      data: { trigger: "manual" },
    });
    await ctx.container.loops.backups.runOnce();
    expect(await prisma().backup.findUniqueOrThrow({ where: { id: backup.id } })).toMatchObject({ status: "READY" });
    // The same pass found the waiting upgrade and started it.
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "UPGRADING",
      version: "1.104.0",
    });
    await settle();
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "RUNNING",
      version: "1.104.0",
      upgradeToVersion: null,
    });
    expect((await deployment(inst.namespace, inst.resourceName)).image).toBe(`${N8N}:1.104.0`);
  });

  it("needs storage quota for the pre-upgrade backup and a rollback's volume (422), and then changes nothing", async () => {
    const { u, inst } = await setup("n8n/starter", "tight");
    const admin = await buildAdmin(ctx);
    const quota = (storageGb: number) =>
      ctx.api.put(`/api/admin/users/${u.id}/quota`).set(admin.auth).send({ maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb });
    // The volume (5 GiB) and the backup (5 GiB) fit in 10; a rollback's volume would not.
    expect((await quota(10)).status).toBe(200);
    const res = await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(errorShape("QUOTA_EXCEEDED", { details: { limit: "storageGb", max: 10, current: 10, requested: 5 } }));
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "RUNNING",
      version: "1.103.2",
      upgradeToVersion: null,
      upgradeBackupId: null,
    });
    expect(await prisma().backup.count({ where: { instanceId: inst.id } })).toBe(0);
    expect(await upgradeEvents(inst.id)).toEqual([]);
    expect((await quota(15)).status).toBe(200);
    expect((await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" })).status).toBe(202);
    await backupsDone(settle);
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({ status: "RUNNING", version: "1.104.0" });
  });

  it("an instance without a volume upgrades with no snapshot, and a failed rollout goes back to the previous image only", async () => {
    const admin = await buildAdmin(ctx);
    const n8n = await prisma().service.findUniqueOrThrow({ where: { slug: "n8n" } });
    const plan = await ctx.api
      .post(`/api/admin/services/${n8n.id}/plans`)
      .set(admin.auth)
      .send({ slug: "ephemeral", name: "Ephemeral", cpuMilli: 250, memoryMb: 256, storageGb: 0, monthlyPriceCredits: 100 });
    expect(plan.status).toBe(201);
    plans["n8n/ephemeral"] = plan.body.plan;
    const { u, inst } = await setup("n8n/ephemeral", "no-volume");
    emulator().markImageBad(`${N8N}:1.104.0`);
    try {
      const res = await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "1.104.0" });
      expect(res.status).toBe(202);
      expect(res.body.versions.upgrade).toEqual({ fromVersion: "1.103.2", toVersion: "1.104.0", phase: "ROLLING_OUT", backupId: null });
      let row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
      for (let i = 0; i < 30 && row.status !== "RUNNING"; i++) {
        await ctx.container.loops.reconciler.reconcileNow(inst.id);
        await emulator().fastForward();
        row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
      }
      expect(row).toMatchObject({ status: "RUNNING", version: "1.103.2", upgradeToVersion: null, volumeClaim: null });
      expect((await deployment(inst.namespace, inst.resourceName)).image).toBe(`${N8N}:1.103.2`);
      expect(await prisma().backup.count({ where: { instanceId: inst.id } })).toBe(0);
      const events = await upgradeEvents(inst.id);
      expect(events.map((e) => e.type)).toEqual(["UPGRADE_REQUESTED", "UPGRADE_STARTED", "UPGRADE_FAILED", "UPGRADE_ROLLED_BACK"]);
      expect(events[3]?.data).toMatchObject({ restored: false });
    } finally {
      emulator().markImageGood(`${N8N}:1.104.0`);
    }
  });

  it("PostgreSQL moves within its major version (stopped briefly for the snapshot); 16 -> 17 in place is refused and changes nothing", async () => {
    const { u, inst } = await setup("postgresql/small", "db");
    const versions = await ctx.api.get(`/api/instances/${inst.id}/versions`).set(u.auth);
    expect(versions.body.versions).toMatchObject({
      current: { version: "16.9-alpine", image: "postgres" },
      available: [{ version: "16.10-alpine", image: "postgres", notes: expect.any(String) }],
    });
    const major = await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "17.6-alpine" });
    expect(major.status).toBe(409);
    expect(major.body).toEqual(
      errorShape("UPGRADE_NOT_ALLOWED", {
        details: { currentVersion: "16.9-alpine", requestedVersion: "17.6-alpine", allowed: ["16.10-alpine"] },
      }),
    );
    expect(major.body.error.message).toMatch(/^PostgreSQL 16 -> 17 is a major version upgrade, which cannot be done in place/);
    expect(await prisma().backup.count({ where: { instanceId: inst.id } })).toBe(0);
    expect(await upgradeEvents(inst.id)).toEqual([]);

    expect((await ctx.api.put(`/api/instances/${inst.id}/version`).set(u.auth).send({ version: "16.10-alpine" })).status).toBe(202);
    await backupsDone(settle);
    await settle();
    const sts = await ctx.container.kube.client.get<LiveStatefulSet>({
      ...KINDS.StatefulSet,
      name: inst.resourceName,
      namespace: inst.namespace,
    });
    expect(sts.spec?.template.spec?.containers[0]?.image).toBe("postgres:16.10-alpine");
    expect(sts.spec?.replicas).toBe(1);
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "RUNNING",
      desiredState: "RUNNING",
      version: "16.10-alpine",
    });
    expect((await upgradeEvents(inst.id)).map((e) => e.type)).toEqual([
      "UPGRADE_REQUESTED",
      "UPGRADE_SNAPSHOT_READY",
      "UPGRADE_STARTED",
      "UPGRADE_ROLLED_OUT",
    ]);
    expect(await prisma().backup.findFirstOrThrow({ where: { instanceId: inst.id } })).toMatchObject({
      status: "READY",
      trigger: "upgrade",
    });
  });

  it("refuses bad requests with 4xx and changes nothing: unknown, same or inactive version, bad body, another tenant, an admin, wrong state", async () => {
    const { u, inst } = await setup("n8n/starter", "picky");
    const put = (body: unknown, who: TestUser = u) =>
      ctx.api
        .put(`/api/instances/${inst.id}/version`)
        .set(who.auth)
        .send(body as object);
    const unknown = await put({ version: "9.9.9" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(errorShape("NOT_FOUND"));
    const same = await put({ version: "1.103.2" });
    expect(same.status).toBe(409);
    expect(same.body).toEqual(errorShape("CONFLICT", { details: { currentVersion: "1.103.2" } }));
    const down = await put({ version: "1.103.1" });
    expect(down.status).toBe(409);
    expect(down.body).toEqual(
      errorShape("UPGRADE_NOT_ALLOWED", { details: { currentVersion: "1.103.2", requestedVersion: "1.103.1", allowed: ["1.104.0"] } }),
    );
    expect((await put({ version: "1.104.0", extra: true })).status).toBe(400);
    expect((await put({})).status).toBe(400);
    expect((await put({ version: "not a tag!" })).status).toBe(400);
    const other = await buildUser(ctx);
    expect((await put({ version: "1.104.0" }, other)).status).toBe(404);
    expect((await ctx.api.get(`/api/instances/${inst.id}/versions`).set(other.auth)).status).toBe(404);
    const admin = await buildAdmin(ctx);
    expect((await put({ version: "1.104.0" }, admin)).status).toBe(404);
    expect((await ctx.api.get(`/api/instances/${inst.id}/versions`).set(admin.auth)).status).toBe(200);
    expect((await ctx.api.get(`/api/instances/${inst.id}/versions`)).status).toBe(401);

    // An inactive version is not offered, and not accepted.
    const v = await prisma().serviceVersion.findFirstOrThrow({ where: { version: "1.104.0", service: { slug: "n8n" } } });
    expect((await ctx.api.patch(`/api/admin/service-versions/${v.id}`).set(admin.auth).send({ isActive: false })).status).toBe(200);
    try {
      const inactive = await put({ version: "1.104.0" });
      expect(inactive.status).toBe(409);
      expect(inactive.body).toEqual(errorShape("CONFLICT", { details: { version: "1.104.0" } }));
      expect((await ctx.api.get(`/api/instances/${inst.id}/versions`).set(u.auth)).body.versions.available).toEqual([]);
    } finally {
      expect((await ctx.api.patch(`/api/admin/service-versions/${v.id}`).set(admin.auth).send({ isActive: true })).status).toBe(200);
    }

    // Only a RUNNING instance.
    expect((await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth)).status).toBe(202);
    await settle();
    const stopped = await put({ version: "1.104.0" });
    expect(stopped.status).toBe(409);
    expect(stopped.body).toEqual(
      errorShape("INVALID_STATE", { details: { status: "STOPPED", desiredState: "STOPPED", upgradeToVersion: null } }),
    );
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      version: "1.103.2",
      upgradeToVersion: null,
    });
    expect(await prisma().backup.count({ where: { instanceId: inst.id } })).toBe(0);
    expect(await upgradeEvents(inst.id)).toEqual([]);
  });
});

describe("admin: image versions and upgrade paths", () => {
  it("lists, adds and updates versions; a PostgreSQL major path is refused (400); the default moves and new instances run it", async () => {
    const admin = await buildAdmin(ctx);
    const pg = await prisma().service.findUniqueOrThrow({ where: { slug: "postgresql" } });
    const list = await ctx.api.get(`/api/admin/services/${pg.id}/versions`).set(admin.auth);
    expect(list.status).toBe(200);
    expect(list.body.data.map((v: { version: string; isDefault: boolean }) => [v.version, v.isDefault])).toEqual(
      expect.arrayContaining([
        ["16.9-alpine", true],
        ["16.10-alpine", false],
        ["17.6-alpine", false],
      ]),
    );
    const v17 = list.body.data.find((v: { version: string }) => v.version === "17.6-alpine");
    const major = await ctx.api
      .patch(`/api/admin/service-versions/${v17.id}`)
      .set(admin.auth)
      .send({ upgradeFrom: ["17.5-alpine", "16.9-alpine"] });
    expect(major.status).toBe(400);
    expect(major.body).toEqual(
      errorShape("VALIDATION_ERROR", {
        details: [{ path: "upgradeFrom.1", message: expect.stringMatching(/^PostgreSQL 16 -> 17 is a major version upgrade/) }],
      }),
    );
    const debian = await ctx.api
      .post(`/api/admin/services/${pg.id}/versions`)
      .set(admin.auth)
      .send({ version: "16.10", upgradeFrom: ["16.9-alpine"] });
    expect(debian.status).toBe(400);
    expect(debian.body.error.details[0].message).toMatch(/runs as uid 999 \(was 70\)/);
    expect((await ctx.api.post(`/api/admin/services/${pg.id}/versions`).set(admin.auth).send({ version: "16.9-alpine" })).status).toBe(409);

    const ghost = await prisma().service.findUniqueOrThrow({ where: { slug: "ghost" } });
    const created = await ctx.api
      .post(`/api/admin/services/${ghost.id}/versions`)
      .set(admin.auth)
      .send({ version: "5.130.3-alpine", upgradeFrom: ["5.130.2-alpine"], notes: "patch" });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      serviceVersion: {
        id: expect.any(String),
        serviceId: ghost.id,
        version: "5.130.3-alpine",
        image: "ghost",
        isActive: true,
        isDefault: false,
        upgradeFrom: ["5.130.2-alpine"],
        notes: "patch",
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    });
    const id = created.body.serviceVersion.id as string;
    expect(
      (await ctx.api.patch(`/api/admin/service-versions/${id}`).set(admin.auth).send({ isDefault: true, isActive: false })).status,
    ).toBe(409);
    const made = await ctx.api.patch(`/api/admin/service-versions/${id}`).set(admin.auth).send({ isDefault: true });
    expect(made.status).toBe(200);
    expect(made.body.serviceVersion).toMatchObject({ isDefault: true });
    expect(await prisma().service.findUniqueOrThrow({ where: { id: ghost.id } })).toMatchObject({
      version: "5.130.3-alpine",
      image: "ghost",
    });
    expect(await prisma().serviceVersion.count({ where: { serviceId: ghost.id, isDefault: true } })).toBe(1);
    const unset = await ctx.api.patch(`/api/admin/service-versions/${id}`).set(admin.auth).send({ isDefault: false });
    expect(unset.status).toBe(409);
    expect(unset.body).toEqual(errorShape("INVALID_STATE", { details: { versionId: id } }));
    expect((await ctx.api.patch(`/api/admin/service-versions/${id}`).set(admin.auth).send({})).status).toBe(400);
    expect((await ctx.api.patch("/api/admin/service-versions/nope").set(admin.auth).send({ notes: "x" })).status).toBe(404);
    const user = await buildUser(ctx);
    expect((await ctx.api.get(`/api/admin/services/${pg.id}/versions`).set(user.auth)).status).toBe(403);

    // A new Ghost instance runs the new default.
    const u = await buildFundedUser(ctx);
    const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans["ghost/starter"]!.id, instanceName: "blog" });
    expect(res.status).toBe(201);
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: res.body.instance.id } })).toMatchObject({
      version: "5.130.3-alpine",
      image: "ghost",
    });
    // Put the seeded default back for the other tests.
    const old = await prisma().serviceVersion.findFirstOrThrow({ where: { serviceId: ghost.id, version: "5.130.2-alpine" } });
    expect((await ctx.api.patch(`/api/admin/service-versions/${old.id}`).set(admin.auth).send({ isDefault: true })).status).toBe(200);
    expect(await prisma().service.findUniqueOrThrow({ where: { id: ghost.id } })).toMatchObject({ version: "5.130.2-alpine" });

    // The service's own version is its default version: editing it moves the default (created when new).
    expect((await ctx.api.patch(`/api/admin/services/${ghost.id}`).set(admin.auth).send({ version: "5.130.4-alpine" })).status).toBe(200);
    const defaults = await prisma().serviceVersion.findMany({ where: { serviceId: ghost.id, isDefault: true } });
    expect(defaults.map((v) => [v.version, v.image, v.isActive])).toEqual([["5.130.4-alpine", "ghost", true]]);
    expect((await ctx.api.patch(`/api/admin/services/${ghost.id}`).set(admin.auth).send({ version: "5.130.2-alpine" })).status).toBe(200);
    expect((await prisma().serviceVersion.findFirstOrThrow({ where: { serviceId: ghost.id, isDefault: true } })).version).toBe(
      "5.130.2-alpine",
    );
  });
});

/**
 * Stop and start by the owner: POST /api/instances/:id/stop scales the workload to 0 and keeps every
 * object and the volume (STOPPED); POST /start brings it back (UPDATING -> RUNNING) on the same volume.
 * Wrong states are 409s in the one error shape; the health sweep does not judge a stopped instance;
 * a stopped instance keeps counting against the quota and its subscription keeps renewing.
 */
import type { LiveDeployment, LivePersistentVolumeClaim, LivePod, LiveStatefulSet } from "../../src/kube/objects.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KINDS } from "../../src/kube/client.js";
import { ShiftedClock } from "../helpers/clock.js";
import {
  buildAdmin,
  buildFundedUser,
  buildUser,
  createTestContext,
  errorShape,
  settleReconciler,
  type TestContext,
  type TestUser,
  backupTestKit,
  plansBySlug,
} from "../helpers/app.js";

const clock = new ShiftedClock();
let ctx: TestContext;
let admin: TestUser;
const plans: Record<string, { id: string; monthlyPriceCredits: number }> = {};

beforeAll(async () => {
  ctx = await createTestContext({ clock });
  admin = await buildAdmin(ctx);
  Object.assign(plans, await plansBySlug(ctx));
});
afterAll(async () => {
  await ctx.close();
});

const { prisma } = backupTestKit(() => ctx);
const kube = () => ctx.container.kube.client;
const settle = () => settleReconciler(ctx);
const fundedUser = (credits = 5000) => buildFundedUser(ctx, credits);

async function running(u: TestUser, plan: string, name: string) {
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans[plan]!.id, instanceName: name });
  expect(res.status).toBe(201);
  await settle();
  const inst = res.body.instance as { id: string; namespace: string; resourceName: string };
  expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
  return { ...inst, subscriptionId: res.body.subscription.id as string };
}

async function eventTypes(id: string): Promise<string[]> {
  const rows = await prisma().instanceEvent.findMany({ where: { instanceId: id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.map((r) => r.type);
}

const pods = async (ns: string, id: string) =>
  (await kube().listAll<LivePod>("Pod", `minispod.io/instance-id=${id}`, { namespace: ns })).items;

describe("stop -> STOPPED (scaled to 0, data kept) -> start -> RUNNING on the same volume", () => {
  let u: TestUser;
  let inst: Awaited<ReturnType<typeof running>>;
  let pvcUid: string | undefined;

  it("stops a RUNNING instance: 202 with desiredState STOPPED, then STOPPED with no pod and every object kept", async () => {
    u = await fundedUser();
    inst = await running(u, "n8n/starter", "Stoppable");
    const pvc = await kube().get<LivePersistentVolumeClaim>({
      ...KINDS.PersistentVolumeClaim,
      name: `${inst.resourceName}-pvc`,
      namespace: inst.namespace,
    });
    pvcUid = pvc.metadata?.uid;
    expect(await pods(inst.namespace, inst.id)).toHaveLength(1);

    const res = await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.instance).toMatchObject({ id: inst.id, status: "RUNNING", desiredState: "STOPPED" });
    // Asked twice before the reconciler got to it: still a 409.
    const again = await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth);
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape("INVALID_STATE", { details: { status: "RUNNING", desiredState: "STOPPED" } }));

    await settle();
    const view = await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth);
    expect(view.body.instance).toMatchObject({ status: "STOPPED", desiredState: "STOPPED", statusMessage: null });
    const dep = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name: inst.resourceName, namespace: inst.namespace });
    expect(dep.spec?.replicas).toBe(0);
    expect(await pods(inst.namespace, inst.id)).toHaveLength(0);
    const kept = await kube().get<LivePersistentVolumeClaim>({
      ...KINDS.PersistentVolumeClaim,
      name: `${inst.resourceName}-pvc`,
      namespace: inst.namespace,
    });
    expect(kept.metadata?.uid).toBe(pvcUid);
    expect((await eventTypes(inst.id)).slice(-3)).toEqual(["STOP_REQUESTED", "OBJECTS_APPLIED", "STOPPED"]);
    const audit = await prisma().auditEvent.findFirst({ where: { action: "instance.stop", objectId: inst.id } });
    expect(audit).toMatchObject({ actorId: u.id, objectType: "instance" });
  });

  it("refuses what a STOPPED instance cannot do: stop, restart, change plan (409 INVALID_STATE)", async () => {
    const stop = await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth);
    expect(stop.status).toBe(409);
    expect(stop.body).toEqual(errorShape("INVALID_STATE", { details: { status: "STOPPED", desiredState: "STOPPED" } }));
    expect((await ctx.api.post(`/api/instances/${inst.id}/restart`).set(u.auth)).status).toBe(409);
    const update = await ctx.api.put(`/api/instances/${inst.id}/update`).set(u.auth).send({ planId: plans["n8n/pro"]!.id });
    expect(update.status).toBe(409);
  });

  it("is not judged by the health sweep: UNKNOWN with the reason, never UNHEALTHY", async () => {
    const res = await ctx.api
      .post("/api/admin/health/check")
      .set(admin.auth)
      .send({ instanceIds: [inst.id] });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
    expect(res.body.skipped).toEqual([{ instanceId: inst.id, status: "STOPPED", reason: "only RUNNING instances are judged" }]);
    await ctx.api.post("/api/admin/health/check").set(admin.auth).send({});
    const row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    expect(row).toMatchObject({ healthStatus: "UNKNOWN", healthReason: "not judged: instance is STOPPED", healthCandidate: null });
  });

  it("still counts against the quota (its resources stay reserved)", async () => {
    const res = await ctx.api.get("/api/quotas").set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.usage).toEqual({ instances: 1, cpuMilli: 500, memoryMb: 512, storageGb: 5 });
  });

  it("starts again: 202 with desiredState RUNNING, then RUNNING with a pod on the same volume", async () => {
    const res = await ctx.api.post(`/api/instances/${inst.id}/start`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.instance).toMatchObject({ status: "STOPPED", desiredState: "RUNNING" });
    const again = await ctx.api.post(`/api/instances/${inst.id}/start`).set(u.auth);
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape("INVALID_STATE", { details: { status: "STOPPED", desiredState: "RUNNING" } }));

    await settle();
    const view = await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth);
    expect(view.body.instance).toMatchObject({ status: "RUNNING", desiredState: "RUNNING" });
    expect(await pods(inst.namespace, inst.id)).toHaveLength(1);
    const pvc = await kube().get<LivePersistentVolumeClaim>({
      ...KINDS.PersistentVolumeClaim,
      name: `${inst.resourceName}-pvc`,
      namespace: inst.namespace,
    });
    expect(pvc.metadata?.uid).toBe(pvcUid);
    const dep = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name: inst.resourceName, namespace: inst.namespace });
    expect(dep.spec?.template.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName).toBe(
      `${inst.resourceName}-pvc`,
    );
    expect((await eventTypes(inst.id)).slice(-4)).toEqual(["START_REQUESTED", "STARTING", "OBJECTS_APPLIED", "UPDATING_COMPLETE"]);
  });

  it("refuses to start a RUNNING instance (409)", async () => {
    const res = await ctx.api.post(`/api/instances/${inst.id}/start`).set(u.auth);
    expect(res.status).toBe(409);
    expect(res.body).toEqual(errorShape("INVALID_STATE", { details: { status: "RUNNING", desiredState: "RUNNING" } }));
  });

  it("is the owner's: another user gets 404 and an admin too (owner-only actions)", async () => {
    const other = await buildUser(ctx);
    for (const path of ["stop", "start"]) {
      const res = await ctx.api.post(`/api/instances/${inst.id}/${path}`).set(other.auth);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(errorShape("NOT_FOUND"));
      expect((await ctx.api.post(`/api/instances/${inst.id}/${path}`).set(admin.auth)).status).toBe(404);
    }
    expect((await ctx.api.post(`/api/instances/${inst.id}/stop`)).status).toBe(401);
  });
});

describe("stop and start in other states", () => {
  it("refuses to stop while PENDING/PROVISIONING (409) and changes nothing", async () => {
    const u = await fundedUser();
    const sub = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans["ghost/starter"]!.id, instanceName: "early" });
    expect(sub.status).toBe(201);
    const id = sub.body.instance.id as string;
    const res = await ctx.api.post(`/api/instances/${id}/stop`).set(u.auth);
    expect(res.status).toBe(409);
    expect(res.body).toEqual(errorShape("INVALID_STATE", { details: { status: sub.body.instance.status, desiredState: "RUNNING" } }));
    expect(await prisma().instance.findUniqueOrThrow({ where: { id } })).toMatchObject({ desiredState: "RUNNING" });
    expect(await eventTypes(id)).not.toContain("STOP_REQUESTED");
    await settle();
  });

  it("stops and starts a PostgreSQL StatefulSet", async () => {
    const u = await fundedUser();
    const inst = await running(u, "postgresql/small", "db");
    expect((await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth)).status).toBe(202);
    await settle();
    const sts = await kube().get<LiveStatefulSet>({ ...KINDS.StatefulSet, name: inst.resourceName, namespace: inst.namespace });
    expect(sts.spec?.replicas).toBe(0);
    expect(await pods(inst.namespace, inst.id)).toHaveLength(0);
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("STOPPED");
    expect((await ctx.api.post(`/api/instances/${inst.id}/start`).set(u.auth)).status).toBe(202);
    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
    expect(await pods(inst.namespace, inst.id)).toHaveLength(1);
  });

  it("keeps billing while stopped: the renewal is charged; a PAST_DUE subscription cannot start until paid", async () => {
    const price = plans["n8n/starter"]!.monthlyPriceCredits;
    const u = await fundedUser(price * 2);
    const inst = await running(u, "n8n/starter", "billed");
    expect((await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth)).status).toBe(202);
    await settle();

    const periodEnd = async () => (await prisma().subscription.findUniqueOrThrow({ where: { id: inst.subscriptionId } })).currentPeriodEnd;
    clock.jumpTo(new Date((await periodEnd()).getTime() + 1000));
    await ctx.container.loops.renewal.runOnce();
    const renewal = await prisma().creditTransaction.findFirst({ where: { userId: u.id, type: "RENEWAL_CHARGE" } });
    expect(renewal).toMatchObject({ amount: -price, referenceId: inst.subscriptionId });
    expect(await prisma().subscription.findUniqueOrThrow({ where: { id: inst.subscriptionId } })).toMatchObject({ status: "ACTIVE" });

    // The next renewal cannot be paid: PAST_DUE; the stopped instance stays STOPPED (it already holds no pod).
    clock.jumpTo(new Date((await periodEnd()).getTime() + 1000));
    await ctx.container.loops.renewal.runOnce();
    expect(await prisma().subscription.findUniqueOrThrow({ where: { id: inst.subscriptionId } })).toMatchObject({ status: "PAST_DUE" });
    expect(await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).toMatchObject({
      status: "STOPPED",
      desiredState: "STOPPED",
    });
    const start = await ctx.api.post(`/api/instances/${inst.id}/start`).set(u.auth);
    expect(start.status).toBe(409);
    expect(start.body).toEqual(errorShape("INVALID_STATE", { details: { subscriptionStatus: "PAST_DUE" } }));
    clock.offsetMs = 0;
  });

  it("deletes a STOPPED instance: TERMINATING then TERMINATED, objects removed", async () => {
    const u = await fundedUser();
    const inst = await running(u, "n8n/starter", "gone");
    expect((await ctx.api.post(`/api/instances/${inst.id}/stop`).set(u.auth)).status).toBe(202);
    await settle();
    const del = await ctx.api.delete(`/api/instances/${inst.id}`).set(u.auth);
    expect(del.status).toBe(202);
    expect(del.body.instance).toMatchObject({ status: "TERMINATING", desiredState: "TERMINATED" });
    await settle();
    expect((await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth)).body.instance.status).toBe("TERMINATED");
    expect((await kube().listAll("Deployment", `minispod.io/instance-id=${inst.id}`)).items).toHaveLength(0);
  });
});

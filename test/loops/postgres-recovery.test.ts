/**
 * PostgreSQL that can be recovered (issue 13, item 3): a broken update (a bad image) fails the
 * instance; after the update is reverted, the StatefulSet — OrderedReady, which never replaces a pod
 * that is not Ready, even once its template is fixed (kubernetes/kubernetes#67250, modelled by the
 * emulator) — would wait forever. The reconciler deletes the pod stuck at the old revision, and
 * the instance reaches RUNNING again, with its volume and credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUser, createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;

const emulator = () => {
  const e = ctx.container.kube.emulator;
  if (!e) throw new Error("tests run against the emulator");
  return e;
};
const prisma = () => ctx.container.db.prisma;
const settle = () => ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 30_000 });

beforeAll(async () => {
  ctx = await createTestContext({ env: { STUCK_POD_GRACE: "1ms", ROLLOUT_TIMEOUT: "20s" } });
});
afterAll(async () => {
  await ctx?.close();
});

function podsOf(namespace: string, id: string) {
  return emulator()
    .listObjects("v1", "Pod", { namespace, labelSelector: `minispod.io/instance-id=${id}` })
    .filter((p) => !p.metadata.deletionTimestamp);
}

describe("a broken PostgreSQL update, reverted", () => {
  it("reaches RUNNING again: the reconciler deletes the pod stuck at the broken revision (and only it)", async () => {
    const owner = await buildUser(ctx);
    await ctx.container.services.ledger.post(prisma(), { userId: owner.id, type: "TOPUP", amount: 50_000, reason: "test" });
    const plan = await prisma().plan.findFirstOrThrow({ where: { service: { slug: "postgresql" } }, orderBy: { cpuMilli: "asc" } });
    const service = await prisma().service.findUniqueOrThrow({ where: { id: plan.serviceId } });
    const res = await ctx.api.post("/api/subscriptions").set(owner.auth).send({ planId: plan.id, instanceName: "recover db" });
    expect(res.status).toBe(201);
    const id = res.body.instance.id as string;
    await settle();
    const inst = await prisma().instance.findUniqueOrThrow({ where: { id } });
    expect(inst.status).toBe("RUNNING");
    const credentials = (await ctx.api.get(`/api/instances/${id}/credentials`).set(owner.auth)).body;

    // The broken update: the instance's version is changed to an image that cannot be pulled (as a
    // catalog entry with a wrong tag would; the version upgrade flow rolls back by itself, see
    // upgrades.test.ts — this is the platform's last resort when a bad revision is applied anyway),
    // and the instance picks it up with a restart.
    const setVersion = (version: string) => prisma().instance.update({ where: { id }, data: { version } });
    await setVersion("bad");
    expect((await ctx.api.post(`/api/instances/${id}/restart`).set(owner.auth)).status).toBe(202);
    await settle();
    const failed = await prisma().instance.findUniqueOrThrow({ where: { id } });
    expect(failed.status).toBe("FAILED");
    expect(failed.statusMessage).toMatch(/ImagePullBackOff|ErrImagePull/);
    const [broken] = podsOf(inst.namespace, id);
    expect(broken?.metadata.name).toBe(`${inst.k8sName}-0`);
    expect((broken?.spec as { containers: Array<{ image: string }> } | undefined)?.containers[0]?.image).toBe(`${service.image}:bad`);
    // Nothing deleted it while the broken revision was the current one: that would only recreate it.
    expect(await prisma().instanceEvent.count({ where: { instanceId: id, type: "STUCK_POD_DELETED" } })).toBe(0);

    // Reverted: the template is right again, but the OrderedReady StatefulSet waits on its broken pod.
    await setVersion(inst.version ?? service.version);
    emulator().recorder.reset();
    expect((await ctx.api.post(`/api/instances/${id}/restart`).set(owner.auth)).status).toBe(202);
    await settle();

    const recovered = await prisma().instance.findUniqueOrThrow({ where: { id } });
    expect(recovered).toMatchObject({ status: "RUNNING", statusMessage: null });
    const [pod] = podsOf(inst.namespace, id);
    expect((pod?.spec as { containers: Array<{ image: string }> } | undefined)?.containers[0]?.image).toBe(
      `${service.image}:${service.version}`,
    );
    expect(pod?.metadata.uid).not.toBe(broken?.metadata.uid);
    const deleted = await prisma().instanceEvent.findMany({ where: { instanceId: id, type: "STUCK_POD_DELETED" } });
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatchObject({
      level: "WARN",
      data: { pods: [{ name: `${inst.k8sName}-0`, reason: expect.stringMatching(/ImagePullBackOff|ErrImagePull/) }] },
    });
    // Exactly one pod deleted, by name, in the tenant namespace.
    const podDeletes = emulator()
      .recorder.calls()
      .filter((c) => c.verb === "delete" && c.resource === "pods");
    expect(podDeletes.map((c) => [c.namespace, c.name])).toEqual([[inst.namespace, `${inst.k8sName}-0`]]);
    // Same volume, same credentials.
    expect((await ctx.api.get(`/api/instances/${id}/credentials`).set(owner.auth)).body).toEqual(credentials);
    expect(emulator().getObject("v1", "PersistentVolumeClaim", inst.namespace, `${inst.k8sName}-pvc`)?.metadata.uid).toBeDefined();
  });
});

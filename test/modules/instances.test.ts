/**
 * The instance lifecycle end to end: HTTP API -> database -> reconciler -> the real cluster client ->
 * the Kubernetes API emulator. The cluster is inspected through the same client at each step.
 */
import type { LiveDeployment, LivePersistentVolumeClaim, LivePod, LiveSecret, LiveStatefulSet } from "../../src/kube/objects.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KINDS } from "../../src/kube/client.js";
import { buildAdmin, buildUser, createTestContext, errorShape, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let admin: TestUser;
const plans: Record<string, { id: string; monthlyPriceCredits: number; storageGb: number }> = {};

beforeAll(async () => {
  ctx = await createTestContext({ env: { STUCK_POD_GRACE: "1ms", ROLLOUT_TIMEOUT: "20s" } });
  admin = await buildAdmin(ctx);
  for (const p of await ctx.container.db.prisma.plan.findMany({ include: { service: true } })) {
    plans[`${p.service.slug}/${p.slug}`] = p;
  }
});
afterAll(async () => {
  await ctx.close();
});

const settle = () => ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 20_000 });
const kube = () => ctx.container.kube.client;

async function fundedUser(credits = 5000): Promise<TestUser> {
  const u = await buildUser(ctx);
  await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: credits, reason: "test" });
  return u;
}

async function subscribe(u: TestUser, plan: string, instanceName: string) {
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans[plan]!.id, instanceName });
  expect(res.status).toBe(201);
  return res.body as { subscription: { id: string }; instance: { id: string; namespace: string; resourceName: string; subdomain: string } };
}

async function eventTypes(id: string): Promise<string[]> {
  const rows = await ctx.container.db.prisma.instanceEvent.findMany({
    where: { instanceId: id },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
  return rows.map((r) => r.type);
}

async function balance(userId: string): Promise<number> {
  return (await ctx.container.db.prisma.user.findUniqueOrThrow({ where: { id: userId } })).creditBalance;
}

describe("n8n instance lifecycle: subscribe -> RUNNING -> logs -> restart -> update -> delete -> TERMINATED", () => {
  let u: TestUser;
  let id: string;
  let ns: string;
  let name: string;

  it("provisions the subscription's instance to RUNNING with every object in the cluster", async () => {
    u = await fundedUser();
    const { instance } = await subscribe(u, "n8n/starter", "My Automations");
    id = instance.id;
    ns = instance.namespace;
    name = instance.resourceName;
    expect(name).toBe("my-automations");
    expect(ns).toBe(`user-${u.id}`);
    await settle();

    const res = await ctx.api.get(`/api/instances/${id}`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.instance).toMatchObject({
      id,
      status: "RUNNING",
      statusMessage: null,
      desiredState: "RUNNING",
      url: `https://${instance.subdomain}`,
      namespace: ns,
      service: { slug: "n8n" },
      plan: { slug: "starter", cpuMilli: 500, memoryMb: 512, storageGb: 5 },
      resources: { cpuMilli: 500, memoryMb: 512, storageGb: 5 },
      // No sweep has run: the first health observation comes from the rollout the reconciler watched.
      health: { status: "HEALTHY", reason: "rollout complete: all replicas ready", checkedAt: expect.stringMatching(/Z$/) },
    });
    expect(res.body.instance.provisionedAt).toMatch(/Z$/);
    expect(await eventTypes(id)).toEqual(["CREATED", "PROVISIONING_STARTED", "TENANT_READY", "OBJECTS_APPLIED", "RUNNING"]);

    const dep = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name, namespace: ns });
    expect(dep.spec?.strategy?.type).toBe("Recreate");
    expect(dep.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(5678);
    expect(dep.spec?.template.spec?.containers[0]?.resources?.limits).toMatchObject({ cpu: "500m", memory: "512Mi" });
    expect(dep.status?.readyReplicas).toBe(1);
    const pvc = await kube().get<LivePersistentVolumeClaim>({ ...KINDS.PersistentVolumeClaim, name: `${name}-pvc`, namespace: ns });
    expect(pvc.spec?.resources?.requests?.storage).toBe("5Gi");
    for (const ref of [
      { ...KINDS.ConfigMap, name: `${name}-config` },
      { ...KINDS.Secret, name: `${name}-secret` },
      { ...KINDS.Service, name: `${name}-svc` },
      { ...KINDS.Ingress, name: `${name}-ingress` },
      { apiVersion: "v1", kind: "ResourceQuota", name: "tenant-quota" },
    ]) {
      expect(await kube().find({ ...ref, namespace: ns }), `${ref.kind} ${ref.name}`).toBeDefined();
    }
    // The encryption key lives only in the Secret.
    const secret = await kube().get<LiveSecret>({ ...KINDS.Secret, name: `${name}-secret`, namespace: ns });
    const key = Buffer.from(secret.data?.N8N_ENCRYPTION_KEY ?? "", "base64").toString();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const cm = await kube().get({ ...KINDS.ConfigMap, name: `${name}-config`, namespace: ns });
    expect(JSON.stringify(cm)).not.toContain(key);
    const list = await ctx.api.get("/api/instances").set(u.auth);
    expect(JSON.stringify(list.body)).not.toContain(key);
  });

  it("lists only the caller's instances, with filters; another user gets 404s", async () => {
    const list = await ctx.api.get("/api/instances?status=RUNNING&service=n8n").set(u.auth);
    expect(list.status).toBe(200);
    expect(list.body.data.map((i: { id: string }) => i.id)).toEqual([id]);
    expect(list.body.page).toEqual({ page: 1, pageSize: 20, total: 1, totalPages: 1 });
    expect((await ctx.api.get("/api/instances?status=FAILED").set(u.auth)).body.data).toEqual([]);
    expect((await ctx.api.get("/api/instances?status=BOGUS").set(u.auth)).status).toBe(400);

    const other = await fundedUser();
    for (const [method, path] of [
      ["get", `/api/instances/${id}`],
      ["get", `/api/instances/${id}/logs`],
      ["get", `/api/instances/${id}/events`],
      ["get", `/api/instances/${id}/credentials`],
      ["post", `/api/instances/${id}/restart`],
      ["delete", `/api/instances/${id}`],
    ] as const) {
      const res = await ctx.api[method](path).set(other.auth);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toEqual(errorShape("NOT_FOUND", { message: "Instance not found" }));
    }
    expect((await ctx.api.get("/api/instances").set(other.auth)).body.data).toEqual([]);
    // Admins may read any instance, but credentials stay with the owner.
    expect((await ctx.api.get(`/api/instances/${id}`).set(admin.auth)).status).toBe(200);
    expect((await ctx.api.get(`/api/instances/${id}/credentials`).set(admin.auth)).status).toBe(404);
  });

  it("returns credentials to the owner only, uncached", async () => {
    const res = await ctx.api.get(`/api/instances/${id}/credentials`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body.credentials).toEqual({
      instanceId: id,
      service: "n8n",
      url: expect.stringMatching(/^https:\/\//),
      secrets: { N8N_ENCRYPTION_KEY: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
  });

  it("serves logs with tailLines, and rejects tailLines above 5000", async () => {
    const res = await ctx.api.get(`/api/instances/${id}/logs?tailLines=3`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.lines.length).toBeGreaterThanOrEqual(1);
    expect(res.body.lines.length).toBeLessThanOrEqual(3);
    // The pod keeps logging (a line a second), so compare tail=1 with a tail=3 read just after it.
    const one = await ctx.api.get(`/api/instances/${id}/logs?tailLines=1`).set(u.auth);
    const after = await ctx.api.get(`/api/instances/${id}/logs?tailLines=3`).set(u.auth);
    expect(one.body.lines).toHaveLength(1);
    expect(after.body.lines).toContain(one.body.lines[0]);
    const bad = await ctx.api.get(`/api/instances/${id}/logs?tailLines=5001`).set(u.auth);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]).toMatchObject({ path: "query.tailLines" });
  });

  it("restarts: RESTARTING, then RUNNING on a new pod", async () => {
    const before = await kube().listAll<LivePod>("Pod", `minispod.io/instance-id=${id}`, { namespace: ns });
    expect(before.items).toHaveLength(1);
    const res = await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.instance.status).toBe("RESTARTING");
    const again = await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth);
    expect(again.status).toBe(409);
    expect(again.body).toEqual(errorShape("INVALID_STATE", { details: { status: "RESTARTING" } }));
    await settle();
    expect((await ctx.api.get(`/api/instances/${id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
    const after = await kube().listAll<LivePod>("Pod", `minispod.io/instance-id=${id}`, { namespace: ns });
    expect(after.items.map((p) => p.metadata?.name)).not.toContain(before.items[0]?.metadata?.name);
    const dep = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name, namespace: ns });
    expect(dep.spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toMatch(/Z$/);
    expect((await eventTypes(id)).slice(-3)).toEqual(["RESTART_REQUESTED", "OBJECTS_APPLIED", "RESTARTING_COMPLETE"]);
  });

  it("updates to a bigger plan: pro-rata charge, UPDATING -> RUNNING, resources patched and the volume grown", async () => {
    const before = await balance(u.id);
    const res = await ctx.api.put(`/api/instances/${id}/update`).set(u.auth).send({ planId: plans["n8n/pro"]!.id });
    expect(res.status).toBe(202);
    expect(res.body.instance).toMatchObject({ status: "UPDATING", plan: { slug: "pro" } });
    const entry = await ctx.container.db.prisma.creditTransaction.findFirstOrThrow({ where: { userId: u.id, type: "PLAN_CHANGE" } });
    // Subscribed "now": the whole period (minus the partial current day) remains.
    expect(entry.amount).toBeLessThan(0);
    expect(entry.amount).toBeGreaterThanOrEqual(-(1000 - 500));
    expect(await balance(u.id)).toBe(before + entry.amount);
    await settle();
    expect((await ctx.api.get(`/api/instances/${id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
    const dep = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name, namespace: ns });
    // The API server may or may not canonicalise quantities (1000m -> 1, 1024Mi -> 1Gi).
    const limits = dep.spec?.template.spec?.containers[0]?.resources?.limits ?? {};
    expect(["1", "1000m"]).toContain(limits.cpu);
    expect(["1Gi", "1024Mi"]).toContain(limits.memory);
    const pvc = await kube().get<LivePersistentVolumeClaim>({ ...KINDS.PersistentVolumeClaim, name: `${name}-pvc`, namespace: ns });
    expect(pvc.spec?.resources?.requests?.storage).toBe("10Gi");
    const sub = await ctx.container.db.prisma.subscription.findFirstOrThrow({ where: { instances: { some: { id } } } });
    expect(sub.planId).toBe(plans["n8n/pro"]!.id);
  });

  it("refuses to shrink storage, to change service, or the same plan, with 409 and no charge", async () => {
    const ledgerBefore = await ctx.container.db.prisma.creditTransaction.count({ where: { userId: u.id } });
    const shrink = await ctx.api.put(`/api/instances/${id}/update`).set(u.auth).send({ planId: plans["n8n/starter"]!.id });
    expect(shrink.status).toBe(409);
    expect(shrink.body).toEqual(
      errorShape("CONFLICT", {
        message: "Storage can only grow: 10 GB -> 5 GB is a shrink",
        details: { currentStorageGb: 10, requestedStorageGb: 5 },
      }),
    );
    const other = await ctx.api.put(`/api/instances/${id}/update`).set(u.auth).send({ planId: plans["ghost/pro"]!.id });
    expect(other.status).toBe(409);
    const same = await ctx.api.put(`/api/instances/${id}/update`).set(u.auth).send({ planId: plans["n8n/pro"]!.id });
    expect(same.status).toBe(409);
    const unknown = await ctx.api.put(`/api/instances/${id}/update`).set(u.auth).send({ planId: "nope" });
    expect(unknown.status).toBe(404);
    expect(await ctx.container.db.prisma.creditTransaction.count({ where: { userId: u.id } })).toBe(ledgerBefore);
    expect((await ctx.api.get(`/api/instances/${id}`).set(u.auth)).body.instance.status).toBe("RUNNING");
  });

  it("deletes: TERMINATING, then TERMINATED with every object and the namespace gone and the subscription cancelled", async () => {
    const res = await ctx.api.delete(`/api/instances/${id}`).set(u.auth);
    expect(res.status).toBe(202);
    expect(res.body.instance).toMatchObject({ status: "TERMINATING", desiredState: "TERMINATED" });
    await settle();
    const got = await ctx.api.get(`/api/instances/${id}`).set(u.auth);
    expect(got.body.instance).toMatchObject({ status: "TERMINATED", terminatedAt: expect.stringMatching(/Z$/) });
    expect(await kube().find({ ...KINDS.Deployment, name, namespace: ns })).toBeUndefined();
    expect(await kube().find({ ...KINDS.PersistentVolumeClaim, name: `${name}-pvc`, namespace: ns })).toBeUndefined();
    const left = await kube().listAll("Pod", `minispod.io/instance-id=${id}`);
    expect(left.items).toEqual([]);
    const nsObj = await kube().find<{ apiVersion?: string; kind?: string; status?: { phase?: string } }>({ ...KINDS.Namespace, name: ns });
    expect(nsObj === undefined || nsObj.status?.phase === "Terminating").toBe(true);
    const sub = await ctx.container.db.prisma.subscription.findFirstOrThrow({ where: { instances: { some: { id } } } });
    expect(sub.status).toBe("CANCELLED");
    const again = await ctx.api.delete(`/api/instances/${id}`).set(u.auth);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("INVALID_STATE");
    expect((await ctx.api.get(`/api/instances/${id}/logs`).set(u.auth)).status).toBe(409);
    expect((await eventTypes(id)).slice(-2)).toEqual(["TERMINATION_REQUESTED", "TERMINATED"]);
  });
});

describe("PostgreSQL instances", () => {
  it("run as a StatefulSet with no Ingress, and expose a connection string to the owner", async () => {
    const u = await fundedUser();
    const { instance } = await subscribe(u, "postgresql/small", "orders db");
    await settle();
    const got = (await ctx.api.get(`/api/instances/${instance.id}`).set(u.auth)).body.instance;
    expect(got.status).toBe("RUNNING");
    expect(got.url).toBe(`postgresql://orders-db-svc.${instance.namespace}.svc.cluster.local:5432`);
    const sts = await kube().get<LiveStatefulSet>({ ...KINDS.StatefulSet, name: "orders-db", namespace: instance.namespace });
    // The seeded image is postgres:16.9-alpine, whose postgres user is uid/gid 70 (999 is Debian's).
    expect(sts.spec?.template.spec?.securityContext).toMatchObject({ runAsUser: 70, runAsGroup: 70, fsGroup: 70 });
    expect(sts.spec?.serviceName).toBe("orders-db-hl");
    expect(await kube().find({ ...KINDS.Ingress, name: "orders-db-ingress", namespace: instance.namespace })).toBeUndefined();
    const creds = await ctx.api.get(`/api/instances/${instance.id}/credentials`).set(u.auth);
    expect(creds.status).toBe(200);
    const c = creds.body.credentials;
    expect(c).toMatchObject({
      host: `orders-db-svc.${instance.namespace}.svc.cluster.local`,
      port: 5432,
      username: "app",
      database: "app",
    });
    expect(c.password).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(c.connectionString).toBe(`postgresql://app:${c.password}@${c.host}:5432/app`);
    // The official image serves no TLS and this cluster declares none: the details say so.
    expect(c.sslmode).toBe("disable");
    expect(c.tls).toEqual({ offered: false, connectionString: null, note: expect.stringContaining("does not offer TLS") });
    // Never in lists.
    expect(JSON.stringify((await ctx.api.get("/api/instances").set(u.auth)).body)).not.toContain(c.password);
  });
});

describe("failures", () => {
  async function badService(version: string) {
    const svc = await ctx.api
      .post("/api/admin/services")
      .set(admin.auth)
      .send({ slug: `broken-${version}`, name: "Broken", template: "ghost", image: "ghost", version, port: 2368 });
    expect(svc.status).toBe(201);
    const plan = await ctx.api
      .post(`/api/admin/services/${svc.body.service.id}/plans`)
      .set(admin.auth)
      .send({ slug: "only", name: "Only", cpuMilli: 100, memoryMb: 128, storageGb: 1, monthlyPriceCredits: 250 });
    return plan.body.plan.id as string;
  }

  it("a bad image ends in FAILED: objects rolled back, first period refunded exactly once, subscription cancelled", async () => {
    const planId = await badService("bad");
    const u = await fundedUser(1000);
    const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: "broken" });
    expect(res.status).toBe(201);
    const { id, namespace } = res.body.instance;
    expect(await balance(u.id)).toBe(750);
    await settle();
    const got = (await ctx.api.get(`/api/instances/${id}`).set(u.auth)).body.instance;
    expect(got.status).toBe("FAILED");
    expect(got.statusMessage).toMatch(/ImagePullBackOff|ErrImagePull/);
    expect(await balance(u.id)).toBe(1000);
    const refunds = await ctx.container.db.prisma.creditTransaction.findMany({ where: { userId: u.id, type: "REFUND" } });
    expect(refunds.map((r) => [r.amount, r.idempotencyKey])).toEqual([[250, `refund:first-period:${id}`]]);
    expect(await kube().find({ ...KINDS.Deployment, name: "broken", namespace })).toBeUndefined();
    expect((await kube().listAll("Pod", `minispod.io/instance-id=${id}`)).items).toEqual([]);
    // Rolled back for good: its stored credentials go with its objects.
    expect(await ctx.container.db.prisma.instanceCredentials.count({ where: { instanceId: id } })).toBe(0);
    const sub = await ctx.container.db.prisma.subscription.findUniqueOrThrow({ where: { id: res.body.subscription.id } });
    expect(sub.status).toBe("CANCELLED");
    expect(await eventTypes(id)).toContain("FAILED");
    expect(await eventTypes(id)).toContain("REFUNDED");
    // Cancelling afterwards refunds nothing more.
    expect((await ctx.api.post(`/api/subscriptions/${sub.id}/cancel`).set(u.auth)).status).toBe(409);
    expect(await balance(u.id)).toBe(1000);
  });

  it("a crash-looping workload ends in FAILED the same way", async () => {
    const planId = await badService("crash");
    const u = await fundedUser(1000);
    const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: "crashy" });
    await settle();
    const got = (await ctx.api.get(`/api/instances/${res.body.instance.id}`).set(u.auth)).body.instance;
    expect(got.status).toBe("FAILED");
    expect(got.statusMessage).toMatch(/CrashLoopBackOff/);
    expect(await balance(u.id)).toBe(1000);
  });

  it("POST /api/instances: 409 while the subscription has a live instance, 409 for a cancelled one", async () => {
    const u = await fundedUser();
    const { subscription } = await subscribe(u, "ghost/starter", "blog");
    const dup = await ctx.api.post("/api/instances").set(u.auth).send({ subscriptionId: subscription.id });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("CONFLICT");
    expect((await ctx.api.post("/api/instances").set(u.auth).send({ subscriptionId: "nope" })).status).toBe(404);
    await ctx.api.post(`/api/subscriptions/${subscription.id}/cancel`).set(u.auth).expect(200);
    const cancelled = await ctx.api.post("/api/instances").set(u.auth).send({ subscriptionId: subscription.id });
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error.code).toBe("INVALID_STATE");
    await settle();
  });
});

describe("billing suspension and resume", () => {
  it("an unpaid renewal scales the workload to 0 (SUSPENDED); a top-up renews and scales it back (RUNNING)", async () => {
    const u = await fundedUser(400); // exactly one period of ghost/starter
    const { instance, subscription } = await subscribe(u, "ghost/starter", "paused blog");
    await settle();
    const prisma = ctx.container.db.prisma;
    await prisma.subscription.update({ where: { id: subscription.id }, data: { currentPeriodEnd: new Date(Date.now() - 1000) } });
    await ctx.container.services.billing.runDue();
    expect((await prisma.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).status).toBe("PAST_DUE");
    await settle();
    expect((await ctx.api.get(`/api/instances/${instance.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "SUSPENDED",
      desiredState: "SUSPENDED",
    });
    const dep = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name: "paused-blog", namespace: instance.namespace });
    expect(dep.spec?.replicas).toBe(0);
    expect((await kube().listAll("Pod", `minispod.io/instance-id=${instance.id}`)).items).toEqual([]);
    // Actions on a suspended instance are refused.
    expect((await ctx.api.post(`/api/instances/${instance.id}/restart`).set(u.auth)).status).toBe(409);

    const grant = await ctx.api
      .post(`/api/admin/users/${u.id}/credits`)
      .set(admin.auth)
      .set("Idempotency-Key", `resume-${u.id}`)
      .send({ amount: 1000, reason: "top-up" });
    expect(grant.status).toBe(201);
    expect((await prisma.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).status).toBe("ACTIVE");
    await settle();
    expect((await ctx.api.get(`/api/instances/${instance.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "RUNNING",
      desiredState: "RUNNING",
    });
    const resumed = await kube().get<LiveDeployment>({ ...KINDS.Deployment, name: "paused-blog", namespace: instance.namespace });
    expect(resumed.spec?.replicas).toBe(1);
    expect(resumed.status?.readyReplicas).toBe(1);
    expect(await eventTypes(instance.id)).toEqual(expect.arrayContaining(["SUSPENDED", "RESUMING", "UPDATING_COMPLETE"]));
  });
});

describe("live streams", () => {
  let base: string;
  let server: import("node:http").Server;
  beforeAll(async () => {
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    base = `http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** Reads a streaming response until `until` matches the text so far (or the time runs out). */
  async function readUntil(res: Response, until: RegExp, ms = 10_000): Promise<string> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const deadline = Date.now() + ms;
    while (!until.test(text) && Date.now() < deadline) {
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((r) =>
          setTimeout(() => r({ value: undefined, done: true }), Math.max(1, deadline - Date.now())),
        ),
      ]);
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel().catch(() => {});
    return text;
  }

  it("streams the provisioning timeline as text/event-stream", async () => {
    const u = await fundedUser();
    const { instance } = await subscribe(u, "ghost/starter", "streamed");
    const controller = new AbortController();
    const res = await fetch(`${base}/api/instances/${instance.id}/events`, {
      headers: { Authorization: u.auth.Authorization, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    // The RUNNING status and the RUNNING event are separate writes: wait for both.
    const reading = readUntil(res, /^(?=[\s\S]*"status":"RUNNING")(?=[\s\S]*"type":"RUNNING")/);
    await settle();
    const text = await reading;
    controller.abort();
    // Unnamed events (a browser's onmessage gets them), each with an id.
    expect(text).not.toContain("event:");
    expect(text).toMatch(/^retry: 2000\n\nid: [^\n]+\ndata: \{"type":"event","event":\{"id":"/);
    for (const type of ["CREATED", "PROVISIONING_STARTED", "OBJECTS_APPLIED", "RUNNING"]) expect(text).toContain(`"type":"${type}"`);
    expect(text).toMatch(/id: [^\n]+\ndata: \{"type":"status","status":"RUNNING","statusMessage":null\}\n\n/);
    // Another user cannot open the stream.
    const other = await fundedUser();
    const denied = await fetch(`${base}/api/instances/${instance.id}/events`, {
      headers: { Authorization: other.auth.Authorization, Accept: "text/event-stream" },
    });
    expect(denied.status).toBe(404);
  });

  it("follows logs as a plain-text stream", async () => {
    const u = await fundedUser();
    const { instance } = await subscribe(u, "ghost/starter", "tailed");
    await settle();
    const controller = new AbortController();
    const res = await fetch(`${base}/api/instances/${instance.id}/logs?follow=true&tailLines=2`, {
      headers: { Authorization: u.auth.Authorization },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await readUntil(res, /\n/);
    controller.abort();
    expect(text.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(1);
  });
});

describe("recovering a FAILED instance that had run", () => {
  it("keeps counting against the quota, blocks a second instance, and comes back with a restart", async () => {
    const u = await fundedUser();
    const { instance, subscription } = await subscribe(u, "ghost/starter", "phoenix");
    await settle();
    // As after a failed plan change: the instance had run, its objects and data stay.
    await ctx.container.db.prisma.instance.update({
      where: { id: instance.id },
      data: { status: "FAILED", statusMessage: "Rollout did not complete within 600s" },
    });
    const quotas = await ctx.api.get("/api/quotas").set(u.auth);
    expect(quotas.body.usage).toEqual({ instances: 1, cpuMilli: 250, memoryMb: 512, storageGb: 5 });

    const second = await ctx.api.post("/api/instances").set(u.auth).send({ subscriptionId: subscription.id });
    expect(second.status).toBe(409);
    expect(second.body).toEqual(
      errorShape("CONFLICT", {
        message: "The subscription already has instance 'phoenix' (FAILED); restart or delete it first",
        details: { instanceId: instance.id, status: "FAILED" },
      }),
    );

    const restart = await ctx.api.post(`/api/instances/${instance.id}/restart`).set(u.auth);
    expect(restart.status).toBe(202);
    expect(restart.body.instance).toMatchObject({ status: "RESTARTING", statusMessage: null });
    await settle();
    expect((await ctx.api.get(`/api/instances/${instance.id}`).set(u.auth)).body.instance).toMatchObject({
      status: "RUNNING",
      statusMessage: null,
    });
  });
});

describe("cluster outage on request paths", () => {
  it("logs answer 503 DEPENDENCY_UNAVAILABLE while the cluster is down, and work again after; credentials come from the database", async () => {
    const u = await fundedUser();
    const { instance } = await subscribe(u, "ghost/starter", "outage reads");
    await settle();
    const emulator = ctx.container.kube.emulator!;
    await emulator.faults.outage("unavailable");
    try {
      const res = await ctx.api.get(`/api/instances/${instance.id}/logs`).set(u.auth);
      expect(res.status).toBe(503);
      expect(res.body).toEqual(errorShape("DEPENDENCY_UNAVAILABLE", { message: "The cluster is unavailable; try again" }));
      // Reads from the database do not depend on the cluster: the instance, and its stored credentials.
      expect((await ctx.api.get(`/api/instances/${instance.id}`).set(u.auth)).status).toBe(200);
      const creds = await ctx.api.get(`/api/instances/${instance.id}/credentials`).set(u.auth);
      expect(creds.status).toBe(200);
      expect(creds.body.credentials).toEqual({
        instanceId: instance.id,
        service: "ghost",
        url: `https://${instance.subdomain}`,
        secrets: {},
      });
    } finally {
      await emulator.faults.restore();
    }
    expect((await ctx.api.get(`/api/instances/${instance.id}/logs?tailLines=1`).set(u.auth)).status).toBe(200);
  });
});

/**
 * The reconciler under faults, competition and crashes. Faults come from the emulator (outages,
 * 5xx bursts); competing reconcilers share one PostgreSQL database (claims are only proven there).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KINDS } from "../../src/kube/client.js";
import { Reconciler } from "../../src/loops/reconciler.js";
import { forgetTenant } from "../../src/loops/reconciler/tenant-sync.js";
import type { InstanceCluster } from "../../src/modules/instances/instance-cluster.js";
import { InstanceManifests } from "../../src/modules/instances/instance-manifests.js";
import { KubeInstanceCluster } from "../../src/modules/instances/kube-instance-cluster.js";
import { createLogger } from "../../src/platform/logger.js";
import { buildUser, createTestContext, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";

let ctx: TestContext;
let planId: string;

beforeAll(async () => {
  ctx = await createTestContext({ env: { RECONCILE_RESYNC_INTERVAL: "200ms", K8S_REQUEST_TIMEOUT: "2s" } });
  planId = (await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "ghost" } } })).id;
});
afterAll(async () => {
  await ctx.close();
});
afterEach(async () => {
  await ctx.container.kube.emulator?.faults.reset();
});

const emulator = () => {
  const e = ctx.container.kube.emulator;
  if (!e) throw new Error("tests run against the emulator");
  return e;
};
const prisma = () => ctx.container.db.prisma;

async function fundedUser(credits = 10_000): Promise<TestUser> {
  const u = await buildUser(ctx);
  await ctx.container.services.ledger.post(prisma(), { userId: u.id, type: "TOPUP", amount: credits, reason: "test" });
  return u;
}

async function subscribe(u: TestUser, instanceName: string) {
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName });
  expect(res.status).toBe(201);
  return res.body.instance as { id: string; namespace: string; resourceName: string };
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function status(id: string) {
  return (await prisma().instance.findUniqueOrThrow({ where: { id } })).status;
}

/** A reconciler of our own (another "replica"), with its own claims. */
function reconciler(opts: Partial<ConstructorParameters<typeof Reconciler>[0]> = {}) {
  const c = ctx.container;
  return new Reconciler({
    prisma: c.db.prisma,
    cluster: new KubeInstanceCluster(c.kube.client),
    manifests: new InstanceManifests({
      render: { tlsIssuer: "letsencrypt-prod", ingressClassName: "nginx", postgresServiceType: "ClusterIP" },
      ingressControllerNamespace: "ingress-nginx",
    }),
    credentials: c.services.credentials,
    billing: c.services.billing,
    quotas: c.services.quotas,
    clock: c.clock,
    logger: createLogger({ level: "silent" }),
    concurrency: c.config.reconciler.concurrency,
    leaseMs: c.config.reconciler.leaseMs,
    stuckPodGraceMs: c.config.reconciler.stuckPodGraceMs,
    resyncIntervalMs: 200,
    rolloutTimeoutMs: 30_000,
    retryBaseMs: 20,
    retryMaxMs: 100,
    ...opts,
  });
}

describe("creating a subscription leads to RUNNING with no further call", () => {
  it("the running loop picks the signal up", async () => {
    const loop = ctx.container.loops.reconciler;
    loop.start();
    try {
      const u = await fundedUser();
      const inst = await subscribe(u, "hands off");
      const deadline = Date.now() + 10_000;
      while ((await status(inst.id)) !== "RUNNING" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(await status(inst.id)).toBe("RUNNING");
    } finally {
      await loop.stop();
    }
  });
});

describe("a running loop with every slot busy", () => {
  it("works through a burst as slots free, without waiting for the resync interval", async () => {
    const u = await fundedUser();
    const ids = [];
    for (const name of ["burst a", "burst b", "burst c", "burst d"]) ids.push((await subscribe(u, name)).id);
    // One slot and a resync interval far beyond the test's timeout: each pass fills the slot, so the
    // next instance is only taken because the finished one schedules the next pass.
    const r = reconciler({ concurrency: 1, resyncIntervalMs: 3_600_000 });
    r.start();
    try {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const rows = await prisma().instance.findMany({ where: { id: { in: ids } }, select: { status: true } });
        if (rows.every((row) => row.status === "RUNNING")) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect((await prisma().instance.findMany({ where: { id: { in: ids } }, select: { status: true } })).map((row) => row.status)).toEqual(
        ["RUNNING", "RUNNING", "RUNNING", "RUNNING"],
      );
    } finally {
      await r.stop();
    }
  });
});

describe("cluster faults", () => {
  it("a total outage during provisioning keeps the instance PROVISIONING; it reaches RUNNING after recovery, charged once", async () => {
    const u = await fundedUser(1000);
    const inst = await subscribe(u, "outage");
    await emulator().faults.outage("refuse");
    const r = reconciler();
    const before = ctx.container.clock.now().getTime();
    const first = await r.reconcileNow(inst.id);
    expect(first).toEqual({ instanceId: inst.id, status: "PROVISIONING", result: "retry" });
    const row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    expect(row).toMatchObject({ status: "PROVISIONING", attempts: 1, leaseOwner: null });
    // The retry is scheduled at least the base backoff (20 ms) after the attempt began — compared with
    // the time before the attempt, not the wall clock now or the row's write time: on a loaded machine
    // either may already be past a 20 ms backoff.
    expect(row.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(before + 20);
    const events = await prisma().instanceEvent.findMany({ where: { instanceId: inst.id, type: "RETRYING" } });
    expect(events).toHaveLength(1);
    expect(events[0]?.level).toBe("WARN");

    await emulator().faults.restore();
    await r.runUntilIdle({ timeoutMs: 10_000 });
    expect(await status(inst.id)).toBe("RUNNING");
    const ledger = await prisma().creditTransaction.findMany({ where: { userId: u.id }, orderBy: { createdAt: "asc" } });
    expect(ledger.map((e) => [e.type, e.amount])).toEqual([
      ["TOPUP", 1000],
      ["SUBSCRIPTION_CHARGE", -400],
    ]);
  });

  it("bursts of 503s are retried through to RUNNING", async () => {
    const u = await fundedUser();
    const inst = await subscribe(u, "flaky");
    emulator().faults.add({ status: 503, probability: 0.5, times: 12 });
    const r = reconciler();
    await r.runUntilIdle({ timeoutMs: 15_000 });
    expect(await status(inst.id)).toBe("RUNNING");
  });

  it("a rollout that never completes ends in FAILED at the deadline, rolled back and refunded", async () => {
    const u = await fundedUser(1000);
    const inst = await subscribe(u, "slow");
    // Pods never become ready: the workload's reads always look unfinished.
    const realCluster = new KubeInstanceCluster(ctx.container.kube.client);
    const neverReady: InstanceCluster = Object.assign(Object.create(realCluster), {
      rolloutState: async () => ({ done: false, message: "0 of 1 updated replicas are available" }),
    });
    const slow = reconciler({ cluster: neverReady, rolloutTimeoutMs: 300, rolloutPollBudgetMs: 50, rolloutRecheckMs: 50 });
    await slow.runUntilIdle({ timeoutMs: 10_000 });
    const row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    expect(row.status).toBe("FAILED");
    expect(row.statusMessage).toMatch(/^Rollout did not complete within 0s: 0 of 1 updated replicas are available$/);
    expect((await prisma().user.findUniqueOrThrow({ where: { id: u.id } })).creditBalance).toBe(1000);
    expect(
      await ctx.container.kube.client.find({ ...KINDS.Deployment, name: inst.resourceName, namespace: inst.namespace }),
    ).toBeUndefined();
  });
});

describe("crash safety", () => {
  it("a reconciler that dies after applying some objects is taken over once its lease expires: RUNNING, no duplicates, one charge", async () => {
    const u = await fundedUser(1000);
    const inst = await subscribe(u, "crashy provisioning");
    // Reconciler A applies the tenant baseline, then "dies" (its apply of the instance's objects never returns).
    const real = new KubeInstanceCluster(ctx.container.kube.client);
    let applies = 0;
    const dying: InstanceCluster = Object.assign(Object.create(real), {
      applyAll: async (objs: Parameters<InstanceCluster["applyAll"]>[0]) => {
        applies++;
        if (applies === 1) return real.applyAll(objs);
        await real.applyAll(objs.slice(0, 2)); // ConfigMap and Secret land, then the process is gone
        return new Promise<void>(() => {});
      },
    });
    const a = reconciler({ cluster: dying, leaseMs: 60_000, owner: "replica-a" });
    void a.reconcileNow(inst.id);
    const deadline = Date.now() + 5000;
    while (applies < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(applies).toBe(2);
    expect((await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).leaseOwner).toBe("replica-a");

    // Reconciler B cannot take it while A's lease is valid...
    const b = reconciler({ owner: "replica-b" });
    expect(await b.reconcileNow(inst.id)).toBeUndefined();
    // ...and can once it has expired (B's clock is past the lease).
    const later = reconciler({ owner: "replica-c", clock: { now: () => new Date(Date.now() + 120_000) } });
    const outcome = await later.reconcileNow(inst.id);
    expect(outcome).toEqual({ instanceId: inst.id, status: "RUNNING", result: "done" });

    const deployments = await ctx.container.kube.client.listAll("Deployment", `minispod.io/instance-id=${inst.id}`);
    const secrets = await ctx.container.kube.client.listAll("Secret", `minispod.io/instance-id=${inst.id}`);
    expect(deployments.items).toHaveLength(1);
    expect(secrets.items).toHaveLength(1);
    const ledger = await prisma().creditTransaction.findMany({ where: { userId: u.id } });
    expect(ledger.map((e) => e.type).sort()).toEqual(["SUBSCRIPTION_CHARGE", "TOPUP"]);
  });
});

describe.skipIf(!usingPostgres)("two reconcilers on one database (PostgreSQL)", () => {
  it("never work on the same instance at once, and together converge every instance", async () => {
    const u = await fundedUser(100_000);
    await ctx.container.services.quotas.setLimits(
      u.id,
      { maxInstances: 50, cpuMilli: 100_000, memoryMb: 100_000, storageGb: 1000 },
      undefined,
    );
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await subscribe(u, `pair ${i}`)).id);

    // Record who works on what, and detect overlap.
    const active = new Map<string, string>();
    const overlaps: string[] = [];
    const worked: Array<[string, string]> = [];
    const real = new KubeInstanceCluster(ctx.container.kube.client);
    const tracking = (owner: string): InstanceCluster =>
      Object.assign(Object.create(real), {
        applyAll: async (objs: Parameters<InstanceCluster["applyAll"]>[0]) => {
          const id = objs.find((o) => o.metadata?.labels?.["minispod.io/instance-id"])?.metadata?.labels?.["minispod.io/instance-id"];
          if (id) {
            if (active.has(id) && active.get(id) !== owner) overlaps.push(id);
            active.set(id, owner);
            worked.push([owner, id]);
          }
          await new Promise((r) => setTimeout(r, 5));
          try {
            return await real.applyAll(objs);
          } finally {
            if (id) active.delete(id);
          }
        },
      });
    const a = reconciler({ cluster: tracking("a"), owner: "a", concurrency: 4 });
    const b = reconciler({ cluster: tracking("b"), owner: "b", concurrency: 4 });
    await Promise.all([a.runUntilIdle({ timeoutMs: 20_000 }), b.runUntilIdle({ timeoutMs: 20_000 })]);

    expect(overlaps).toEqual([]);
    for (const id of ids) expect(await status(id)).toBe("RUNNING");
    // Each instance's objects were applied exactly once (one generation, one claim).
    const perInstance = new Map<string, number>();
    for (const [, id] of worked) perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
    expect([...perInstance.values()].every((n) => n === 1)).toBe(true);
    expect(perInstance.size).toBe(12);
    const owners = new Set(worked.map(([o]) => o));
    expect(owners.size).toBe(2);
    const started = await prisma().instanceEvent.count({ where: { instanceId: { in: ids }, type: "PROVISIONING_STARTED" } });
    expect(started).toBe(12);
  });
});

describe("re-subscribing while the old namespace is still terminating", () => {
  it("waits for the deletion instead of failing the new instance", async () => {
    const u = await fundedUser();
    const first = await subscribe(u, "first");
    const r = reconciler();
    await r.runUntilIdle();
    // Real clusters take seconds to finish a namespace deletion; hold it in Terminating until we say so.
    const clusterOpts = (emulator() as unknown as { cluster: { opts: { namespaceDeletionDelayMs: number } } }).cluster.opts;
    const delay = clusterOpts.namespaceDeletionDelayMs;
    clusterOpts.namespaceDeletionDelayMs = 600_000;
    await ctx.api.delete(`/api/instances/${first.id}`).set(u.auth).expect(202);
    // Terminate: the namespace (the user's last instance) goes into Terminating; hold it there.
    const nsName = first.namespace;
    await r.runUntilIdle();
    expect(await status(first.id)).toBe("TERMINATED");
    const nsObj = emulator().getObject("v1", "Namespace", undefined, nsName) as { status?: { phase?: string } } | undefined;
    expect(nsObj?.status?.phase).toBe("Terminating");

    const second = await subscribe(u, "second");
    const outcome = await r.reconcileNow(second.id);
    clusterOpts.namespaceDeletionDelayMs = delay;
    expect(outcome).toEqual({ instanceId: second.id, status: "PROVISIONING", result: "retry" });
    // Once the namespace is gone, the retry provisions it again.
    emulator().finalizeNamespaces();
    await r.runUntilIdle({ timeoutMs: 15_000 });
    expect(await status(second.id)).toBe("RUNNING");
  });
});

describe("tenant baseline sync", () => {
  const BASELINE = ["namespaces", "serviceaccounts", "resourcequotas", "limitranges", "networkpolicies.networking.k8s.io"];
  /** The distinct baseline objects applied since the recorder was reset. */
  const baselineApplies = (namespace: string) =>
    new Set(
      emulator()
        .recorder.calls({ verb: "apply" })
        .filter((c) => BASELINE.includes(c.resource ?? "") && (c.namespace === namespace || c.name === namespace))
        .map((c) => `${c.resource}/${c.name}`),
    ).size;

  it("a user's second instance does not re-apply the unchanged baseline: one GET of the namespace instead", async () => {
    const u = await fundedUser();
    const first = await subscribe(u, "baseline first");
    const r = reconciler();
    await r.runUntilIdle();
    expect(await status(first.id)).toBe("RUNNING");

    emulator().recorder.reset();
    const second = await subscribe(u, "baseline second");
    await r.runUntilIdle();
    expect(await status(second.id)).toBe("RUNNING");
    expect(baselineApplies(first.namespace)).toBe(0);
    expect(emulator().recorder.count({ verb: "get", resource: "namespaces" })).toBeGreaterThanOrEqual(1);
    // The second instance's own objects were applied as usual.
    expect(emulator().getObject("v1", "ConfigMap", second.namespace, `${second.resourceName}-config`)).toBeDefined();
  });

  it("re-applies the baseline when its namespace is gone, even though the rendering is unchanged", async () => {
    const u = await fundedUser();
    const first = await subscribe(u, "namespace lost");
    const r = reconciler();
    await r.runUntilIdle();
    expect(await ctx.container.kube.client.deleteNamespace(first.namespace)).toBe(true);
    await waitFor(
      async () =>
        !(await new KubeInstanceCluster(ctx.container.kube.client).namespaceActive(first.namespace)) &&
        (await ctx.container.kube.client.find({ ...KINDS.Namespace, name: first.namespace })) === undefined,
    );

    emulator().recorder.reset();
    const second = await subscribe(u, "namespace back");
    await r.runUntilIdle();
    expect(await status(second.id)).toBe("RUNNING");
    // Every object of the baseline, as listed by the first provisioning's TENANT_READY event.
    const ready = await prisma().instanceEvent.findFirstOrThrow({ where: { instanceId: first.id, type: "TENANT_READY" } });
    const baseline = (ready.data as { objects: string[] }).objects;
    expect(baseline).toHaveLength(10);
    expect(baselineApplies(first.namespace)).toBe(baseline.length);
    expect(emulator().getObject("v1", "ResourceQuota", first.namespace, "tenant-quota")).toBeDefined();
  });

  it("a new instance while the user's namespace is still being deleted waits until it is gone, then provisions afresh (not FAILED)", async () => {
    const u = await fundedUser();
    const first = await subscribe(u, "namespace going");
    const r = reconciler();
    await r.runUntilIdle();
    // As when the user's last instance was removed: the namespace deleted, its baseline forgotten.
    expect(await ctx.container.kube.client.deleteNamespace(first.namespace)).toBe(true);
    await forgetTenant(prisma(), u.id);
    const cluster = new KubeInstanceCluster(ctx.container.kube.client);
    expect(await cluster.namespaceState(first.namespace)).toBe("terminating");

    emulator().recorder.reset();
    const second = await subscribe(u, "namespace coming");
    await r.runUntilIdle();
    expect(await status(second.id)).toBe("RUNNING");
    const events = await prisma().instanceEvent.findMany({ where: { instanceId: second.id }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => e.type)).not.toContain("FAILED");
    // Nothing was applied into the dying namespace: the first apply of the Namespace came after it was gone.
    const nsCalls = emulator()
      .recorder.calls()
      .filter((c) => c.resource === "namespaces")
      .map((c) => c.verb);
    expect(nsCalls.indexOf("apply")).toBeGreaterThan(nsCalls.indexOf("get"));
    expect(await cluster.namespaceState(second.namespace)).toBe("active");
    expect(emulator().getObject("v1", "ConfigMap", second.namespace, `${second.resourceName}-config`)).toBeDefined();
  });

  it("a tenant sync pass renders again only the baselines whose limits changed since the last pass", async () => {
    const u = await fundedUser();
    await subscribe(u, "rendered once");
    const r = reconciler();
    await r.runUntilIdle();
    await r.syncTenants(); // this reconciler's first pass renders every user's baseline
    const render = vi.spyOn(InstanceManifests.prototype, "tenant");
    try {
      expect(await r.syncTenants()).toEqual([]);
      expect(render).not.toHaveBeenCalled();
      await prisma().quota.upsert({
        where: { userId: u.id },
        create: { userId: u.id, maxInstances: 4, cpuMilli: 1600, memoryMb: 3000, storageGb: 30 },
        update: { maxInstances: 4, cpuMilli: 1600, memoryMb: 3000, storageGb: 30 },
      });
      expect(await r.syncTenants()).toEqual([u.id]);
      // Rendered to compare, then to apply: that user only.
      expect(new Set(render.mock.calls.map((c) => c[0]))).toEqual(new Set([u.id]));
      expect(await r.syncTenants()).toEqual([]);
    } finally {
      render.mockRestore();
    }
  });

  it("an admin's quota change reaches the namespace's ResourceQuota without any instance changing", async () => {
    const u = await fundedUser();
    const inst = await subscribe(u, "quota watcher");
    const r = reconciler();
    await r.runUntilIdle();
    expect(await r.syncTenants()).not.toContain(u.id); // provisioning applied the current baseline
    const generation = (await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } })).generation;

    const admin = await ctx.container.services.auth.login({ email: "admin@test.minispod", password: "admin-password-123" }, undefined);
    const put = await ctx.api
      .put(`/api/admin/users/${u.id}/quota`)
      .set("Authorization", `Bearer ${admin.accessToken}`)
      .send({ maxInstances: 3, cpuMilli: 1500, memoryMb: 3072, storageGb: 20 });
    expect(put.status).toBe(200);

    expect(await r.syncTenants()).toEqual([u.id]);
    const rq = emulator().getObject("v1", "ResourceQuota", inst.namespace, "tenant-quota") as unknown as {
      spec: { hard: Record<string, string> };
    };
    // The user's limits plus one ACME solver's headroom (100m, 64Mi); three pods per instance.
    expect(rq.spec.hard).toMatchObject({ "requests.cpu": "1600m", "limits.memory": "3136Mi", "requests.storage": "20Gi", pods: "9" });
    expect(await r.syncTenants()).toEqual([]);
    const after = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    expect(after).toMatchObject({ status: "RUNNING", generation });
  });
});

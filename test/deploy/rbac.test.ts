/**
 * Least privilege, checked both ways:
 *  1. k8s/rbac.yaml's ClusterRole grants exactly REQUIRED_RBAC (src/kube/rbac.ts): no wildcards,
 *     nothing more, nothing less;
 *  2. REQUIRED_RBAC is exactly what the code uses: real product flows (provision, logs, credentials,
 *     restart adopting a live Secret, plan change, a backup and its deletion, terminate — for a Deployment- and a
 *     StatefulSet-backed service —, the recovery of a broken PostgreSQL update, and the health sweep) run against the
 *     emulator, whose recorder turns every request into
 *     (apiGroup, resource, verb). Server-side apply needs `patch`, and `create` for a missing object.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseAllDocuments } from "yaml";
import { REQUIRED_RBAC, rbacKeys } from "../../src/kube/rbac.js";
import { buildUser, createTestContext, type TestContext } from "../helpers/app.js";

/** What the health sweep's informers watch (HEALTH_CACHE=all). */
const WATCHED = [
  "/configmaps:watch",
  "/limitranges:watch",
  "/persistentvolumeclaims:watch",
  "/pods:watch",
  "/resourcequotas:watch",
  "/secrets:watch",
  "/serviceaccounts:watch",
  "/services:watch",
  "apps/deployments:watch",
  "apps/statefulsets:watch",
  "networking.k8s.io/ingresses:watch",
  "networking.k8s.io/networkpolicies:watch",
];

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };

function clusterRole(): { rules: Rule[] } {
  const docs = parseAllDocuments(readFileSync(path.resolve(import.meta.dirname, "../../k8s/rbac.yaml"), "utf8")).map((d) => d.toJSON());
  return docs.find((d) => d.kind === "ClusterRole");
}

function grantedKeys(rules: Rule[]): string[] {
  return [
    ...new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))))),
  ].sort();
}

describe("k8s/rbac.yaml ClusterRole", () => {
  it("grants exactly REQUIRED_RBAC, with no wildcards, resource names or non-resource URLs", () => {
    const { rules } = clusterRole();
    for (const r of rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs].filter((x) => x.includes("*"))).toEqual([]);
      expect(r.resourceNames).toBeUndefined();
      expect(r.nonResourceURLs).toBeUndefined();
    }
    expect(grantedKeys(rules)).toEqual(rbacKeys(REQUIRED_RBAC));
  });

  it("never grants the dangerous verbs (escalate, bind, impersonate) or cluster-admin-ish kinds", () => {
    const keys = grantedKeys(clusterRole().rules);
    expect(keys.filter((k) => /:(escalate|bind|impersonate|deletecollection|update)$/.test(k))).toEqual([]);
    // watch only where the health sweep's informers need it (the kinds they keep).
    expect(keys.filter((k) => k.endsWith(":watch"))).toEqual(WATCHED);
    expect(keys.filter((k) => /rbac|clusterroles|nodes|persistentvolumes:|customresourcedefinitions/.test(k))).toEqual([]);
  });
});

describe("REQUIRED_RBAC is what the code uses", () => {
  let ctx: TestContext;
  let used: string[];

  beforeAll(async () => {
    // Exposed PostgreSQL gets its own NetworkPolicy (created and deleted with the instance).
    ctx = await createTestContext({
      env: { ROLLOUT_TIMEOUT: "20s", STUCK_POD_GRACE: "1ms", POSTGRES_SERVICE_TYPE: "NodePort", K8S_EMULATOR_SNAPSHOT_READY_DELAY: "0" },
    });
    const emulator = ctx.container.kube.emulator;
    if (!emulator) throw new Error("needs the emulator");
    emulator.recorder.reset();
    // The health sweep's informers (started with the health loop): LIST then WATCH of their kinds.
    const cache = (ctx.container.loops as { health?: { cache?: { start(): void; stop(): Promise<void>; untilSynced?(): Promise<void> } } })
      .health?.cache;
    cache?.start();
    await cache?.untilSynced?.();
    const settle = () => ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 20_000 });
    const u = await buildUser(ctx);
    await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 50_000, reason: "test" });
    const plans = await ctx.container.db.prisma.plan.findMany({ include: { service: true }, orderBy: { monthlyPriceCredits: "asc" } });
    const plan = (svc: string, i = 0) => plans.filter((p) => p.service.slug === svc)[i]!;

    for (const svc of ["n8n", "postgresql"]) {
      const sub = await ctx.api
        .post("/api/subscriptions")
        .set(u.auth)
        .send({ planId: plan(svc).id, instanceName: `rbac-${svc}` });
      expect(sub.status).toBe(201);
      const id = sub.body.instance.id as string;
      await settle();
      await ctx.api.get(`/api/instances/${id}/logs`).set(u.auth).expect(200);
      await ctx.api.get(`/api/instances/${id}/credentials`).set(u.auth).expect(200);
      // As for an instance provisioned before credentials were stored: its restart adopts the live Secret (a `get`).
      await ctx.container.db.prisma.instanceCredentials.delete({ where: { instanceId: id } });
      await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth).expect(202);
      await settle();
      await ctx.api
        .put(`/api/instances/${id}/update`)
        .set(u.auth)
        .send({ planId: plan(svc, 1).id })
        .expect(202);
      await settle();
      if (svc === "postgresql") {
        // A broken update (an image that cannot be pulled) fails the instance; once reverted, the
        // reconciler deletes the StatefulSet pod stuck at the broken revision (pods delete).
        const { prisma } = ctx.container.db;
        const { version } = await prisma.instance.findUniqueOrThrow({ where: { id } });
        await prisma.instance.update({ where: { id }, data: { version: "bad" } });
        await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth).expect(202);
        await settle();
        expect((await prisma.instance.findUniqueOrThrow({ where: { id } })).status).toBe("FAILED");
        await prisma.instance.update({ where: { id }, data: { version } });
        await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth).expect(202);
        await settle();
        expect((await prisma.instance.findUniqueOrThrow({ where: { id } })).status).toBe("RUNNING");
      }
      // The health sweep (fleet-wide LISTs), when this build has it.
      const health = (ctx.container.loops as { health?: { runNow(ids?: string[]): Promise<unknown> } }).health;
      await health?.runNow();
      // A backup (VolumeSnapshot applied, watched until ready) and its deletion.
      const backup = await ctx.api.post(`/api/instances/${id}/backups`).set(u.auth).expect(202);
      await ctx.container.loops.backups.runUntilIdle({ between: settle });
      await ctx.api.delete(`/api/instances/${id}/backups/${backup.body.backup.id}`).set(u.auth).expect(202);
      await ctx.container.loops.backups.runUntilIdle({ between: settle });
      await ctx.api.delete(`/api/instances/${id}`).set(u.auth).expect(202);
      await settle();
    }

    // A watch is recorded when it ends: stop the informers and let the server see their streams go.
    await cache?.stop();
    await vi.waitFor(() => expect(emulator.openWatches).toBe(0));
    expect(emulator.recorder.unknownRoutes()).toEqual([]);
    const keys = new Set<string>();
    for (const call of emulator.recorder.calls()) {
      if (!call.resource) continue; // discovery and /version: non-resource URLs every client may read
      const [resource, ...group] = call.resource.split(".");
      const res = call.subresource ? `${resource}/${call.subresource}` : resource;
      // Apply creates a missing object (on a real cluster even the tenant's default ServiceAccount
      // may not exist yet when it is applied); the log subresource is read with `get`.
      const verbs = call.verb === "apply" ? ["create", "patch"] : call.verb === "log" ? ["get"] : [call.verb];
      for (const v of verbs) keys.add(`${group.join(".")}/${res}:${v}`);
    }
    used = [...keys].sort();
  }, 120_000);
  afterAll(async () => {
    await ctx?.close();
  });

  it("every call the code makes is granted", () => {
    const granted = new Set(rbacKeys(REQUIRED_RBAC));
    expect(used.filter((k) => !granted.has(k))).toEqual([]);
  });

  it("every grant is used by the code (nothing more)", () => {
    const hasHealth = Boolean((ctx.container.loops as { health?: unknown }).health);
    const sweepOnly = new Set([
      ...WATCHED,
      "/services:list",
      "apps/deployments:list",
      "apps/statefulsets:list",
      "metrics.k8s.io/pods:list",
      "/configmaps:list",
      "/secrets:list",
      "/persistentvolumeclaims:list",
      "networking.k8s.io/ingresses:list",
      "networking.k8s.io/networkpolicies:list",
      "/resourcequotas:list",
      "/limitranges:list",
      "/serviceaccounts:list",
    ]);
    const unused = rbacKeys(REQUIRED_RBAC).filter((k) => !used.includes(k) && (hasHealth || !sweepOnly.has(k)));
    expect(unused).toEqual([]);
  });
});

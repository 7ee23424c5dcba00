/**
 * A synthetic fleet for the health benchmark and the "constant calls" test: N RUNNING instance rows
 * inserted with a few bulk SQL statements, and in the emulator their ready Deployments and pods
 * (KubeEmulator.seedFleet, straight into its store) plus, server-side applied as the reconciler
 * would, every other object an instance owns (ConfigMap, Secret, PVC, Service, Ingress) and each
 * namespace's tenant baseline (ServiceAccount, ResourceQuota, LimitRange, NetworkPolicies) — with
 * the applied-fields hashes recorded on the rows, so the sweep checks every kind for drift.
 * Ten instances per namespace unless `perNamespace` says otherwise.
 */
import { randomUUID } from "node:crypto";
import type { KubeEmulator } from "@minispod/kube-emulator";
import { appliedStamp, type MetadataLike, objectKey } from "../../src/kube/ownership.js";
import { LABELS, MANAGED_BY } from "../../src/kube/templates/labels.js";
import { loadConfig } from "../../src/config/index.js";
import { hashManifests } from "../../src/loops/reconciler/tenant-sync.js";
import { InstanceManifests } from "../../src/modules/instances/instance-manifests.js";
import { QuotaService } from "../../src/modules/quotas/quotas.service.js";
import type { PrismaClient } from "../../src/platform/db/index.js";

export interface SeededFleet {
  instanceIds: string[];
  namespaces: string[];
}

export async function seedHealthFleet(
  prisma: PrismaClient,
  emulator: KubeEmulator,
  count: number,
  opts: { prefix: string; perNamespace?: number },
): Promise<SeededFleet> {
  const per = opts.perNamespace ?? 10;
  const nsCount = Math.ceil(count / per);
  const plan = await prisma.plan.findFirstOrThrow({
    where: { service: { template: "ghost" } },
    include: { service: true },
    orderBy: { cpuMilli: "asc" },
  });
  const now = new Date();
  // One user per namespace, as the product gives every user their own namespace: a fleet owned by a
  // single user would also skew the planner's statistics (every user-filtered query would be
  // estimated at half the table) in a way no real fleet does.
  const userBase = `bench-user-${opts.prefix}${randomUUID().slice(0, 8)}-`;
  const userIds = Array.from({ length: nsCount }, (_, n) => `${userBase}${n}`);
  await prisma.$executeRawUnsafe(
    `INSERT INTO "users" ("id","email","password_hash","name","updated_at")
     SELECT u.id, u.id || '@bench.invalid', 'x', 'bench', $2 FROM unnest($1::text[]) AS u(id)`,
    userIds,
    now,
  );

  const id = (ns: number, i: number) => `${opts.prefix}${ns}-${i}`;
  const instanceIds: string[] = [];
  const namespaces: string[] = [];
  const k8sNames: string[] = [];
  const owners: string[] = [];
  for (let n = 0; n < nsCount; n++) {
    for (let i = 0; i < per && instanceIds.length < count; i++) {
      instanceIds.push(id(n, i));
      owners.push(userIds[n] as string);
      namespaces.push(`${opts.prefix}${n}`);
      k8sNames.push(`app-${i}`);
    }
  }
  // One subscription per instance (a subscription has at most one live instance).
  await prisma.$executeRawUnsafe(
    `INSERT INTO "subscriptions" ("id","user_id","plan_id","current_period_start","current_period_end","updated_at")
     SELECT 'sub-' || v.id, v.owner, $1, $2, $3, $2 FROM unnest($4::text[], $5::text[]) AS v(id, owner)`,
    plan.id,
    now,
    new Date(now.getTime() + 30 * 86_400_000),
    instanceIds,
    owners,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO "instances" ("id","user_id","subscription_id","service_id","plan_id","name","k8s_name","namespace","subdomain",
                              "status","desired_state","generation","observed_generation","applied_generation","provisioned_at","updated_at")
     SELECT v.id, v.owner, 'sub-' || v.id, $1, $2, v.id, v.k8s, v.ns, v.id || '.bench.invalid', 'RUNNING', 'RUNNING', 1, 1, 1, $3, $3
       FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS v(id, k8s, ns, owner)`,
    plan.serviceId,
    plan.id,
    now,
    instanceIds,
    k8sNames,
    namespaces,
    owners,
  );

  const labels = (ns: string, i: number) => ({
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.instanceId]: `${ns}-${i}`,
    [LABELS.instance]: `app-${i}`,
  });
  // seedFleet names namespaces <prefix><n> and deployments app-<i>; our ids are <prefix><n>-<i>.
  const seeded = emulator.seedFleet({ namespaces: nsCount, deploymentsPerNamespace: per, namespacePrefix: opts.prefix, labels });
  type Applied = Parameters<KubeEmulator["apply"]>[0];
  const apply = (obj: Applied, into: Record<string, string>) => {
    const live = emulator.apply(obj);
    into[objectKey(obj.kind, obj.metadata.name)] = appliedStamp(live.metadata as MetadataLike, "minispod");
  };
  // (apply's type lists only name/namespace; any metadata is accepted)
  const meta = (name: string, namespace: string, l: Record<string, string>) =>
    ({ name, namespace, labels: l }) as { name: string; namespace: string };
  const appliedFields: string[] = [];
  for (let k = 0; k < instanceIds.length; k++) {
    const ns = namespaces[k] as string;
    const name = k8sNames[k] as string;
    const i = Number(name.slice(4));
    const l = labels(ns, i);
    // The Deployment was written straight into the store (no managed fields): no fields to hold.
    const fields: Record<string, string> = { [objectKey("Deployment", name)]: " " };
    apply(
      { apiVersion: "v1", kind: "ConfigMap", metadata: meta(`${name}-config`, ns, l), data: { url: `https://${name}.bench.invalid` } },
      fields,
    );
    apply({ apiVersion: "v1", kind: "Secret", metadata: meta(`${name}-secret`, ns, l), type: "Opaque", data: {} }, fields);
    apply(
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: meta(`${name}-pvc`, ns, l),
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${plan.storageGb || 1}Gi` } } },
      },
      fields,
    );
    apply(
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(`${name}-svc`, ns, l),
        spec: { selector: { [LABELS.instanceId]: `${ns}-${i}` }, ports: [{ name: "http", port: 80, targetPort: 2368 }] },
      },
      fields,
    );
    apply(
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: meta(`${name}-ingress`, ns, l),
        spec: {
          rules: [
            {
              host: `${name}.${ns}.bench.invalid`,
              http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: `${name}-svc`, port: { name: "http" } } } }] },
            },
          ],
        },
      },
      fields,
    );
    appliedFields.push(JSON.stringify(fields));
  }
  await prisma.$executeRawUnsafe(
    `UPDATE "instances" i SET "applied_fields" = v.f::jsonb FROM unnest($1::text[], $2::text[]) AS v(id, f) WHERE i."id" = v.id`,
    instanceIds,
    appliedFields,
  );

  // Each namespace's tenant baseline, recorded on the namespace's user.
  const tenants: string[] = [];
  for (const [n, ns] of seeded.namespaces.entries()) {
    const tl = { [LABELS.managedBy]: MANAGED_BY, [LABELS.userId]: userIds[n] as string, [LABELS.component]: "tenant" };
    const fields: Record<string, string> = {};
    apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: meta("default", ns, tl), automountServiceAccountToken: false }, fields);
    apply(
      { apiVersion: "v1", kind: "ResourceQuota", metadata: meta("tenant-quota", ns, tl), spec: { hard: { pods: String(per * 3) } } },
      fields,
    );
    apply(
      {
        apiVersion: "v1",
        kind: "LimitRange",
        metadata: meta("tenant-limits", ns, tl),
        spec: {
          limits: [{ type: "Container", default: { cpu: "500m", memory: "512Mi" }, defaultRequest: { cpu: "50m", memory: "64Mi" } }],
        },
      },
      fields,
    );
    for (const policy of [
      "default-deny",
      "allow-same-namespace",
      "allow-ingress-controller",
      "allow-dns",
      "allow-internet-egress",
      "allow-acme-http01-solver",
    ]) {
      apply(
        {
          apiVersion: "networking.k8s.io/v1",
          kind: "NetworkPolicy",
          metadata: meta(policy, ns, tl),
          spec: { podSelector: {}, policyTypes: ["Ingress"] },
        },
        fields,
      );
    }
    tenants.push(JSON.stringify(fields));
  }
  // The users' baselines as the API's tenant sync renders them (on the default configuration, which the
  // benchmarks' API runs with) recorded as applied: otherwise that sync would apply 1,000 baselines
  // (10,000 objects) while the benchmark measures, which a converged fleet never does.
  // The environment the benchmarks give their API (theirs, in development mode).
  const config = loadConfig({ ...process.env, NODE_ENV: "development" });
  const manifests = InstanceManifests.fromConfig(config.kube);
  const defaults = new QuotaService({ prisma, defaults: config.quotaDefaults }).limitsOf(null);
  const renderedHash = (userId: string) => hashManifests(manifests.tenant(userId, defaults));
  const owning = userIds.slice(0, tenants.length);
  await prisma.$executeRawUnsafe(
    `UPDATE "users" u SET "tenant_applied_fields" = v.fields::jsonb, "tenant_applied_hash" = v.hash
       FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, fields, hash) WHERE u."id" = v.id`,
    owning,
    tenants,
    owning.map(renderedHash),
  );
  return { instanceIds, namespaces: seeded.namespaces };
}

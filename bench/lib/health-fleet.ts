/**
 * A synthetic fleet for the health benchmark and the "constant calls" test: N RUNNING instance rows
 * inserted with a few bulk SQL statements, and in the emulator their ready Deployments and pods
 * (KubeEmulator.seedFleet, straight into its store) plus a Service each — what the sweep expects.
 * Ten instances per namespace.
 */
import { randomUUID } from "node:crypto";
import type { KubeEmulator } from "@minispod/kube-emulator";
import { LABELS, MANAGED_BY } from "../../src/kube/templates/labels.js";
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
  const userId = `bench-user-${opts.prefix}${randomUUID().slice(0, 8)}`;
  await prisma.$executeRaw`INSERT INTO "users" ("id","email","password_hash","name","updated_at")
    VALUES (${userId}, ${`${userId}@bench.invalid`}, 'x', 'bench', ${now})`;

  const id = (ns: number, i: number) => `${opts.prefix}${ns}-${i}`;
  const instanceIds: string[] = [];
  const namespaces: string[] = [];
  const k8sNames: string[] = [];
  for (let n = 0; n < nsCount; n++) {
    for (let i = 0; i < per && instanceIds.length < count; i++) {
      instanceIds.push(id(n, i));
      namespaces.push(`${opts.prefix}${n}`);
      k8sNames.push(`app-${i}`);
    }
  }
  // One subscription per instance (a subscription has at most one live instance).
  await prisma.$executeRawUnsafe(
    `INSERT INTO "subscriptions" ("id","user_id","plan_id","current_period_start","current_period_end","updated_at")
     SELECT 'sub-' || v.id, $1, $2, $3, $4, $3 FROM unnest($5::text[]) AS v(id)`,
    userId,
    plan.id,
    now,
    new Date(now.getTime() + 30 * 86_400_000),
    instanceIds,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO "instances" ("id","user_id","subscription_id","service_id","plan_id","name","k8s_name","namespace","subdomain",
                              "status","desired_state","generation","observed_generation","applied_generation","provisioned_at","updated_at")
     SELECT v.id, $1, 'sub-' || v.id, $2, $3, v.id, v.k8s, v.ns, v.id || '.bench.invalid', 'RUNNING', 'RUNNING', 1, 1, 1, $4, $4
       FROM unnest($5::text[], $6::text[], $7::text[]) AS v(id, k8s, ns)`,
    userId,
    plan.serviceId,
    plan.id,
    now,
    instanceIds,
    k8sNames,
    namespaces,
  );

  const labels = (ns: string, i: number) => ({
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.instanceId]: `${ns}-${i}`,
    [LABELS.instance]: `app-${i}`,
  });
  // seedFleet names namespaces <prefix><n> and deployments app-<i>; our ids are <prefix><n>-<i>.
  const seeded = emulator.seedFleet({ namespaces: nsCount, deploymentsPerNamespace: per, namespacePrefix: opts.prefix, labels });
  for (let k = 0; k < instanceIds.length; k++) {
    const ns = namespaces[k] as string;
    const name = k8sNames[k] as string;
    const i = Number(name.slice(4));
    emulator.apply({
      // (apply's type lists only name/namespace; any metadata is accepted)
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `${name}-svc`, namespace: ns, labels: labels(ns, i) } as { name: string; namespace: string },
      spec: { selector: { [LABELS.instanceId]: `${ns}-${i}` }, ports: [{ name: "http", port: 80, targetPort: 2368 }] },
    });
  }
  return { instanceIds, namespaces: seeded.namespaces };
}

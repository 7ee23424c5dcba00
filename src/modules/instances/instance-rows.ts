/**
 * The one way an instance row is born: a PENDING row for a subscription, with a collision-free
 * Kubernetes name, a unique subdomain, and its CREATED event. Used by subscriptions (first instance)
 * and by POST /api/instances (a new instance for a paid-up subscription).
 */
import { randomInt } from "node:crypto";
import type { Plan, Service } from "../../generated/prisma/client.js";
import { Prisma, type Tx } from "../../platform/db/index.js";
import { names, tenantNamespace } from "../../kube/templates/names.js";
import { allocateK8sName } from "./instance-names.js";
import { recordEvent } from "./instance-state.js";
import type { InstanceWithRefs } from "./instances.view.js";

/**
 * Every column of an instance row under its Prisma field name (`"k8s_name" AS "k8sName"`, ...), for raw
 * statements that hand back whole rows (the reconciler's claim): each field's column is its name in
 * snake_case. test/modules/provisioning-statements.test.ts checks the result equals Prisma's row.
 */
export const INSTANCE_ROW_COLUMNS = Prisma.raw(
  Object.values(Prisma.InstanceScalarFieldEnum)
    .map((f) => `"${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}" AS "${f}"`)
    .join(", "),
);

/** Templates served over HTTP(S) get an Ingress and so a URL; PostgreSQL does not. */
const HTTP_TEMPLATES = new Set(["n8n", "ghost"]);
const SHORT_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function shortId(length = 6): string {
  let s = "";
  for (let i = 0; i < length; i++) s += SHORT_ID_ALPHABET[randomInt(SHORT_ID_ALPHABET.length)];
  return s;
}

/**
 * Runs inside the caller's transaction, after `lockUser` (which serialises name allocation within the
 * user's namespace; the partial unique index is the final guard and callers retry on P2002).
 */
export async function createInstanceRow(
  tx: Tx,
  input: {
    userId: string;
    subscriptionId: string;
    plan: Plan & { service: Service };
    name: string;
    baseDomain: string;
    eventMessage: string;
    /** A VolumeSnapshot in the user's namespace that the instance's first volume is made from (a retained backup's). */
    volumeFromSnapshot?: string;
    /** The service's default version when the caller has it (the catalog cache); read here otherwise. */
    defaultVersion?: { version: string; image: string } | null;
  },
): Promise<InstanceWithRefs> {
  const namespace = tenantNamespace(input.userId);
  const k8sName = await allocateK8sName(tx, namespace, input.name);
  const subdomain = `${k8sName}-${shortId()}.${input.baseDomain}`;
  // It runs the service's default version (the service's own image and version when it has none).
  const version =
    input.defaultVersion !== undefined
      ? input.defaultVersion
      : await tx.serviceVersion.findFirst({ where: { serviceId: input.plan.serviceId, isDefault: true } });
  const instance = await tx.instance.create({
    data: {
      userId: input.userId,
      subscriptionId: input.subscriptionId,
      serviceId: input.plan.serviceId,
      planId: input.plan.id,
      name: input.name,
      k8sName,
      namespace,
      subdomain,
      url: HTTP_TEMPLATES.has(input.plan.service.template) ? `https://${subdomain}` : null,
      status: "PENDING",
      desiredState: "RUNNING",
      version: version?.version ?? input.plan.service.version,
      image: version?.image ?? input.plan.service.image,
      // The claim keeps its usual name; its immutable spec.dataSource names the snapshot (rendered on every apply).
      ...(input.volumeFromSnapshot ? { volumeClaim: names(k8sName).pvc, volumeSnapshot: input.volumeFromSnapshot } : {}),
    },
  });
  await recordEvent(tx, instance.id, {
    type: "CREATED",
    message: input.eventMessage,
    data: { subscriptionId: input.subscriptionId, planId: input.plan.id, k8sName, namespace },
  });
  // The plan and service it was created with are the ones the caller holds (no read back).
  const { service, ...plan } = input.plan;
  return { ...instance, plan, service };
}

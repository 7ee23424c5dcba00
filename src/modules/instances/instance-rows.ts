/**
 * The one way an instance row is born: a PENDING row for a subscription, with a collision-free
 * Kubernetes name, a unique subdomain, and its CREATED event. Used by subscriptions (first instance)
 * and by POST /api/instances (a new instance for a paid-up subscription).
 */
import { randomInt, randomUUID } from "node:crypto";
import type { Instance, Plan, Service } from "../../generated/prisma/client.js";
import { Prisma, rowColumns, type SqlTarget, sqlRows } from "../../platform/db/index.js";
import { names, tenantNamespace } from "../../kube/templates/names.js";
import { allocateK8sName } from "./instance-names.js";
import { insertEventSql } from "./instance-state.js";
import type { InstanceWithRefs } from "./instances.view.js";

/** Every column of an instance row under its Prisma field name (`rowColumns`), e.g. the reconciler's claim. */
export const INSTANCE_ROW_COLUMNS = rowColumns(Prisma.InstanceScalarFieldEnum);

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
 * user's namespace; the partial unique index is the final guard and callers retry on a unique violation).
 */
export async function createInstanceRow(
  tx: SqlTarget,
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
    /**
     * Other writes of the same change (the subscription's INSERT, the audit entry), given the new
     * instance's id: data-modifying statements run as CTEs of the instance's own statement, one round
     * trip for all. Their results are not read; foreign keys between them are checked at its end.
     */
    alongside?: (instanceId: string) => Prisma.Sql[];
  },
): Promise<InstanceWithRefs> {
  const namespace = tenantNamespace(input.userId);
  const k8sName = await allocateK8sName(tx, namespace, input.name);
  const subdomain = `${k8sName}-${shortId()}.${input.baseDomain}`;
  // It runs the service's default version (the service's own image and version when it has none).
  const version =
    input.defaultVersion !== undefined
      ? input.defaultVersion
      : ((
          await sqlRows<{ version: string; image: string }>(
            tx,
            Prisma.sql`SELECT "version", "image" FROM "service_versions" WHERE "service_id" = ${input.plan.serviceId} AND "is_default" LIMIT 1`,
          )
        )[0] ?? null);
  const id = randomUUID();
  const now = new Date();
  // The claim keeps its usual name; its immutable spec.dataSource names the snapshot (rendered on every apply).
  const volumeClaim = input.volumeFromSnapshot ? names(k8sName).pvc : null;
  const alongside = input.alongside?.(id) ?? [];
  const created = insertEventSql(
    id,
    {
      type: "CREATED",
      message: input.eventMessage,
      data: { subscriptionId: input.subscriptionId, planId: input.plan.id, k8sName, namespace },
    },
    now,
  );
  // The row and its CREATED event in one statement (the event's foreign key is checked at its end).
  const [instance] = await sqlRows<Instance>(
    tx,
    Prisma.sql`
    WITH i AS (
      INSERT INTO "instances" ("id", "user_id", "subscription_id", "service_id", "plan_id", "name", "k8s_name", "namespace",
        "subdomain", "url", "status", "desired_state", "version", "image", "volume_claim", "volume_snapshot", "next_attempt_at",
        "created_at", "updated_at")
      VALUES (${id}, ${input.userId}, ${input.subscriptionId}, ${input.plan.serviceId}, ${input.plan.id}, ${input.name}, ${k8sName},
        ${namespace}, ${subdomain}, ${HTTP_TEMPLATES.has(input.plan.service.template) ? `https://${subdomain}` : null},
        'PENDING', 'RUNNING', ${version?.version ?? input.plan.service.version}, ${version?.image ?? input.plan.service.image},
        ${volumeClaim}, ${input.volumeFromSnapshot ?? null}, ${now}, ${now}, ${now})
      RETURNING ${INSTANCE_ROW_COLUMNS}
    ), e AS (${created})${alongside.length ? Prisma.sql`, ${Prisma.join(alongside.map((w, n) => Prisma.sql`${Prisma.raw(`w${n}`)} AS (${w})`))}` : Prisma.empty}
    SELECT * FROM i`,
  );
  if (!instance) throw new Error("the instance's INSERT returned no row");
  // The plan and service it was created with are the ones the caller holds (no read back).
  const { service, ...plan } = input.plan;
  return { ...instance, plan, service };
}

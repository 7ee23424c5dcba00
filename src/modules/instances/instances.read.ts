/**
 * The instance read path (GET /api/instances, GET /api/instances/:id): one SQL statement per request,
 * with the response's JSON built by PostgreSQL. The object is exactly `toInstanceView`'s — same keys
 * in the same order, ISO-8601 UTC times with milliseconds — which test/modules/instances-read.test.ts
 * checks against `toInstanceView` row by row. Change both together.
 *
 * Why: through Prisma's `findMany({ include })` plus a `count`, a list cost two statements and most of
 * the request's CPU went into building and then re-shaping row objects; here the database hands back
 * one JSON value (and the total) and Node only parses it. The statement goes straight to the driver
 * (`SqlRead`, normally `Database.read`): through Prisma's `$queryRaw` its query engine still cost more
 * CPU per request than the rest of the request's handling.
 */
import { Prisma } from "../../platform/db/index.js";
import type { SqlRead } from "../../platform/db/index.js";
import { overdueInstanceIdsSql } from "../backups/backup-schedule.sql.js";
import type { InstanceView } from "./instances.view.js";

/** A timestamptz as `Date.prototype.toISOString()` writes it (the columns are timestamptz(3)). */
const iso = (column: Prisma.Sql) => Prisma.sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The InstanceView of `i` (instances) joined to `s` (services) and `p` (plans). */
const INSTANCE_JSON = Prisma.sql`json_build_object(
  'id', i."id",
  'name', i."name",
  'resourceName', i."k8s_name",
  'status', i."status",
  'statusMessage', i."status_message",
  'desiredState', i."desired_state",
  'url', i."url",
  'subdomain', i."subdomain",
  'namespace', i."namespace",
  'service', json_build_object('id', s."id", 'slug', s."slug", 'name', s."name"),
  'plan', json_build_object('id', p."id", 'slug', p."slug", 'name', p."name", 'cpuMilli', p."cpu_milli", 'memoryMb', p."memory_mb",
                            'storageGb', p."storage_gb", 'monthlyPriceCredits', p."monthly_price_credits"),
  'resources', json_build_object('cpuMilli', p."cpu_milli", 'memoryMb', p."memory_mb", 'storageGb', p."storage_gb"),
  'health', json_build_object('status', i."health_status", 'reason', i."health_reason", 'checkedAt', ${iso(Prisma.sql`i."health_checked_at"`)}),
  'subscriptionId', i."subscription_id",
  'provisionedAt', ${iso(Prisma.sql`i."provisioned_at"`)},
  'terminatedAt', ${iso(Prisma.sql`i."terminated_at"`)},
  'createdAt', ${iso(Prisma.sql`i."created_at"`)},
  'updatedAt', ${iso(Prisma.sql`i."updated_at"`)})`;

const JOINS = Prisma.sql`JOIN "services" s ON s."id" = i."service_id" JOIN "plans" p ON p."id" = i."plan_id"`;

export interface InstanceReadFilter {
  /** Only this user's instances (undefined: every user's, for admins). */
  userId?: string;
  status?: string;
  /** Leave these statuses out (e.g. TERMINATED unless asked for). */
  statusNotIn?: string[];
  /** Service slug. */
  service?: string;
  /** Only instances without a good backup in 48 h (the overdue rule) as of this time. */
  backupOverdueAt?: Date;
}

/** WHERE conditions over `i` (instances) and `s` (services); add a filter here and nowhere else. */
function conditions(f: InstanceReadFilter): Prisma.Sql {
  const c: Prisma.Sql[] = [];
  if (f.userId !== undefined) c.push(Prisma.sql`i."user_id" = ${f.userId}`);
  if (f.status !== undefined) c.push(Prisma.sql`i."status" = ${f.status}::"InstanceStatus"`);
  if (f.statusNotIn?.length) c.push(Prisma.sql`i."status"::text <> ALL (${f.statusNotIn}::text[])`);
  if (f.service !== undefined) c.push(Prisma.sql`s."slug" = ${f.service}`);
  if (f.backupOverdueAt !== undefined) c.push(overdueInstanceIdsSql(f.backupOverdueAt));
  return c.length ? Prisma.join(c, " AND ") : Prisma.sql`TRUE`;
}

/**
 * One page of instances, newest first (ties by id), and the number of matching instances, in one
 * statement: the matching ids once, counted and paged; JSON is built for the page's rows only.
 */
export async function readInstancePage(
  read: SqlRead,
  f: InstanceReadFilter,
  page: { skip: number; take: number },
): Promise<{ rows: InstanceView[]; total: number }> {
  const serviceJoin = f.service === undefined ? Prisma.empty : Prisma.sql`JOIN "services" s ON s."id" = i."service_id"`;
  const [r] = await read<{ total: number; data: InstanceView[] }>(Prisma.sql`
    WITH f AS (
      SELECT i."id", i."created_at" FROM "instances" i ${serviceJoin} WHERE ${conditions(f)}
    ), pg AS (
      SELECT f."id" FROM f ORDER BY f."created_at" DESC, f."id" DESC LIMIT ${page.take} OFFSET ${page.skip}
    )
    SELECT (SELECT count(*) FROM f)::int AS "total",
           coalesce((SELECT json_agg(${INSTANCE_JSON} ORDER BY i."created_at" DESC, i."id" DESC)
                       FROM pg JOIN "instances" i ON i."id" = pg."id" ${JOINS}), '[]'::json) AS "data"`);
  return { rows: r?.data ?? [], total: r?.total ?? 0 };
}

/** One instance's view, or undefined when it does not exist or (with userId) belongs to someone else. */
export async function readInstance(read: SqlRead, id: string, userId: string | undefined): Promise<InstanceView | undefined> {
  const owner = userId === undefined ? Prisma.empty : Prisma.sql`AND i."user_id" = ${userId}`;
  const [r] = await read<{ v: InstanceView }>(Prisma.sql`
    SELECT ${INSTANCE_JSON} AS "v" FROM "instances" i ${JOINS} WHERE i."id" = ${id} ${owner}`);
  return r?.v;
}

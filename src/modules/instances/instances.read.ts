/**
 * The instance read path (GET /api/instances, GET /api/instances/:id): one SQL statement per request,
 * sent straight to the driver (`SqlRead`, normally `Database.read`), and the rows mapped by the same
 * `toInstanceView` every other instance body goes through — test/modules/read-path.test.ts checks the
 * bodies byte for byte against `toInstanceView` over Prisma rows.
 *
 * Why this shape (measured, bench/RESULTS.md): through Prisma's `findMany({ include })` plus a `count`
 * a list cost two statements and most of its CPU went into Prisma's engine. Building the whole body in
 * PostgreSQL (json_build_object, to_char) cost the database more than the rest of the query. Plain
 * columns were cheap for the database, but the driver then parsed 27 fields per row one by one, the
 * largest part of the list's cost in Node (bench/row-decoding.ts), and the API's one thread is what limits
 * the reads. So each instance comes as one JSON array of plain values (`TUPLE`, times as epoch
 * milliseconds), the list's page as one `json_agg` of them, parsed once and mapped here. The statement is
 * prepared once per connection (`Database.read`).
 */
import { Prisma } from "../../platform/db/index.js";
import type { SqlRead } from "../../platform/db/index.js";
import { overdueInstanceIdsSql } from "../backups/backup-schedule.sql.js";
import { type InstanceView, type InstanceViewSource, toInstanceView } from "./instances.view.js";

/**
 * A timestamptz(3) as epoch milliseconds, NULL staying NULL. date_part returns a float8 (extract's
 * numeric costs more per value); its microsecond-level rounding error is far below half a
 * millisecond, so `Math.round` gives back the stored millisecond exactly.
 */
const ms = (column: string) => `date_part('epoch', ${column}) * 1000`;

/**
 * What the view reads of `i` (instances) joined to `s` (services) and `p` (plans), as one JSON array
 * per instance in the order of `InstanceTuple`.
 */
const TUPLE = Prisma.raw(`json_build_array(i."id", i."name", i."k8s_name", i."status", i."status_message", i."desired_state",
  i."url", i."subdomain", i."namespace", i."health_status", i."health_reason", ${ms('i."health_checked_at"')},
  i."subscription_id", ${ms('i."provisioned_at"')}, ${ms('i."terminated_at"')}, ${ms('i."created_at"')}, ${ms('i."updated_at"')},
  s."id", s."slug", s."name", p."id", p."slug", p."name", p."cpu_milli", p."memory_mb", p."storage_gb", p."monthly_price_credits")`);

const JOINS = Prisma.sql`JOIN "services" s ON s."id" = i."service_id" JOIN "plans" p ON p."id" = i."plan_id"`;

/** One instance as `TUPLE` sends it (times as epoch milliseconds). */
type InstanceTuple = [
  id: string,
  name: string,
  k8sName: string,
  status: InstanceViewSource["status"],
  statusMessage: string | null,
  desiredState: InstanceViewSource["desiredState"],
  url: string | null,
  subdomain: string,
  namespace: string,
  healthStatus: InstanceViewSource["healthStatus"],
  healthReason: string | null,
  healthCheckedAt: number | null,
  subscriptionId: string,
  provisionedAt: number | null,
  terminatedAt: number | null,
  createdAt: number,
  updatedAt: number,
  serviceId: string,
  serviceSlug: string,
  serviceName: string,
  planId: string,
  planSlug: string,
  planName: string,
  cpuMilli: number,
  memoryMb: number,
  storageGb: number,
  monthlyPriceCredits: number,
];

const date = (msSinceEpoch: number | null): Date | null => (msSinceEpoch === null ? null : new Date(Math.round(msSinceEpoch)));

function toView(t: InstanceTuple): InstanceView {
  return toInstanceView({
    id: t[0],
    name: t[1],
    k8sName: t[2],
    status: t[3],
    statusMessage: t[4],
    desiredState: t[5],
    url: t[6],
    subdomain: t[7],
    namespace: t[8],
    healthStatus: t[9],
    healthReason: t[10],
    healthCheckedAt: date(t[11]),
    subscriptionId: t[12],
    provisionedAt: date(t[13]),
    terminatedAt: date(t[14]),
    createdAt: new Date(Math.round(t[15])),
    updatedAt: new Date(Math.round(t[16])),
    service: { id: t[17], slug: t[18], name: t[19] },
    plan: { id: t[20], slug: t[21], name: t[22], cpuMilli: t[23], memoryMb: t[24], storageGb: t[25], monthlyPriceCredits: t[26] },
  });
}

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
 * statement: the matching ids once (`f`), counted, and the page's instances as one JSON array ('[]' for
 * a page beyond the last, which still brings the total).
 */
export async function readInstancePage(
  read: SqlRead,
  f: InstanceReadFilter,
  page: { skip: number; take: number },
): Promise<{ rows: InstanceView[]; total: number }> {
  const serviceJoin = f.service === undefined ? Prisma.empty : Prisma.sql`JOIN "services" s ON s."id" = i."service_id"`;
  // The page size is written into the statement's text, not sent as a parameter. The statement is
  // prepared (Database.read), and after five executions PostgreSQL may switch to a generic plan: with
  // LIMIT as a parameter that plan assumed a tenth of the table per page and hash-joined all of it
  // (5 ms instead of 0.1 ms); with the literal it keeps the index lookups. A few page sizes, a few texts.
  if (!Number.isSafeInteger(page.take) || page.take < 1) throw new Error(`page size must be a positive integer, got ${page.take}`);
  const [row] = await read<{ total: number; rows: string }>(Prisma.sql`
    WITH f AS (
      SELECT i."id", i."created_at" FROM "instances" i ${serviceJoin} WHERE ${conditions(f)}
    )
    SELECT (SELECT count(*)::int FROM f) AS "total",
      (SELECT coalesce(json_agg(${TUPLE} ORDER BY i."created_at" DESC, i."id" DESC), '[]')::text
         FROM (SELECT f."id" FROM f ORDER BY f."created_at" DESC, f."id" DESC LIMIT ${Prisma.raw(String(page.take))} OFFSET ${page.skip}) pg
         JOIN "instances" i ON i."id" = pg."id" ${JOINS}) AS "rows"`);
  return { rows: (JSON.parse(row?.rows ?? "[]") as InstanceTuple[]).map(toView), total: row?.total ?? 0 };
}

/** One instance's view, or undefined when it does not exist or (with userId) belongs to someone else. */
export async function readInstance(read: SqlRead, id: string, userId: string | undefined): Promise<InstanceView | undefined> {
  const owner = userId === undefined ? Prisma.empty : Prisma.sql`AND i."user_id" = ${userId}`;
  const [r] = await read<{ instance: string }>(
    Prisma.sql`SELECT ${TUPLE}::text AS "instance" FROM "instances" i ${JOINS} WHERE i."id" = ${id} ${owner}`,
  );
  return r ? toView(JSON.parse(r.instance) as InstanceTuple) : undefined;
}

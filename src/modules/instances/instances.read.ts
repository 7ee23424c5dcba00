/**
 * The instance read path (GET /api/instances, GET /api/instances/:id): one SQL statement per request,
 * sent straight to the driver (`SqlRead`, normally `Database.read`), and the rows mapped by the same
 * `toInstanceView` every other instance body goes through — test/modules/read-path.test.ts checks the
 * bodies byte for byte against `toInstanceView` over Prisma rows.
 *
 * Why this shape (measured, bench/RESULTS.md): through Prisma's `findMany({ include })` plus a `count`
 * a list cost two statements and most of its CPU went into Prisma's engine. Building the JSON in
 * PostgreSQL (json_build_object, to_char) took that away from Node but cost the database more than
 * the rest of the query: ~0.19 ms of a 20-row page's ~0.3 ms execution. So the database returns plain
 * columns, times as epoch milliseconds (a float8 the driver parses with parseFloat, where a
 * timestamptz goes through a regular-expression date parser), and Node maps them. The statement is
 * prepared once per connection (`Database.read`), which halved the list's database time again.
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
const ms = (column: string) => Prisma.raw(`date_part('epoch', ${column}) * 1000`);

/** The columns of `i` (instances) joined to `s` (services) and `p` (plans) that the view reads. */
const COLUMNS = Prisma.sql`i."id", i."name", i."k8s_name", i."status", i."status_message", i."desired_state", i."url",
  i."subdomain", i."namespace", i."health_status", i."health_reason", ${ms('i."health_checked_at"')} AS "health_checked_at",
  i."subscription_id", ${ms('i."provisioned_at"')} AS "provisioned_at", ${ms('i."terminated_at"')} AS "terminated_at",
  ${ms('i."created_at"')} AS "created_at", ${ms('i."updated_at"')} AS "updated_at",
  s."id" AS "s_id", s."slug" AS "s_slug", s."name" AS "s_name",
  p."id" AS "p_id", p."slug" AS "p_slug", p."name" AS "p_name", p."cpu_milli", p."memory_mb", p."storage_gb", p."monthly_price_credits"`;

const JOINS = Prisma.sql`JOIN "services" s ON s."id" = i."service_id" JOIN "plans" p ON p."id" = i."plan_id"`;

/** A row of COLUMNS as the driver hands it over. */
interface InstanceRow {
  id: string;
  name: string;
  k8s_name: string;
  status: InstanceViewSource["status"];
  status_message: string | null;
  desired_state: InstanceViewSource["desiredState"];
  url: string | null;
  subdomain: string;
  namespace: string;
  health_status: InstanceViewSource["healthStatus"];
  health_reason: string | null;
  health_checked_at: number | null;
  subscription_id: string;
  provisioned_at: number | null;
  terminated_at: number | null;
  created_at: number;
  updated_at: number;
  s_id: string;
  s_slug: string;
  s_name: string;
  p_id: string;
  p_slug: string;
  p_name: string;
  cpu_milli: number;
  memory_mb: number;
  storage_gb: number;
  monthly_price_credits: number;
}

const date = (msSinceEpoch: number | null): Date | null => (msSinceEpoch === null ? null : new Date(Math.round(msSinceEpoch)));

function toView(r: InstanceRow): InstanceView {
  return toInstanceView({
    id: r.id,
    name: r.name,
    k8sName: r.k8s_name,
    status: r.status,
    statusMessage: r.status_message,
    desiredState: r.desired_state,
    url: r.url,
    subdomain: r.subdomain,
    namespace: r.namespace,
    healthStatus: r.health_status,
    healthReason: r.health_reason,
    healthCheckedAt: date(r.health_checked_at),
    subscriptionId: r.subscription_id,
    provisionedAt: date(r.provisioned_at),
    terminatedAt: date(r.terminated_at),
    createdAt: new Date(Math.round(r.created_at)),
    updatedAt: new Date(Math.round(r.updated_at)),
    service: { id: r.s_id, slug: r.s_slug, name: r.s_name },
    plan: {
      id: r.p_id,
      slug: r.p_slug,
      name: r.p_name,
      cpuMilli: r.cpu_milli,
      memoryMb: r.memory_mb,
      storageGb: r.storage_gb,
      monthlyPriceCredits: r.monthly_price_credits,
    },
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
 * statement: the matching ids once (`f`), counted, and the page's rows joined to it laterally, so an
 * empty page (beyond the last) still brings the total.
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
  const rows = await read<InstanceRow & { total: number }>(Prisma.sql`
    WITH f AS (
      SELECT i."id", i."created_at" FROM "instances" i ${serviceJoin} WHERE ${conditions(f)}
    )
    SELECT c."total", r.* FROM (SELECT count(*)::int AS "total" FROM f) c
    LEFT JOIN LATERAL (
      SELECT ${COLUMNS}
        FROM (SELECT f."id" FROM f ORDER BY f."created_at" DESC, f."id" DESC LIMIT ${Prisma.raw(String(page.take))} OFFSET ${page.skip}) pg
        JOIN "instances" i ON i."id" = pg."id" ${JOINS}
    ) r ON TRUE
    ORDER BY r."created_at" DESC, r."id" DESC`);
  const total = rows[0]?.total ?? 0;
  const views: InstanceView[] = [];
  for (const r of rows) if (r.id !== null) views.push(toView(r));
  return { rows: views, total };
}

/** One instance's view, or undefined when it does not exist or (with userId) belongs to someone else. */
export async function readInstance(read: SqlRead, id: string, userId: string | undefined): Promise<InstanceView | undefined> {
  const owner = userId === undefined ? Prisma.empty : Prisma.sql`AND i."user_id" = ${userId}`;
  const [r] = await read<InstanceRow>(Prisma.sql`SELECT ${COLUMNS} FROM "instances" i ${JOINS} WHERE i."id" = ${id} ${owner}`);
  return r ? toView(r) : undefined;
}

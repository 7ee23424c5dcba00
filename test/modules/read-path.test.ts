/**
 * The read path (issue 14): GET /api/instances, /api/instances/:id, /api/credits and the admin health
 * summary and stats each cost exactly one SQL statement (counted on the database connection), and the
 * instance bodies built by PostgreSQL are byte for byte what `toInstanceView` over Prisma rows gives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstanceStatus, Prisma } from "../../src/generated/prisma/client.js";
import { paginated } from "../../src/platform/http/pagination.js";
import { readInstancePage } from "../../src/modules/instances/instances.read.js";
import { instanceViewInclude, toInstanceView } from "../../src/modules/instances/instances.view.js";
import { buildAdmin, buildUser, createTestContext, type TestContext, type TestUser } from "../helpers/app.js";

const statements: string[] = [];
let ctx: TestContext;
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  // The revocation poll (every 500 ms by default) runs beside the requests; keep it out of the count.
  ctx = await createTestContext({ env: { TOKEN_REVOCATION_POLL_INTERVAL: "1h" }, onStatement: (sql) => statements.push(sql) });
  admin = await buildAdmin(ctx);
  alice = await buildUser(ctx, { name: "Alice" });
  bob = await buildUser(ctx, { name: "Bob" });
  const prisma = ctx.container.db.prisma;
  const plans = await prisma.plan.findMany({ include: { service: true }, orderBy: [{ serviceId: "asc" }, { slug: "asc" }] });
  const plan = (slug: string) => plans.find((p) => p.service.slug === slug) as (typeof plans)[number];
  const t = (s: string) => new Date(`2026-05-0${s}Z`);
  const rows: Array<{ user: TestUser; service: string; status: InstanceStatus; extra?: Partial<Prisma.InstanceUncheckedCreateInput> }> = [
    {
      user: alice,
      service: "n8n",
      status: "RUNNING",
      extra: { provisionedAt: t("1T10:00:00.120"), healthStatus: "HEALTHY", healthCheckedAt: t("2T00:00:00.007") },
    },
    { user: alice, service: "ghost", status: "FAILED", extra: { statusMessage: 'image "x"\nnot found \\ 名前', url: null } },
    { user: alice, service: "postgresql", status: "TERMINATED", extra: { terminatedAt: t("3T23:59:59.999"), healthReason: "gone" } },
    { user: alice, service: "n8n", status: "PENDING", extra: { name: "Ünïcødé ✓ \u0001 tab\t" } },
    { user: alice, service: "ghost", status: "RUNNING", extra: { healthStatus: "DEGRADED", healthReason: "restarts" } },
    { user: bob, service: "ghost", status: "RUNNING" },
    { user: bob, service: "postgresql", status: "UPDATING" },
  ];
  let k = 0;
  for (const r of rows) {
    k++;
    const p = plan(r.service);
    const sub = await prisma.subscription.create({
      data: { userId: r.user.id, planId: p.id, currentPeriodStart: t("1T00:00:00"), currentPeriodEnd: t("8T00:00:00") },
    });
    await prisma.instance.create({
      data: {
        userId: r.user.id,
        subscriptionId: sub.id,
        serviceId: p.serviceId,
        planId: p.id,
        name: `instance ${k}`,
        k8sName: `instance-${k}`,
        namespace: `user-${r.user.id}`,
        subdomain: `instance-${k}.apps.test`,
        url: `https://instance-${k}.apps.test`,
        status: r.status,
        // Two pairs share a creation time: the id breaks the tie.
        createdAt: t(`1T0${Math.ceil(k / 2)}:00:00.000`),
        ...r.extra,
      },
    });
  }
  await prisma.healthSweep.create({
    data: { trigger: "scheduled", startedAt: t("2T00:00:00"), finishedAt: t("2T00:00:01.5"), durationMs: 1500, instanceCount: 3 },
  });
});
afterAll(async () => {
  await ctx?.close();
});

/** The statements one request sends, after a first identical request warmed every connection. */
async function statementsOf(path: string, auth: { Authorization: string }): Promise<{ status: number; sql: string[] }> {
  await ctx.api.get(path).set(auth);
  statements.length = 0;
  const res = await ctx.api.get(path).set(auth);
  return { status: res.status, sql: [...statements] };
}

describe("one SQL statement per read request", () => {
  const cases: Array<[string, () => TestUser, string | (() => Promise<string>)]> = [
    ["GET /api/instances", () => alice, "/api/instances"],
    ["GET /api/instances (filters, page 2)", () => alice, "/api/instances?status=RUNNING&service=ghost&page=2&pageSize=1"],
    ["GET /api/instances (admin: everyone's)", () => admin, "/api/instances"],
    ["GET /api/instances/:id", () => alice, async () => `/api/instances/${(await anyInstanceOf(alice)).id}`],
    ["GET /api/instances/:id (another user's: 404)", () => bob, async () => `/api/instances/${(await anyInstanceOf(alice)).id}`],
    ["GET /api/credits", () => alice, "/api/credits"],
    ["GET /api/admin/health/summary", () => admin, "/api/admin/health/summary"],
    ["GET /api/admin/health/stats?range=30d", () => admin, "/api/admin/health/stats?range=30d"],
    ["GET /api/admin/health/stats (from/to)", () => admin, "/api/admin/health/stats?from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z"],
  ];
  it.each(cases)("%s", async (_name, who, path) => {
    const p = typeof path === "string" ? path : await path();
    const { status, sql } = await statementsOf(p, who().auth);
    expect(status).toBe(p.includes("/api/instances/") && who() === bob ? 404 : 200);
    expect(sql, sql.join("\n---\n")).toHaveLength(1);
  });
});

async function anyInstanceOf(u: TestUser) {
  return ctx.container.db.prisma.instance.findFirstOrThrow({ where: { userId: u.id }, orderBy: { id: "asc" } });
}

/** The bodies as the Prisma-based implementation built them (findMany + count, toInstanceView). */
async function referenceList(userId: string | undefined, q: { page: number; pageSize: number; status?: InstanceStatus; service?: string }) {
  const prisma = ctx.container.db.prisma;
  const where: Prisma.InstanceWhereInput = {
    ...(userId ? { userId } : {}),
    // TERMINATED instances are listed only when asked for.
    ...(q.status ? { status: q.status } : { status: { not: "TERMINATED" as const } }),
    ...(q.service ? { service: { slug: q.service } } : {}),
  };
  const rows = await prisma.instance.findMany({
    where,
    include: instanceViewInclude,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    skip: (q.page - 1) * q.pageSize,
    take: q.pageSize,
  });
  return paginated(rows.map(toInstanceView), await prisma.instance.count({ where }), q);
}

describe("instance bodies built by PostgreSQL equal toInstanceView's, byte for byte", () => {
  it("GET /api/instances/:id for every instance, as owner and as admin", async () => {
    const all = await ctx.container.db.prisma.instance.findMany({ include: instanceViewInclude });
    expect(all).toHaveLength(7);
    for (const inst of all) {
      const owner = inst.userId === alice.id ? alice : bob;
      for (const u of [owner, admin]) {
        const res = await ctx.api.get(`/api/instances/${inst.id}`).set(u.auth);
        expect(res.status).toBe(200);
        expect(res.text).toBe(JSON.stringify({ instance: toInstanceView(inst) }));
      }
    }
  });

  it("GET /api/instances: pages, filters, beyond the last page, admin and another user", async () => {
    const cases: Array<[TestUser, string, { page: number; pageSize: number; status?: InstanceStatus; service?: string }]> = [
      [alice, "", { page: 1, pageSize: 20 }],
      [alice, "?pageSize=2", { page: 1, pageSize: 2 }],
      [alice, "?pageSize=2&page=2", { page: 2, pageSize: 2 }],
      [alice, "?pageSize=2&page=3", { page: 3, pageSize: 2 }],
      [alice, "?pageSize=2&page=4", { page: 4, pageSize: 2 }],
      [alice, "?status=RUNNING", { page: 1, pageSize: 20, status: "RUNNING" }],
      [alice, "?service=ghost", { page: 1, pageSize: 20, service: "ghost" }],
      [alice, "?service=ghost&status=FAILED", { page: 1, pageSize: 20, service: "ghost", status: "FAILED" }],
      [alice, "?service=nope", { page: 1, pageSize: 20, service: "nope" }],
      [bob, "", { page: 1, pageSize: 20 }],
      [admin, "", { page: 1, pageSize: 20 }],
      [admin, "?pageSize=3&page=2", { page: 2, pageSize: 3 }],
      [admin, "?status=RUNNING&service=ghost", { page: 1, pageSize: 20, status: "RUNNING", service: "ghost" }],
    ];
    for (const [u, query, q] of cases) {
      const res = await ctx.api.get(`/api/instances${query}`).set(u.auth);
      expect(res.status, query).toBe(200);
      const expected = await referenceList(u === admin ? undefined : u.id, q);
      expect(res.text, `${u.email} ${query}`).toBe(JSON.stringify(expected));
    }
    // A filter the API does not expose yet (lists without TERMINATED instances) reads the same way.
    const prisma = ctx.container.db.prisma;
    const live = await readInstancePage(
      ctx.container.db.read,
      { userId: alice.id, statusNotIn: ["TERMINATED", "FAILED"] },
      { skip: 0, take: 20 },
    );
    const liveRows = await prisma.instance.findMany({
      where: { userId: alice.id, status: { notIn: ["TERMINATED", "FAILED"] } },
      include: instanceViewInclude,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
    expect(liveRows).toHaveLength(3);
    expect(JSON.stringify(live)).toBe(JSON.stringify({ rows: liveRows.map(toInstanceView), total: 3 }));
    // The admin sees everyone's, newest first with the id breaking ties.
    const all = (await ctx.api.get("/api/instances").set(admin.auth)).body;
    expect(all.page).toEqual({ page: 1, pageSize: 20, total: 6, totalPages: 1 });
  });
});

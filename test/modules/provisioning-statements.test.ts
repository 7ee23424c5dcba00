/**
 * Provisioning at the database's speed (issue 14): the SQL statements one provisioned instance costs,
 * counted on the database connections, so that a saving cannot silently regress. A user's second
 * instance (tenant baseline in place, catalog cache warm), in two parts:
 *
 *   - POST /api/subscriptions: one transaction of 7 statements on the driver (BEGIN with the statement
 *     timeout, the user lock, quota limits and usage in one, the charge and its entry in one, the k8s
 *     name, then the instance with its CREATED event, the subscription's row and the audit entry in
 *     one, COMMIT); no plan, service or version is read (the catalog cache);
 *   - the reconciler's pass to RUNNING: 7 statements, none of them BEGIN/COMMIT (the claim, the row, the
 *     transition and its event, the tenant check, TENANT_READY, the credentials, the applied
 *     generation and its event, and RUNNING with its event, health and the claim given back).
 *
 * Counted on real PostgreSQL only: on PGlite the statements inside a transaction are not seen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAdmin, buildFundedUser, createTestContext, settleReconciler, type TestContext, type TestUser } from "../helpers/app.js";
import { usingPostgres } from "../helpers/db.js";
import { INSTANCE_ROW_COLUMNS } from "../../src/modules/instances/instance-rows.js";
import { Prisma, rowColumns } from "../../src/platform/db/index.js";

const statements: string[] = [];
let ctx: TestContext;
let u: TestUser;
let planId: string;

const oneLine = (sql: string) => sql.replace(/\s+/g, " ").trim().slice(0, 160);
const listing = (sql: string[]) => sql.map(oneLine).join("\n");
/** Prisma reads of the catalog tables (the quota statement's join on plans is not one). */
const catalogRead = /^SELECT .* FROM "public"\."(plans|services|service_versions)"/;

describe.skipIf(!usingPostgres)("SQL statements per provisioned instance (real PostgreSQL)", () => {
  beforeAll(async () => {
    // The revocation poll (every 500 ms by default) runs beside the requests; keep it out of the count.
    ctx = await createTestContext({ env: { TOKEN_REVOCATION_POLL_INTERVAL: "1h" }, onStatement: (sql) => statements.push(sql) });
    planId = (await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } })).id;
    u = await buildFundedUser(ctx);
    // The user's first instance: the tenant baseline, the pools and the catalog cache warm up.
    const first = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: "first" });
    expect(first.status).toBe(201);
    await settleReconciler(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  let instanceId: string;

  it("POST /api/subscriptions: 7 statements in one transaction, no catalog read", async () => {
    statements.length = 0;
    const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: "second" });
    const sql = [...statements];
    expect(res.status).toBe(201);
    instanceId = res.body.instance.id;
    expect(
      sql.filter((s) => catalogRead.test(oneLine(s))),
      listing(sql),
    ).toEqual([]);
    expect(sql.filter((s) => /^(BEGIN|COMMIT)/.test(s.trim()))).toHaveLength(2);
    expect(sql, listing(sql)).toHaveLength(7);
    // The subscription's row and the audit entry ride in the instance's statement.
    const instanceInsert = sql.filter((s) => /INSERT INTO "instances"/.test(s));
    expect(instanceInsert, listing(sql)).toHaveLength(1);
    expect(instanceInsert[0]).toMatch(/INSERT INTO "subscriptions"[\s\S]*INSERT INTO "audit_events"/);
    expect(sql.filter((s) => /INSERT INTO "(subscriptions|audit_events)"/.test(s))).toEqual(instanceInsert);
  });

  it("the reconciler's pass to RUNNING: 7 statements, no transaction, no catalog read", async () => {
    statements.length = 0;
    const outcome = await ctx.container.loops.reconciler.reconcileNow(instanceId);
    const sql = [...statements];
    expect(outcome).toMatchObject({ status: "RUNNING", result: "done" });
    expect(
      sql.filter((s) => catalogRead.test(oneLine(s))),
      listing(sql),
    ).toEqual([]);
    expect(
      sql.filter((s) => /^(BEGIN|COMMIT)/.test(s.trim())),
      listing(sql),
    ).toEqual([]);
    expect(sql, listing(sql)).toHaveLength(7);

    // What those statements wrote is what the longer sequence wrote.
    const prisma = ctx.container.db.prisma;
    const row = await prisma.instance.findUniqueOrThrow({ where: { id: instanceId } });
    expect(row).toMatchObject({
      status: "RUNNING",
      statusMessage: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      attempts: 0,
      transitionStartedAt: null,
      transitionDeadline: null,
      healthStatus: "HEALTHY",
      healthReason: "rollout complete: all replicas ready",
    });
    expect(row.observedGeneration).toBe(row.generation);
    expect(row.appliedGeneration).toBe(row.generation);
    expect(row.provisionedAt).toBeInstanceOf(Date);
    expect(row.healthCheckedAt?.getTime()).toBe(row.provisionedAt?.getTime());
    expect(row.appliedFields).toEqual(expect.objectContaining({ [`Deployment/${row.k8sName}`]: expect.any(String) }));
    const events = await prisma.instanceEvent.findMany({ where: { instanceId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    expect(events.map((e) => e.type)).toEqual(["CREATED", "PROVISIONING_STARTED", "TENANT_READY", "OBJECTS_APPLIED", "RUNNING"]);
    expect(events.at(-1)?.data).toEqual({ durationMs: expect.any(Number) });
    expect(await prisma.instanceCredentials.count({ where: { instanceId } })).toBe(1);
  });

  it("the raw statements' rows (rowColumns) are Prisma's rows, field for field, on either path", async () => {
    const { prisma, read } = ctx.container.db;
    const instance = await prisma.instance.findUniqueOrThrow({ where: { id: instanceId } });
    const subscription = await prisma.subscription.findUniqueOrThrow({ where: { id: instance.subscriptionId } });
    const charge = await prisma.creditTransaction.findFirstOrThrow({ where: { referenceId: subscription.id } });
    const cases: Array<[Prisma.Sql, unknown]> = [
      [Prisma.sql`SELECT ${INSTANCE_ROW_COLUMNS} FROM "instances" WHERE "id" = ${instanceId}`, instance],
      [
        Prisma.sql`SELECT ${rowColumns(Prisma.SubscriptionScalarFieldEnum)} FROM "subscriptions" WHERE "id" = ${subscription.id}`,
        subscription,
      ],
      [
        Prisma.sql`SELECT ${rowColumns(Prisma.CreditTransactionScalarFieldEnum)} FROM "credit_transactions" WHERE "id" = ${charge.id}`,
        charge,
      ],
    ];
    for (const [sql, expected] of cases) {
      expect((await read(sql))[0]).toEqual(expected);
      expect((await prisma.$queryRaw<unknown[]>(sql))[0]).toEqual(expected);
    }
    expect(charge).toMatchObject({ type: "SUBSCRIPTION_CHARGE", idempotencyKey: `subscription:first-period:${subscription.id}` });
  });

  it("an admin's catalog change is seen by the next subscription at once (the cache is cleared)", async () => {
    const admin = await buildAdmin(ctx);
    const off = await ctx.api.patch(`/api/admin/plans/${planId}`).set(admin.auth).send({ isActive: false });
    expect(off.status).toBe(200);
    const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: "third" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("PLAN_UNAVAILABLE");
    expect((await ctx.api.patch(`/api/admin/plans/${planId}`).set(admin.auth).send({ isActive: true })).status).toBe(200);
    expect((await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId, instanceName: "third" })).status).toBe(201);
  });
});

describe.skipIf(!usingPostgres)("catalog lookups never wait inside a transaction (real PostgreSQL)", () => {
  let c: TestContext;
  beforeAll(async () => {
    // Every lookup loads (TTL 0): were it made inside the subscription's transaction, 40 transactions
    // holding the pool's 20 connections would each wait for a load needing another connection.
    c = await createTestContext({
      env: {
        CATALOG_CACHE_TTL: "0",
        DEFAULT_QUOTA_MAX_INSTANCES: "100",
        DEFAULT_QUOTA_CPU_MILLI: "1000000",
        DEFAULT_QUOTA_MEMORY_MB: "1000000",
        DEFAULT_QUOTA_STORAGE_GB: "100000",
      },
    });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("40 concurrent subscriptions with the cache off all succeed", async () => {
    const plan = await c.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "ghost" } } });
    const user = await buildFundedUser(c, 1_000_000);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await c.api
          .post("/api/subscriptions")
          .set(user.auth)
          .send({ planId: plan.id, instanceName: `burst ${i}` });
        return res.status;
      }),
    );
    expect(statuses).toEqual(Array(40).fill(201));
  });
});

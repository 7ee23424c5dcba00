/**
 * `Database.read` on PostgreSQL runs named prepared statements (src/platform/db/index.ts): a text is
 * prepared once per connection and only bound and executed after that, a bounded number of texts get a
 * name, and the instance list stays right when PostgreSQL plans it generically (its page size is part
 * of the text: instances.read.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database, Prisma } from "../../src/platform/db/index.js";
import { readInstancePage } from "../../src/modules/instances/instances.read.js";
import { createTestDatabase, type TestDatabase, usingPostgres } from "../helpers/db.js";

describe.skipIf(!usingPostgres)("prepared reads on real PostgreSQL (set TEST_DATABASE_URL)", () => {
  let migrated: TestDatabase;
  let t: { db: Database };
  // Migrated through its own pool; then one connection, so the session's pg_prepared_statements is the pool's.
  beforeAll(async () => {
    migrated = await createTestDatabase();
    t = { db: await createDatabase({ url: migrated.url as string, poolSize: 1 }) };
  });
  afterAll(async () => {
    await t?.db.close();
    await migrated?.drop();
  });

  const prepared = async () =>
    (
      await t.db.query<{ name: string; statement: string }>(`SELECT "name", "statement" FROM pg_prepared_statements ORDER BY "name"`)
    ).filter((p) => p.name.startsWith("minispod_read_"));

  it("prepares a text once, under a name derived from the text, and reuses it with other values", async () => {
    const before = (await prepared()).length;
    for (const n of [1, 2, 3]) {
      expect(await t.db.read<{ x: number }>(Prisma.sql`SELECT ${n}::int AS "x"`)).toEqual([{ x: n }]);
    }
    const after = await prepared();
    expect(after).toHaveLength(before + 1);
    expect(after.find((p) => p.statement === `SELECT $1::int AS "x"`)?.name).toMatch(/^minispod_read_[0-9a-f]{20}$/);
  });

  it("the instance list under a generic plan (what PostgreSQL switches to) answers as under custom plans", async () => {
    const prisma = t.db.prisma;
    const service = await prisma.service.create({
      data: { slug: "ghost", name: "Ghost", template: "ghost", image: "ghost", version: "5", port: 2368 },
    });
    const plan = await prisma.plan.create({
      data: {
        serviceId: service.id,
        slug: "starter",
        name: "Starter",
        cpuMilli: 250,
        memoryMb: 512,
        storageGb: 5,
        monthlyPriceCredits: 400,
      },
    });
    const user = await prisma.user.create({ data: { email: "prepared@example.com", passwordHash: "x", name: "P" } });
    for (let k = 0; k < 5; k++) {
      const sub = await prisma.subscription.create({
        data: { userId: user.id, planId: plan.id, currentPeriodStart: new Date(), currentPeriodEnd: new Date(Date.now() + 86_400_000) },
      });
      await prisma.instance.create({
        data: {
          userId: user.id,
          subscriptionId: sub.id,
          serviceId: service.id,
          planId: plan.id,
          name: `i${k}`,
          k8sName: `i-${k}`,
          namespace: "user-p",
          subdomain: `i-${k}.apps.test`,
          createdAt: new Date(Date.UTC(2026, 4, 1, k)),
        },
      });
    }
    await t.db.query(`ANALYZE "instances"`);
    const page = () => readInstancePage(t.db.read, { userId: user.id, statusNotIn: ["TERMINATED"] }, { skip: 1, take: 2 });
    const custom = await page();
    expect(custom.total).toBe(5);
    expect(custom.rows.map((r) => r.name)).toEqual(["i3", "i2"]);
    await t.db.query("SET plan_cache_mode = force_generic_plan");
    try {
      for (let k = 0; k < 7; k++) expect(await page()).toEqual(custom);
      // The page size is in the prepared text, not a parameter: with LIMIT as a parameter the generic
      // plan assumed a tenth of the table per page and hash-joined all of it (instances.read.ts).
      const lists = (await prepared()).filter((p) => p.statement.includes("WITH f AS"));
      expect(lists).toHaveLength(1);
      expect(lists[0]?.statement).toMatch(/ LIMIT 2 OFFSET \$\d+\)/);
    } finally {
      await t.db.query("RESET plan_cache_mode");
    }
  });

  // Last: it fills the process's table of names.
  it("names at most 256 distinct texts; past that a read runs unnamed and still answers", async () => {
    for (let k = 0; k < 300; k++) {
      expect(await t.db.read<{ k: number }>(Prisma.sql`SELECT ${k}::int AS ${Prisma.raw(`"k${k}"`)}`)).toEqual([{ [`k${k}`]: k }]);
    }
    expect((await prepared()).length).toBe(256);
  });
});

/**
 * The catalog cache (src/modules/catalog/catalog-cache.ts): one load serves lookups until its TTL
 * ends or a write of this process invalidates it; an unknown id loads again once; TTL 0 is no cache;
 * a load that raced an invalidation is not kept.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogCache } from "../../src/modules/catalog/catalog-cache.js";
import { seedCatalog } from "../../src/modules/catalog/catalog.seed.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let testDb: TestDatabase;
let loads = 0;

beforeAll(async () => {
  testDb = await createTestDatabase({ onStatement: (sql) => /FROM "public"\."services"/.test(sql) && loads++ });
  await seedCatalog(testDb.db.prisma);
});
afterAll(async () => {
  await testDb?.drop();
});

async function starter() {
  return testDb.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "n8n" } } });
}

describe("CatalogCache", () => {
  it("serves lookups from one load until the TTL ends", async () => {
    let now = 1_000;
    const cache = new CatalogCache({ prisma: testDb.db.prisma, ttlMs: 5_000, now: () => now });
    const plan = await starter();
    loads = 0;
    const got = await cache.plan(plan.id);
    expect(got).toMatchObject({ id: plan.id, cpuMilli: plan.cpuMilli, service: { slug: "n8n" } });
    expect(await cache.service(plan.serviceId)).toMatchObject({ slug: "n8n" });
    expect(await cache.defaultVersion(plan.serviceId)).toEqual({ version: expect.any(String), image: expect.any(String) });
    expect(loads).toBe(1);
    now += 4_999;
    await cache.plan(plan.id);
    expect(loads).toBe(1);
    now += 1;
    await cache.plan(plan.id);
    expect(loads).toBe(2);
  });

  it("sees a change after invalidate() at once, and a new plan (an unknown id loads again)", async () => {
    const cache = new CatalogCache({ prisma: testDb.db.prisma, ttlMs: 60_000 });
    const plan = await starter();
    expect((await cache.plan(plan.id))?.monthlyPriceCredits).toBe(plan.monthlyPriceCredits);
    await testDb.db.prisma.plan.update({ where: { id: plan.id }, data: { monthlyPriceCredits: plan.monthlyPriceCredits + 1 } });
    expect((await cache.plan(plan.id))?.monthlyPriceCredits).toBe(plan.monthlyPriceCredits); // within the TTL
    cache.invalidate();
    expect((await cache.plan(plan.id))?.monthlyPriceCredits).toBe(plan.monthlyPriceCredits + 1);
    await testDb.db.prisma.plan.update({ where: { id: plan.id }, data: { monthlyPriceCredits: plan.monthlyPriceCredits } });
    cache.invalidate();

    const added = await testDb.db.prisma.plan.create({
      data: {
        serviceId: plan.serviceId,
        slug: `new-${Date.now()}`,
        name: "New",
        cpuMilli: 1,
        memoryMb: 1,
        storageGb: 0,
        monthlyPriceCredits: 1,
      },
    });
    expect(await cache.plan(added.id)).toMatchObject({ id: added.id, service: { id: plan.serviceId } });
    expect(await cache.plan("no-such-plan")).toBeUndefined();
  });

  it("keeps nothing with TTL 0, and drops a load that an invalidation overtook", async () => {
    const plan = await starter();
    const off = new CatalogCache({ prisma: testDb.db.prisma, ttlMs: 0 });
    loads = 0;
    await off.plan(plan.id);
    await off.plan(plan.id);
    expect(loads).toBe(2);

    const cache = new CatalogCache({ prisma: testDb.db.prisma, ttlMs: 60_000 });
    const pending = cache.plan(plan.id);
    cache.invalidate(); // a write committed while the load was under way
    await pending;
    loads = 0;
    await cache.plan(plan.id);
    expect(loads).toBe(1);
  });
});

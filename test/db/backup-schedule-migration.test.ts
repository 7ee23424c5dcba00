/**
 * Migration 20261201100000_backup_schedule on a database that already has a catalog: the existing plans
 * get the seeded catalog's schedule (a plan without storage gets none), and a fresh seed agrees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_CATALOG } from "../../src/modules/catalog/catalog.seed.js";
import { migrate } from "../../src/platform/db/migrator.js";
import { createTestDatabase, migrateUpTo, type TestDatabase } from "../helpers/db.js";

const MIGRATION = "20261201100000_backup_schedule";
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await t.drop();
});

describe(MIGRATION, () => {
  it("backfills the existing plans with the seeded catalog's retention and window", async () => {
    await migrateUpTo(t.db, MIGRATION);
    // The catalog as the seed wrote it before this migration, plus an admin's plan without storage.
    for (const { plans, ...s } of SEED_CATALOG) {
      await t.db.query(
        `INSERT INTO "services" ("id","slug","name","template","image","version","port","updated_at") VALUES ($1,$1,$2,$3,$4,$5,$6,now())`,
        [s.slug, s.name, s.template, s.image, s.version, s.port],
      );
      for (const p of [
        ...plans,
        { slug: "stateless", name: "Stateless", cpuMilli: 100, memoryMb: 128, storageGb: 0, monthlyPriceCredits: 1 },
      ]) {
        await t.db.query(
          `INSERT INTO "plans" ("id","service_id","slug","name","cpu_milli","memory_mb","storage_gb","monthly_price_credits","updated_at")
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,now())`,
          [`${s.slug}/${p.slug}`, s.slug, p.slug, p.name, p.cpuMilli, p.memoryMb, p.storageGb, p.monthlyPriceCredits],
        );
      }
    }
    expect(await migrate(t.db)).toContain(MIGRATION);
    const rows = await t.db.query<{ id: string; backup_retention: number; backup_hour_utc: number }>(
      `SELECT "id", "backup_retention", "backup_hour_utc" FROM "plans" ORDER BY "id"`,
    );
    const expected = SEED_CATALOG.flatMap((s) => [
      ...s.plans.map((p) => ({ id: `${s.slug}/${p.slug}`, backup_retention: p.backupRetention, backup_hour_utc: p.backupHourUtc })),
      { id: `${s.slug}/stateless`, backup_retention: 0, backup_hour_utc: 2 },
    ]).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(rows).toEqual(expected);
    expect(rows.filter((r) => r.backup_retention > 0)).toHaveLength(6);
    // The database refuses values the API refuses too.
    await expect(t.db.query(`UPDATE "plans" SET "backup_hour_utc" = 24 WHERE "id" = 'n8n/pro'`)).rejects.toThrow(
      /plans_backup_hour_utc_check/,
    );
    await expect(t.db.query(`UPDATE "plans" SET "backup_retention" = -1 WHERE "id" = 'n8n/pro'`)).rejects.toThrow(
      /plans_backup_retention_check/,
    );
  });
});

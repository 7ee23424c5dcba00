/**
 * Migration 20261202200000_fleet_counts on a database that already has instances: the counts it
 * backfills equal counting them, and the triggers keep them so from then on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceCountsSql } from "../../src/modules/health/health.sql.js";
import { migrate } from "../../src/platform/db/migrator.js";
import { createTestDatabase, migrateUpTo, type TestDatabase } from "../helpers/db.js";

const MIGRATION = "20261202200000_fleet_counts";
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await t.drop();
});

async function counts(sql: string): Promise<Record<string, number>> {
  const rows = await t.db.query<{ status: string; health: string; n: number }>(sql);
  return Object.fromEntries(rows.map((r) => [`${r.status}/${r.health}`, r.n]));
}
const kept = () => counts(instanceCountsSql.text);
const counted = () =>
  counts(`SELECT "status"::text AS "status", "health_status"::text AS "health", count(*)::int AS "n" FROM "instances" GROUP BY 1, 2`);

describe(MIGRATION, () => {
  it("backfills the counts of the existing instances; the triggers keep them after", async () => {
    await migrateUpTo(t.db, MIGRATION);
    await t.db.execScript(`
      INSERT INTO "users" ("id","email","password_hash","name","updated_at") VALUES ('u', 'u@example.com', 'x', 'u', now());
      INSERT INTO "services" ("id","slug","name","template","image","version","port","updated_at") VALUES ('s','s','S','ghost','ghost','5',2368,now());
      INSERT INTO "plans" ("id","service_id","slug","name","cpu_milli","memory_mb","storage_gb","monthly_price_credits","updated_at")
        VALUES ('p','s','p','P',100,128,1,1,now());
      INSERT INTO "subscriptions" ("id","user_id","plan_id","current_period_start","current_period_end","updated_at")
        SELECT 'sub-' || g, 'u', 'p', now(), now() + interval '30 days', now() FROM generate_series(1, 12) g;
      INSERT INTO "instances" ("id","user_id","subscription_id","service_id","plan_id","name","k8s_name","namespace","subdomain",
                               "status","desired_state","health_status","updated_at")
        SELECT 'i-' || g, 'u', 'sub-' || g, 's', 'p', 'i-' || g, 'i-' || g, 'ns', 'i-' || g || '.example.com',
               (CASE WHEN g % 4 = 0 THEN 'STOPPED' ELSE 'RUNNING' END)::"InstanceStatus",
               (CASE WHEN g % 4 = 0 THEN 'STOPPED' ELSE 'RUNNING' END)::"DesiredState",
               (CASE WHEN g % 3 = 0 THEN 'HEALTHY' ELSE 'UNKNOWN' END)::"HealthStatus", now()
          FROM generate_series(1, 12) g;`);
    expect(await migrate(t.db)).toContain(MIGRATION);
    expect(await kept()).toEqual(await counted());
    expect(Object.values(await kept()).reduce((a, b) => a + b, 0)).toBe(12);
    await t.db.query(`UPDATE "instances" SET "status" = 'TERMINATED', "health_status" = 'UNKNOWN' WHERE "id" IN ('i-3', 'i-4')`);
    await t.db.query(`DELETE FROM "instances" WHERE "id" = 'i-5'`);
    expect(await kept()).toEqual(await counted());
  });
});

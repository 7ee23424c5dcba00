/**
 * Migration 20261201200000_service_versions on a database with data: every existing service gets its
 * current image as its default version, and every existing instance records the version it runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../src/platform/db/migrator.js";
import { createTestDatabase, migrateUpTo, type TestDatabase } from "../helpers/db.js";

const MIGRATION = "20261201200000_service_versions";
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await t.drop();
});

describe(MIGRATION, () => {
  it("backfills: each service's image is its default version, each instance runs its service's version", async () => {
    await migrateUpTo(t.db, MIGRATION);
    await t.db.execScript(`
      INSERT INTO "users" ("id","email","password_hash","name","updated_at") VALUES ('u1','u1@example.com','x','U',now());
      INSERT INTO "services" ("id","slug","name","template","image","version","port","updated_at")
        VALUES ('s1','pg','PostgreSQL','postgresql','postgres','16.9-alpine',5432,now()),
               ('s2','n8n','n8n','n8n','docker.n8n.io/n8nio/n8n','1.103.2',5678,now());
      INSERT INTO "plans" ("id","service_id","slug","name","cpu_milli","memory_mb","storage_gb","monthly_price_credits","updated_at")
        VALUES ('p1','s1','small','Small',250,256,5,300,now());
      INSERT INTO "subscriptions" ("id","user_id","plan_id","current_period_start","current_period_end","updated_at")
        VALUES ('sub1','u1','p1',now(),now() + interval '30 days',now());
      INSERT INTO "instances" ("id","user_id","subscription_id","service_id","plan_id","name","k8s_name","namespace","subdomain","updated_at")
        VALUES ('i1','u1','sub1','s1','p1','db','db','user-u1','db.example.com',now());
    `);
    expect(await migrate(t.db)).toContain(MIGRATION);
    expect(await t.db.query(`SELECT "version", "image", "upgrade_to_version" FROM "instances" WHERE "id" = 'i1'`)).toEqual([
      { version: "16.9-alpine", image: "postgres", upgrade_to_version: null },
    ]);
    expect(
      await t.db.query(
        `SELECT "service_id", "version", "image", "is_active", "is_default", "upgrade_from" FROM "service_versions" ORDER BY "service_id"`,
      ),
    ).toEqual([
      { service_id: "s1", version: "16.9-alpine", image: "postgres", is_active: true, is_default: true, upgrade_from: [] },
      { service_id: "s2", version: "1.103.2", image: "docker.n8n.io/n8nio/n8n", is_active: true, is_default: true, upgrade_from: [] },
    ]);
    // One default per service.
    await expect(
      t.db.execScript(
        `INSERT INTO "service_versions" ("id","service_id","version","image","is_default","updated_at") VALUES ('x','s1','16.10-alpine','postgres',true,now())`,
      ),
    ).rejects.toThrow();
  });
});

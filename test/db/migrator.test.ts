import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultMigrationsDir, migrate, MigrationError, readMigrations } from "../../src/platform/db/migrator.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await t.drop();
});

describe("migrator", () => {
  it("applies every migration once and records it in _prisma_migrations like Prisma does", async () => {
    const files = readMigrations();
    expect(files.map((f) => f.name)[0]).toBe("20261126000000_init");
    expect(await migrate(t.db)).toEqual(files.map((f) => f.name));
    expect(await migrate(t.db)).toEqual([]);
    const rows = await t.db.query<{ migration_name: string; checksum: string; applied_steps_count: number; finished_at: Date | null }>(
      `SELECT migration_name, checksum, applied_steps_count, finished_at FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count])).toEqual(files.map((f) => [f.name, f.checksum, 1]));
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  });

  it("refuses to run when an applied migration was edited", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mig-"));
    for (const f of readMigrations(defaultMigrationsDir())) {
      mkdirSync(path.join(dir, f.name));
      writeFileSync(path.join(dir, f.name, "migration.sql"), `${f.sql}\n-- edited\n`);
    }
    await expect(migrate(t.db, dir)).rejects.toThrow(MigrationError);
    await expect(migrate(t.db, dir)).rejects.toThrow(/was edited after it was applied/);
  });

  it("rolls back a failing migration completely and records nothing", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mig-"));
    for (const f of readMigrations(defaultMigrationsDir())) {
      mkdirSync(path.join(dir, f.name));
      writeFileSync(path.join(dir, f.name, "migration.sql"), f.sql);
    }
    mkdirSync(path.join(dir, "29990101000000_broken"));
    writeFileSync(
      path.join(dir, "29990101000000_broken", "migration.sql"),
      `CREATE TABLE "half_done" (id int);\nSELECT * FROM "no_such_table";`,
    );
    await expect(migrate(t.db, dir)).rejects.toThrow(/29990101000000_broken failed/);
    const tables = await t.db.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'`);
    expect(tables).toEqual([]);
    const recorded = await t.db.query(`SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`);
    expect(recorded).toEqual([]);
  });

  it("keeps the ledger append-only at the database level", async () => {
    const p = t.db.prisma;
    const user = await p.user.create({ data: { email: "ledger@x.io", passwordHash: "x", name: "L", creditBalance: 10 } });
    const entry = await p.creditTransaction.create({ data: { userId: user.id, type: "TOPUP", amount: 10, balanceAfter: 10 } });
    await expect(p.creditTransaction.update({ where: { id: entry.id }, data: { amount: 20 } })).rejects.toThrow(/append-only/);
    await expect(p.creditTransaction.delete({ where: { id: entry.id } })).rejects.toThrow(/append-only/);
    await expect(p.user.update({ where: { id: user.id }, data: { creditBalance: -1 } })).rejects.toThrow(
      /users_credit_balance_nonnegative/,
    );
  });
});

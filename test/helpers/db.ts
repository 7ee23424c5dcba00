/**
 * A fresh database per test file: a new PostgreSQL database when TEST_DATABASE_URL or DATABASE_URL is
 * set (CI sets it: concurrency is only proven on real PostgreSQL), otherwise an in-memory PGlite.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createDatabase, type Database } from "../../src/platform/db/index.js";
import { migrate, readMigrations } from "../../src/platform/db/migrator.js";

export function adminDatabaseUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined;
}

export const usingPostgres = adminDatabaseUrl() !== undefined;

export interface TestDatabase {
  db: Database;
  /** The PostgreSQL URL of this file's database (undefined on PGlite). */
  url: string | undefined;
  drop(): Promise<void>;
}

export async function createTestDatabase(
  opts: { migrate?: boolean; poolSize?: number; onStatement?: (sql: string) => void } = {},
): Promise<TestDatabase> {
  const adminUrl = adminDatabaseUrl();
  let db: Database;
  let url: string | undefined;
  let dropDb = async () => {};
  if (adminUrl) {
    const name = `mp_test_${process.pid}_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    db = await createDatabase({ url, poolSize: opts.poolSize ?? 20, onStatement: opts.onStatement });
    dropDb = async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    };
  } else {
    db = await createDatabase({ pgliteMemory: true, onStatement: opts.onStatement });
  }
  if (opts.migrate !== false) await migrate(db);
  return {
    db,
    url,
    async drop() {
      await db.close().catch(() => {});
      await dropDb();
    },
  };
}

/**
 * Applies every migration older than `migration` (the schema as it was just before it), for tests of
 * that migration's backfill on existing data; the test then applies the rest with `migrate(db)`.
 */
export async function migrateUpTo(db: Database, migration: string): Promise<void> {
  const before = mkdtempSync(path.join(os.tmpdir(), "mig-"));
  for (const f of readMigrations().filter((m) => m.name < migration)) {
    mkdirSync(path.join(before, f.name));
    writeFileSync(path.join(before, f.name, "migration.sql"), f.sql);
  }
  await migrate(db, before);
}

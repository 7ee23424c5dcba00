/**
 * Applies prisma/migrations/<timestamp>_<name>/migration.sql in order and records each in Prisma's
 * own `_prisma_migrations` table, so `prisma migrate status` agrees on a machine where Prisma's
 * schema engine is available (it cannot be downloaded here; see TOOLCHAIN.md item 4).
 * Several replicas may start at once: the work runs under an advisory lock.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "./index.js";

const MIGRATION_LOCK_KEY = 72_707_001;

export function defaultMigrationsDir(): string {
  // src/platform/db (tsx) and dist/platform/db (build) are both three levels below the root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../../prisma/migrations"), path.resolve(process.cwd(), "prisma/migrations")];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) throw new Error(`prisma/migrations not found (looked in ${candidates.join(", ")})`);
  return dir;
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = defaultMigrationsDir()): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {}

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Database, dir?: string): Promise<string[]> {
  const migrations = readMigrations(dir);
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, async () => {
    await db.execScript(CREATE_TABLE);
    const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const applied = new Map(rows.map((r) => [r.migration_name, r]));
    const done: string[] = [];
    for (const m of migrations) {
      const row = applied.get(m.name);
      if (row) {
        if (!row.finished_at) throw new MigrationError(`migration ${m.name} started but never finished; resolve it by hand`);
        if (row.checksum !== m.checksum) throw new MigrationError(`migration ${m.name} was edited after it was applied`);
        continue;
      }
      const id = randomUUID();
      // One transaction per migration: it applies whole or not at all.
      const escaped = m.name.replace(/'/g, "''");
      await db
        .execScript(
          `BEGIN;\n${m.sql}\n;INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) ` +
            `VALUES ('${id}', '${m.checksum}', now(), '${escaped}', 1);\nCOMMIT;`,
        )
        .catch(async (err: unknown) => {
          await db.execScript("ROLLBACK").catch(() => {});
          throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        });
      done.push(m.name);
    }
    return done;
  });
}

/**
 * schema.prisma and prisma/migrations must describe the same database. The SQL Prisma would write
 * for schema.prisma (scripts/schema-sql.ts) and our migrations are each applied to an empty database,
 * and the two catalogs are compared. The migrations may add only what Prisma's schema language cannot
 * express: CHECK constraints, triggers and partial indexes.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../src/platform/db/index.js";
import { migrate } from "../../src/platform/db/migrator.js";
import { schemaToSql } from "../../scripts/schema-sql.js";

interface Catalog {
  columns: string[];
  enums: string[];
  constraints: string[];
  checks: string[];
  indexes: string[];
  partialIndexes: string[];
}

async function catalog(db: Database): Promise<Catalog> {
  const columns = await db.query<{ c: string }>(
    `SELECT table_name || '.' || column_name || ' ' || udt_name || COALESCE('(' || datetime_precision || ')', '') ||
            ' nullable=' || is_nullable || ' default=' || COALESCE(column_default, '-') AS c
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
      ORDER BY 1`,
  );
  const enums = await db.query<{ e: string }>(
    `SELECT t.typname || ': ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS e
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
       JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'public'
      GROUP BY t.typname ORDER BY 1`,
  );
  const constraints = await db.query<{ c: string; contype: string }>(
    `SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS c, contype
       FROM pg_constraint
      WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
        AND conrelid::regclass::text <> '_prisma_migrations'
      ORDER BY 1`,
  );
  const indexes = await db.query<{ i: string }>(
    `SELECT indexdef AS i FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`,
  );
  return {
    columns: columns.map((r) => r.c),
    enums: enums.map((r) => r.e),
    constraints: constraints.filter((r) => r.contype !== "c").map((r) => r.c),
    checks: constraints.filter((r) => r.contype === "c").map((r) => r.c),
    indexes: indexes.map((r) => r.i).filter((i) => !/ WHERE /.test(i)),
    partialIndexes: indexes.map((r) => r.i).filter((i) => / WHERE /.test(i)),
  };
}

let fromSchema: Catalog;
let fromMigrations: Catalog;

beforeAll(async () => {
  const sql = schemaToSql();
  const a = await createDatabase({ pgliteMemory: true });
  const b = await createDatabase({ pgliteMemory: true });
  try {
    await a.execScript(sql);
    await migrate(b);
    fromSchema = await catalog(a);
    fromMigrations = await catalog(b);
  } finally {
    await a.close();
    await b.close();
  }
}, 120_000);

describe("schema.prisma and prisma/migrations agree", () => {
  it("has the same tables and columns (types, nullability, defaults)", () => {
    expect(fromMigrations.columns).toEqual(fromSchema.columns);
    expect(fromSchema.columns.length).toBeGreaterThan(50);
  });

  it("has the same enums", () => {
    expect(fromMigrations.enums).toEqual(fromSchema.enums);
  });

  it("has the same primary keys, unique constraints and foreign keys", () => {
    expect(fromMigrations.constraints).toEqual(fromSchema.constraints);
  });

  it("has the same indexes, plus only partial indexes the schema language cannot express", () => {
    expect(fromMigrations.indexes).toEqual(fromSchema.indexes);
    expect(fromSchema.partialIndexes).toEqual([]);
    for (const extra of fromMigrations.partialIndexes) expect(extra).toMatch(/^CREATE UNIQUE INDEX \S+ ON public\.\S+ .* WHERE /);
  });

  it("adds CHECK constraints only through migrations", () => {
    expect(fromSchema.checks).toEqual([]);
    expect(fromMigrations.checks).toEqual(
      expect.arrayContaining([expect.stringContaining("users_credit_balance_nonnegative CHECK ((credit_balance >= 0))")]),
    );
  });
});

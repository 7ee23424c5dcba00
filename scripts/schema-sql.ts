/**
 * Renders prisma/schema.prisma as the SQL that creates it from an empty database, using Prisma 6's
 * WebAssembly schema engine (`engine: "js"`), which works offline — Prisma 7's CLI needs a native
 * schema engine that cannot be downloaded on these machines (TOOLCHAIN.md item 4).
 *
 *   npm run db:sql                 # print the SQL for the whole schema
 *
 * Used by test/db/schema-drift.test.ts to prove the migrations create exactly this schema, and by
 * developers as the starting point of a new migration.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function schemaToSql(schemaPath = path.join(root, "prisma/schema.prisma")): string {
  // The work dir sits inside node_modules so the config file resolves the project's packages.
  const work = path.join(root, "node_modules/.cache/minispod-schema-sql");
  mkdirSync(work, { recursive: true });
  // Prisma 6 wants a datasource url and no Prisma 7 generator options.
  const schema = readFileSync(schemaPath, "utf8")
    .replace(/generator\s+\w+\s*\{[^}]*\}/m, "")
    .replace(/(datasource\s+db\s*\{[^}]*provider\s*=\s*"postgresql")/m, '$1\n  url = "postgresql://unused@127.0.0.1:1/unused"');
  writeFileSync(path.join(work, "schema.prisma"), schema);
  writeFileSync(
    path.join(work, "prisma.config.ts"),
    `import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
export default {
  engine: "js",
  experimental: { adapter: true },
  schema: "schema.prisma",
  // The engine wants a live connection even to diff from empty: an in-memory PGlite serves.
  adapter: async () => new PrismaPGlite(new PGlite()),
};
`,
  );
  const fakeEngine = path.join(work, "no-query-engine.so.node");
  writeFileSync(fakeEngine, "");
  const cli = path.join(root, "node_modules/prisma-v6/build/index.js");
  return execFileSync(process.execPath, [cli, "migrate", "diff", "--from-empty", "--to-schema-datamodel", "schema.prisma", "--script"], {
    cwd: work,
    encoding: "utf8",
    env: {
      ...process.env,
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
      PRISMA_SCHEMA_ENGINE_BINARY: "/bin/true",
      PRISMA_QUERY_ENGINE_LIBRARY: fakeEngine,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.stdout.write(schemaToSql(process.argv[2]));
}

/**
 * The migration entry needs only what k8s/migrate-job.yaml gives it (DATABASE_URL as a file, LOG_LEVEL)
 * plus the image's own ENV (NODE_ENV=production): no JWT secret, admin password or cluster.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadMigrateConfig } from "../src/config/index.js";
import { createTestDatabase, usingPostgres } from "./helpers/db.js";

const ROOT = path.resolve(import.meta.dirname, "..");

/** The Job's container env (name -> value) and the Dockerfile's runtime ENV, as the Job's container sees them. */
function jobEnvironment(databaseUrlFile: string): Record<string, string> {
  const job = parse(readFileSync(path.join(ROOT, "k8s/migrate-job.yaml"), "utf8"));
  const container = job.spec.template.spec.containers[0];
  const env: Record<string, string> = { NODE_ENV: "production" };
  for (const e of container.env as Array<{ name: string; value: string }>) env[e.name] = e.value;
  // The Secret is mounted at the path the Job names; here, a file of our own.
  env.DATABASE_URL_FILE = databaseUrlFile;
  return env;
}

function secretFile(value: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "minispod-migrate-")), "DATABASE_URL");
  writeFileSync(file, `${value}\n`);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("migration entry configuration", () => {
  it("the Job's exact environment is enough (the API's config would refuse it)", () => {
    const env = jobEnvironment(secretFile("postgresql://minispod:pw@db.internal:5432/minispod"));
    expect(Object.keys(env).sort()).toEqual(["DATABASE_URL_FILE", "LOG_LEVEL", "NODE_ENV"]);
    const config = loadMigrateConfig(env);
    expect(config).toEqual({
      isProduction: true,
      log: { level: "info" },
      db: { url: "postgresql://minispod:pw@db.internal:5432/minispod", dataDir: path.resolve("./data") },
    });
    expect(problemsOf(() => loadConfig(env))).toEqual([
      "JWT_SECRET: required when NODE_ENV=production, at least 32 bytes",
      "CREDENTIALS_KEY: required when NODE_ENV=production: 32 random bytes in base64 (e.g. `openssl rand -base64 32`)",
    ]);
  });

  it("production without a database, an unreadable secret file or a bad URL are listed problems", () => {
    expect(problemsOf(() => loadMigrateConfig({ NODE_ENV: "production" }))).toEqual([
      "DATABASE_URL: required when NODE_ENV=production (no embedded database)",
    ]);
    const missing = path.join(os.tmpdir(), "minispod-no-such-dir", "DATABASE_URL");
    expect(problemsOf(() => loadMigrateConfig({ NODE_ENV: "production", DATABASE_URL_FILE: missing }))).toEqual([
      `DATABASE_URL_FILE: cannot read ${missing} (ENOENT: no such file or directory, open '${missing}')`,
      "DATABASE_URL: required when NODE_ENV=production (no embedded database)",
    ]);
    expect(problemsOf(() => loadMigrateConfig({ DATABASE_URL: "not a url", LOG_LEVEL: "loud" }))).toEqual([
      'LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
      "DATABASE_URL: Invalid URL",
    ]);
  });

  it("outside production it falls back to the local PGlite database under DATA_DIR, like the API", () => {
    expect(loadMigrateConfig({ DATA_DIR: "/srv/minispod" })).toEqual({
      isProduction: false,
      log: { level: "info" },
      db: { url: undefined, dataDir: "/srv/minispod" },
    });
  });
});

describe.skipIf(!usingPostgres)("the migration process with the Job's environment (needs PostgreSQL: set TEST_DATABASE_URL)", () => {
  it("migrates a fresh database and exits 0", async () => {
    const testDb = await createTestDatabase({ migrate: false });
    try {
      const env = { PATH: process.env.PATH ?? "", ...jobEnvironment(secretFile(testDb.url as string)) };
      const child = spawn(process.execPath, ["--import", "tsx", "src/migrate.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d: Buffer) => {
        output += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        output += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect({ code, output: code === 0 ? "" : output }).toEqual({ code: 0, output: "" });
      const expected = readdirSync(path.join(ROOT, "prisma/migrations"), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
      const rows = await testDb.db.query<{ migration_name: string }>(
        `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name`,
      );
      expect(rows.map((r) => r.migration_name)).toEqual(expected);
    } finally {
      await testDb.drop();
    }
  }, 60_000);
});

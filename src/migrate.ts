/**
 * Applies pending database migrations and exits (`npm run migrate`, or `node dist/migrate.js` in the
 * image's migration Job). Reads only the database settings (DATABASE_URL / DATABASE_URL_FILE, else the
 * local PGlite database under DATA_DIR; LOG_LEVEL), which is all k8s/migrate-job.yaml gives it, and
 * runs the same migrator the API runs at start.
 */
import { ConfigError, loadMigrateConfig } from "./config/index.js";
import { createDatabase } from "./platform/db/index.js";
import { migrate } from "./platform/db/migrator.js";
import { createLogger } from "./platform/logger.js";

async function main(): Promise<void> {
  const config = loadMigrateConfig();
  const logger = createLogger({ level: config.log.level });
  const db = await createDatabase(config.db.url ? { url: config.db.url } : { pgliteDir: `${config.db.dataDir}/pglite` });
  try {
    logger.info({ database: db.location }, "applying database migrations");
    const applied = await migrate(db);
    logger.info({ migrations: applied }, applied.length ? `applied ${applied.length} migration(s)` : "database is up to date");
  } finally {
    await db.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      err instanceof ConfigError
        ? `${err.message}\n`
        : `migration failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);

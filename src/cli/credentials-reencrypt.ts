/**
 * `npm run credentials:reencrypt` (in the image: `node dist/cli/credentials-reencrypt.js`): re-encrypts
 * every stored instance credential with the current CREDENTIALS_KEY, in batches (`--batch-size=N`, default 100). Idempotent: rows
 * already under the current key are skipped, so it can be re-run after an interruption.
 *
 * Rotation: set the new key as CREDENTIALS_KEY and the old one in CREDENTIALS_OLD_KEYS, roll the API
 * out, run this, then drop CREDENTIALS_OLD_KEYS. Reads only the database and the keys (DATABASE_URL,
 * CREDENTIALS_KEY, CREDENTIALS_OLD_KEYS, each also as `_FILE`; DATA_DIR for local mode's key file).
 * Prints counts and key ids only, never a credential.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, loadCredentialsCommandConfig } from "../config/index.js";
import { InstanceCredentialsStore } from "../modules/instances/instance-credentials.js";
import { CredentialsCipher, CredentialsKeyError, loadOrCreateLocalCredentialsKey } from "../platform/credentials-cipher.js";
import { createDatabase } from "../platform/db/index.js";
import { createLogger } from "../platform/logger.js";

export async function reencryptCredentials(
  store: InstanceCredentialsStore,
  opts: { batchSize?: number } = {},
): Promise<{ keyId: string; reencrypted: number; remaining: number }> {
  const r = await store.reencryptAll({ batchSize: opts.batchSize ?? 100 });
  return { keyId: store.cipher.currentKeyId, ...r };
}

/** `--batch-size=N` (1-10000; default 100): rows re-encrypted per transaction. */
function batchSizeArg(args: string[]): number {
  const arg = args.find((a) => a.startsWith("--batch-size="));
  if (!arg) return 100;
  const n = Number(arg.slice("--batch-size=".length));
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new ConfigError(["--batch-size: an integer from 1 to 10000"]);
  return n;
}

async function main(): Promise<void> {
  const config = loadCredentialsCommandConfig();
  const batchSize = batchSizeArg(process.argv.slice(2));
  const logger = createLogger({ level: config.log.level });
  // Local mode without a configured key: the one the API generated into DATA_DIR (never a new one here).
  const localFile = path.join(config.db.dataDir, "credentials.key");
  const key =
    config.credentials.key ??
    (!config.isProduction && existsSync(localFile) ? loadOrCreateLocalCredentialsKey(config.db.dataDir).key : undefined);
  if (!key) throw new ConfigError([`CREDENTIALS_KEY: required (and no ${localFile} from a local-mode start)`]);
  const cipher = new CredentialsCipher(key, config.credentials.oldKeys);
  const db = await createDatabase(config.db.url ? { url: config.db.url } : { pgliteDir: `${config.db.dataDir}/pglite` });
  try {
    const store = new InstanceCredentialsStore(db.prisma, cipher);
    logger.info({ keyId: cipher.currentKeyId, oldKeyIds: cipher.keyIds.slice(1), batchSize }, "re-encrypting instance credentials");
    const r = await reencryptCredentials(store, { batchSize });
    logger.info(r, `re-encrypted ${r.reencrypted} instance credential(s) with key ${r.keyId}`);
  } finally {
    await db.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        err instanceof ConfigError || err instanceof CredentialsKeyError
          ? `${err.message}\n`
          : `re-encryption failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}

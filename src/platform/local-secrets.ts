/**
 * Local mode only: a JWT secret and first-admin password that were not configured are generated once
 * and kept in DATA_DIR/local-secrets.json (mode 0600), so restarts keep sessions and the admin login.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface LocalSecrets {
  jwtSecret: string;
  adminPassword: string;
}

export function localSecretsPath(dataDir: string): string {
  return path.join(dataDir, "local-secrets.json");
}

export function loadOrCreateLocalSecrets(dataDir: string): { secrets: LocalSecrets; path: string; created: boolean } {
  const file = localSecretsPath(dataDir);
  if (existsSync(file)) {
    const secrets = JSON.parse(readFileSync(file, "utf8")) as LocalSecrets;
    return { secrets, path: file, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const secrets: LocalSecrets = {
    jwtSecret: randomBytes(48).toString("base64url"),
    adminPassword: randomBytes(12).toString("base64url"),
  };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return { secrets, path: file, created: true };
}

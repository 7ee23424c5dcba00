/**
 * The credentials cipher (AES-256-GCM, messages that name their key) and its configuration:
 * CREDENTIALS_KEY / _FILE, CREDENTIALS_OLD_KEYS, production's requirement, local mode's key file.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadCredentialsCommandConfig } from "../../src/config/index.js";
import {
  CredentialsCipher,
  CredentialsKeyError,
  credentialsKeyId,
  decodeCredentialsKey,
  keyIdOf,
  loadOrCreateLocalCredentialsKey,
  newCredentialsKey,
} from "../../src/platform/credentials-cipher.js";

const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "minispod-creds-"));

function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const PROD = {
  NODE_ENV: "production",
  DATABASE_URL: "postgresql://u@127.0.0.1:5432/db",
  JWT_SECRET: "x".repeat(40),
  K8S_MODE: "cluster",
};

describe("CredentialsCipher", () => {
  it("round-trips, and every message names its key id and has a fresh IV", () => {
    const c = new CredentialsCipher(KEY_A);
    const a = c.encrypt('{"N8N_ENCRYPTION_KEY":"k"}', "instance_credentials:i1");
    const b = c.encrypt('{"N8N_ENCRYPTION_KEY":"k"}', "instance_credentials:i1");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1:[0-9a-f]{12}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(keyIdOf(a)).toBe(c.currentKeyId);
    expect(c.currentKeyId).toBe(credentialsKeyId(Buffer.alloc(32, 1)));
    expect(a).not.toContain("N8N_ENCRYPTION_KEY");
    expect(c.decrypt(a, "instance_credentials:i1")).toBe('{"N8N_ENCRYPTION_KEY":"k"}');
  });

  it("refuses another instance's row (the id is authenticated data) and a tampered message", () => {
    const c = new CredentialsCipher(KEY_A);
    const m = c.encrypt("secret", "instance_credentials:i1");
    expect(() => c.decrypt(m, "instance_credentials:i2")).toThrow(CredentialsKeyError);
    const parts = m.split(":");
    parts[4] = Buffer.from("other").toString("base64url");
    expect(() => c.decrypt(parts.join(":"), "instance_credentials:i1")).toThrow(
      `credentials encrypted with key ${c.currentKeyId} failed authentication (corrupted, or not this row's)`,
    );
    expect(() => c.decrypt("plain text", "x")).toThrow("not an encrypted credentials message (v1)");
  });

  it("decrypts with old keys (rotation) and encrypts only with the current one", () => {
    const old = new CredentialsCipher(KEY_A);
    const m = old.encrypt("v", "aad");
    const rotated = new CredentialsCipher(KEY_B, [KEY_A]);
    expect(rotated.keyIds).toEqual([credentialsKeyId(Buffer.alloc(32, 2)), old.currentKeyId]);
    expect(rotated.decrypt(m, "aad")).toBe("v");
    expect(keyIdOf(rotated.encrypt("v", "aad"))).toBe(rotated.currentKeyId);
  });

  it("names the unknown key id when no configured key matches", () => {
    const m = new CredentialsCipher(KEY_A).encrypt("v", "aad");
    const other = new CredentialsCipher(KEY_B);
    const idA = credentialsKeyId(Buffer.alloc(32, 1));
    let err: unknown;
    try {
      other.decrypt(m, "aad");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredentialsKeyError);
    expect((err as CredentialsKeyError).keyId).toBe(idA);
    expect((err as Error).message).toBe(
      `credentials are encrypted with key ${idA}, which is not configured (CREDENTIALS_KEY is ${other.currentKeyId})`,
    );
  });

  it("accepts exactly 32 bytes of standard or url-safe base64", () => {
    expect(decodeCredentialsKey(KEY_A)?.length).toBe(32);
    expect(decodeCredentialsKey(Buffer.alloc(32, 0xfb).toString("base64url"))?.length).toBe(32);
    expect(decodeCredentialsKey(Buffer.alloc(31).toString("base64"))).toBeUndefined();
    expect(decodeCredentialsKey("not base64!")).toBeUndefined();
    expect(decodeCredentialsKey(newCredentialsKey())?.length).toBe(32);
    expect(() => new CredentialsCipher("short")).toThrow(CredentialsKeyError);
  });
});

describe("configuration", () => {
  it("production refuses to start without CREDENTIALS_KEY", () => {
    expect(configProblems(PROD)).toEqual([
      "CREDENTIALS_KEY: required when NODE_ENV=production: 32 random bytes in base64 (e.g. `openssl rand -base64 32`)",
    ]);
    expect(configProblems({ ...PROD, CREDENTIALS_KEY: KEY_A })).toEqual([]);
  });

  it("rejects keys that are not 32 bytes of base64, naming the variable (never the value)", () => {
    const problems = configProblems({ NODE_ENV: "test", CREDENTIALS_KEY: "too-short", CREDENTIALS_OLD_KEYS: `${KEY_A}, nope` });
    expect(problems).toEqual([
      "CREDENTIALS_KEY: must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)",
      "CREDENTIALS_OLD_KEYS: item 2 must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)",
    ]);
    expect(configProblems({ NODE_ENV: "test", CREDENTIALS_OLD_KEYS: KEY_A })).toEqual([
      "CREDENTIALS_OLD_KEYS: needs CREDENTIALS_KEY (the key to re-encrypt with)",
    ]);
  });

  it("reads CREDENTIALS_KEY_FILE and CREDENTIALS_OLD_KEYS_FILE", () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "key"), `${KEY_B}\n`);
    writeFileSync(path.join(dir, "old"), `${KEY_A}\n`);
    const c = loadConfig({
      ...PROD,
      CREDENTIALS_KEY_FILE: path.join(dir, "key"),
      CREDENTIALS_OLD_KEYS_FILE: path.join(dir, "old"),
    });
    expect(c.credentials).toEqual({ key: KEY_B, oldKeys: [KEY_A] });
    const cmd = loadCredentialsCommandConfig({ ...PROD, CREDENTIALS_KEY_FILE: path.join(dir, "key") });
    expect(cmd.credentials).toEqual({ key: KEY_B, oldKeys: [] });
    expect(() => loadCredentialsCommandConfig({ NODE_ENV: "production", DATABASE_URL: PROD.DATABASE_URL })).toThrow(
      "CREDENTIALS_KEY: required when NODE_ENV=production",
    );
  });

  it("local mode: no key configured is fine (one is generated into DATA_DIR)", () => {
    expect(loadConfig({ NODE_ENV: "development" }).credentials).toEqual({ key: undefined, oldKeys: [] });
  });
});

describe("local mode's key file", () => {
  it("is generated once with mode 0600 and reused", () => {
    const dir = tmp();
    const first = loadOrCreateLocalCredentialsKey(dir);
    expect(first.created).toBe(true);
    expect(first.path).toBe(path.join(dir, "credentials.key"));
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    expect(decodeCredentialsKey(first.key)?.length).toBe(32);
    expect(readFileSync(first.path, "utf8")).toBe(`${first.key}\n`);
    const again = loadOrCreateLocalCredentialsKey(dir);
    expect(again).toEqual({ key: first.key, path: first.path, created: false });
  });

  it("a damaged key file is an error, never a new key", () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "credentials.key"), "garbage\n");
    expect(() => loadOrCreateLocalCredentialsKey(dir)).toThrow(CredentialsKeyError);
    expect(readFileSync(path.join(dir, "credentials.key"), "utf8")).toBe("garbage\n");
  });
});

/**
 * Encryption of instance credentials at rest: AES-256-GCM with a 12-byte random IV per message, the
 * instance id as additional authenticated data (a row copied onto another instance does not decrypt).
 *
 * A message is one string, `v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts), so it names the key
 * that encrypted it. The key id is a short hash of the key (never the key). The keyring holds the
 * current key (encrypts) and old keys (still decrypt, for rotation: `npm run credentials:reencrypt`).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;

/** A key that is not 32 bytes of base64, or a message no configured key can open. */
export class CredentialsKeyError extends Error {
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super(message);
    this.name = "CredentialsKeyError";
  }
}

/** Decodes a `CREDENTIALS_KEY` value; undefined unless it is exactly 32 bytes of (standard or url-safe) base64. */
export function decodeCredentialsKey(value: string): Buffer | undefined {
  const v = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) return undefined;
  const key = Buffer.from(v.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  return key.length === KEY_BYTES ? key : undefined;
}

/** The short, public name of a key: the first 12 hex digits of SHA-256 over a label and the key. */
export function credentialsKeyId(key: Buffer): string {
  return createHash("sha256").update("minispod-credentials-key\0").update(key).digest("hex").slice(0, 12);
}

/** A new key, as `CREDENTIALS_KEY` takes it: 32 random bytes in base64. */
export function newCredentialsKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

/** The key id a message names (without decrypting it); undefined for something that is not a message. */
export function keyIdOf(message: string): string | undefined {
  const parts = message.split(":");
  return parts.length === 5 && parts[0] === VERSION ? parts[1] : undefined;
}

export class CredentialsCipher {
  private readonly keys = new Map<string, Buffer>();
  /** The id of the key new messages are encrypted with. */
  readonly currentKeyId: string;

  /** `current` and `old` are base64 keys (validated by the config; a bad one throws CredentialsKeyError here too). */
  constructor(current: string, old: readonly string[] = []) {
    const decode = (v: string, what: string) => {
      const k = decodeCredentialsKey(v);
      if (!k) throw new CredentialsKeyError(`${what} must be 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
      return k;
    };
    const key = decode(current, "CREDENTIALS_KEY");
    this.currentKeyId = credentialsKeyId(key);
    this.keys.set(this.currentKeyId, key);
    for (const o of old) {
      const k = decode(o, "CREDENTIALS_OLD_KEYS");
      this.keys.set(credentialsKeyId(k), k);
    }
  }

  /** Ids of every key this cipher can decrypt with (the current one first). */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  knows(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  encrypt(plaintext: string, aad: string): string {
    const key = this.keys.get(this.currentKeyId) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.currentKeyId, iv.toString("base64url"), tag.toString("base64url"), ct.toString("base64url")].join(":");
  }

  /** Throws CredentialsKeyError for an unknown key id, a malformed message or a failed authentication. */
  decrypt(message: string, aad: string): string {
    const parts = message.split(":");
    if (parts.length !== 5 || parts[0] !== VERSION) throw new CredentialsKeyError("not an encrypted credentials message (v1)");
    const [, keyId, iv, tag, ct] = parts as [string, string, string, string, string];
    const key = this.keys.get(keyId);
    if (!key) {
      throw new CredentialsKeyError(
        `credentials are encrypted with key ${keyId}, which is not configured (CREDENTIALS_KEY is ${this.currentKeyId}${
          this.keys.size > 1 ? `, CREDENTIALS_OLD_KEYS ${this.keyIds.slice(1).join(", ")}` : ""
        })`,
        keyId,
      );
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      throw new CredentialsKeyError(`credentials encrypted with key ${keyId} failed authentication (corrupted, or not this row's)`, keyId);
    }
  }
}

/**
 * Local mode only: the credentials key kept in DATA_DIR/credentials.key (mode 0600), generated on
 * first start and reused after. Losing this file loses every instance's stored credentials.
 */
export function loadOrCreateLocalCredentialsKey(dataDir: string): { key: string; path: string; created: boolean } {
  const file = path.join(dataDir, "credentials.key");
  if (existsSync(file)) {
    const key = readFileSync(file, "utf8").trim();
    if (!decodeCredentialsKey(key)) throw new CredentialsKeyError(`${file} does not hold 32 bytes of base64 (a CREDENTIALS_KEY)`);
    return { key, path: file, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const key = newCredentialsKey();
  // `wx`: two processes starting at once cannot both write a key; the loser reads the winner's.
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateLocalCredentialsKey(dataDir);
    throw err;
  }
  chmodSync(file, 0o600);
  return { key, path: file, created: true };
}

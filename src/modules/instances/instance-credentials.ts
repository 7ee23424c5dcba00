/**
 * Instance credentials are data: generated once, kept encrypted in `instance_credentials`, and
 * rendered into the instance's Secret by the reconciler. The Secret is a copy: a deleted or edited
 * Secret is re-rendered from the row, and credentials are never regenerated for an instance that ran.
 *
 * Where a row comes from, exactly once per instance (insert-if-absent, never overwritten):
 *   - generated, for an instance never applied before (`appliedGeneration` 0), at its first apply;
 *   - adopted from the live Secret, for an instance provisioned before credentials were stored here
 *     (by its next apply, or by the reconciler's adoption pass: `adoptMissing`);
 *   - neither (applied before, no row, no Secret): the credentials are lost. Nothing is generated (a
 *     new n8n key or PostgreSQL password would not open the instance's data): `CredentialsLostError`,
 *     and the instance FAILS with an event saying how to recover (restore the Secret, then restart).
 * A row is deleted with the instance's data: when it is TERMINATED, or rolled back after failing
 * before it ever ran.
 */
import type { ServiceTemplate } from "../../kube/templates/index.js";
import { generateCredentials } from "../../kube/templates/index.js";
import { type CredentialsCipher, CredentialsKeyError } from "../../platform/credentials-cipher.js";
import { type Db, Prisma, type PrismaClient, type SqlTarget, sqlRows } from "../../platform/db/index.js";

export type CredentialValues = Record<string, string>;

/** The instance was applied before, but neither a stored row nor its live Secret holds its credentials. */
export class CredentialsLostError extends Error {
  constructor(readonly secretName: string) {
    super(
      `The instance's credentials are lost: none are stored and Secret ${secretName} is gone. New ones would not open its data, so none are generated; restore the Secret (e.g. from a backup), then restart the instance to adopt it`,
    );
    this.name = "CredentialsLostError";
  }
}

/** How the credentials used for an apply were obtained. */
export type CredentialsSource = "stored" | "generated" | "adopted";

export interface ResolveInput {
  id: string;
  template: ServiceTemplate;
  appliedGeneration: number;
  secretName: string;
  /** Reads the live Secret (only called when no row is stored). */
  readLiveSecret: () => Promise<CredentialValues | undefined>;
}

function aad(instanceId: string): string {
  return `instance_credentials:${instanceId}`;
}

export class InstanceCredentialsStore {
  constructor(
    private readonly prisma: PrismaClient,
    readonly cipher: CredentialsCipher,
    /** Where `storeIfAbsent` runs when given no transaction: the driver (`Database.read`), else Prisma. */
    private readonly sql: SqlTarget = prisma,
  ) {}

  /** The stored credentials, decrypted; undefined when the instance has none stored. */
  async read(instanceId: string, db: Db = this.prisma): Promise<CredentialValues | undefined> {
    const row = await db.instanceCredentials.findUnique({ where: { instanceId } });
    if (!row) return undefined;
    return this.open(instanceId, row.ciphertext);
  }

  /**
   * Stores `values` unless the instance already has credentials, and returns what is stored (the
   * first writer wins: two reconcilers racing on one instance end up with the same values).
   */
  async storeIfAbsent(instanceId: string, values: CredentialValues, db?: Db): Promise<CredentialValues> {
    const ciphertext = this.cipher.encrypt(JSON.stringify(sortKeys(values)), aad(instanceId));
    const now = new Date();
    // One statement: the row this insert wrote, or (it lost to an existing row) the existing one.
    const rows = await sqlRows<{ ciphertext: string }>(
      db ?? this.sql,
      Prisma.sql`
      WITH ins AS (
        INSERT INTO "instance_credentials" ("instance_id", "key_id", "ciphertext", "created_at", "updated_at")
        VALUES (${instanceId}, ${this.cipher.currentKeyId}, ${ciphertext}, ${now}, ${now})
        ON CONFLICT DO NOTHING RETURNING "ciphertext")
      SELECT "ciphertext" FROM ins
      UNION ALL
      SELECT "ciphertext" FROM "instance_credentials" WHERE "instance_id" = ${instanceId} AND NOT EXISTS (SELECT 1 FROM ins)`,
    );
    const row = rows[0];
    if (row) return this.open(instanceId, row.ciphertext);
    // A racing writer committed after this statement's snapshot was taken: read what it stored.
    const stored = await this.read(instanceId, db ?? this.prisma);
    if (!stored) throw new Error(`credentials of instance ${instanceId} were not stored`);
    return stored;
  }

  /** Deletes the instance's credentials (its objects and data are gone for good). */
  async forget(instanceId: string, db: Db = this.prisma): Promise<void> {
    await db.instanceCredentials.deleteMany({ where: { instanceId } });
  }

  /** The credentials to render into the instance's Secret: stored, else generated or adopted once (see the top). */
  async resolve(inst: ResolveInput): Promise<{ values: CredentialValues; source: CredentialsSource }> {
    // Never applied: generate and store in one statement (a row stored by an earlier attempt wins and is returned).
    if (inst.appliedGeneration === 0)
      return { values: await this.storeIfAbsent(inst.id, generateCredentials(inst.template)), source: "generated" };
    const stored = await this.read(inst.id);
    if (stored) return { values: stored, source: "stored" };
    const live = await inst.readLiveSecret();
    if (live) return { values: await this.storeIfAbsent(inst.id, live), source: "adopted" };
    // A template without credentials (Ghost) loses nothing: its (empty) set is simply stored.
    const fresh = generateCredentials(inst.template);
    if (Object.keys(fresh).length === 0) return { values: await this.storeIfAbsent(inst.id, fresh), source: "generated" };
    throw new CredentialsLostError(inst.secretName);
  }

  /**
   * Startup check: every key id named by a stored row must be configured, and each such key must
   * actually open one of its rows. Throws CredentialsKeyError naming the key id; never regenerates.
   */
  async verifyKeys(): Promise<{ rows: number; keyIds: string[] }> {
    const groups = await this.prisma.instanceCredentials.groupBy({ by: ["keyId"], _count: { _all: true } });
    const unknown = groups.filter((g) => !this.cipher.knows(g.keyId));
    if (unknown.length) {
      const list = unknown.map((g) => `${g.keyId} (${g._count._all} instances)`).join(", ");
      throw new CredentialsKeyError(
        `instance credentials in the database are encrypted with key id ${list}, which is not configured: the configured CREDENTIALS_KEY is ${this.cipher.currentKeyId}${
          this.cipher.keyIds.length > 1 ? ` and CREDENTIALS_OLD_KEYS ${this.cipher.keyIds.slice(1).join(", ")}` : ""
        }. Set the key those credentials were stored with (add the current one to CREDENTIALS_OLD_KEYS when rotating); credentials are never regenerated`,
        unknown[0]?.keyId,
      );
    }
    for (const g of groups) {
      const sample = await this.prisma.instanceCredentials.findFirst({ where: { keyId: g.keyId } });
      if (sample) this.open(sample.instanceId, sample.ciphertext);
    }
    return { rows: groups.reduce((n, g) => n + g._count._all, 0), keyIds: groups.map((g) => g.keyId) };
  }

  /**
   * Re-encrypts every row not under the current key, `batchSize` rows at a time. Idempotent: a second
   * run finds nothing to do; a row changed meanwhile (compare-and-set on its ciphertext) is left as is.
   */
  async reencryptAll(opts: { batchSize?: number } = {}): Promise<{ reencrypted: number; remaining: number }> {
    const batchSize = opts.batchSize ?? 100;
    let reencrypted = 0;
    let after = "";
    for (;;) {
      const rows = await this.prisma.instanceCredentials.findMany({
        where: { keyId: { not: this.cipher.currentKeyId }, instanceId: { gt: after } },
        orderBy: { instanceId: "asc" },
        take: batchSize,
      });
      if (!rows.length) break;
      const updates = rows.map((r) => {
        const plain = this.cipher.decrypt(r.ciphertext, aad(r.instanceId));
        return { instanceId: r.instanceId, old: r.ciphertext, ciphertext: this.cipher.encrypt(plain, aad(r.instanceId)) };
      });
      // One statement per batch; each row only if its ciphertext is still the one decrypted (compare-and-set).
      reencrypted += await this.prisma.$executeRaw`
        UPDATE "instance_credentials" c
           SET "ciphertext" = v.ct, "key_id" = ${this.cipher.currentKeyId}, "updated_at" = CURRENT_TIMESTAMP
          FROM unnest(${updates.map((u) => u.instanceId)}::text[], ${updates.map((u) => u.old)}::text[],
                      ${updates.map((u) => u.ciphertext)}::text[]) AS v(id, old, ct)
         WHERE c."instance_id" = v.id AND c."ciphertext" = v.old`;
      after = rows[rows.length - 1]?.instanceId ?? after;
    }
    const remaining = await this.prisma.instanceCredentials.count({ where: { keyId: { not: this.cipher.currentKeyId } } });
    return { reencrypted, remaining };
  }

  /**
   * Instances provisioned before credentials were stored here (applied, not terminated, no row): up
   * to `limit` of them, for the reconciler's adoption pass.
   */
  async unadopted(
    limit: number,
    afterId = "",
  ): Promise<
    Array<{ id: string; namespace: string; k8sName: string; appliedGeneration: number; service: { template: string; slug: string } }>
  > {
    return this.prisma.instance.findMany({
      where: {
        id: { gt: afterId },
        credentials: { is: null },
        appliedGeneration: { gt: 0 },
        status: { notIn: ["TERMINATED", "TERMINATING"] },
      },
      select: { id: true, namespace: true, k8sName: true, appliedGeneration: true, service: { select: { template: true, slug: true } } },
      orderBy: { id: "asc" },
      take: limit,
    });
  }

  private open(instanceId: string, ciphertext: string): CredentialValues {
    const plain = this.cipher.decrypt(ciphertext, aad(instanceId));
    return JSON.parse(plain) as CredentialValues;
  }
}

function sortKeys(values: CredentialValues): CredentialValues {
  return Object.fromEntries(Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export { CredentialsKeyError };

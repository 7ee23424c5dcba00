/**
 * Credentials are data, kept in the database (issue 13, item 1), on the emulator end to end:
 * generated once and stored encrypted; a deleted or edited Secret is restored with the same values
 * by the next apply (restart); instances provisioned before adopt their live Secret once; lost
 * credentials are never regenerated; a wrong key stops startup; rotation re-encrypts every row.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reencryptCredentials } from "../../src/cli/credentials-reencrypt.js";
import { buildContainer } from "../../src/container.js";
import { KINDS } from "../../src/kube/client.js";
import type { LiveSecret } from "../../src/kube/objects.js";
import { thirdPartyKubeConfig } from "../kube/helpers/workload-ops.js";
import { CredentialsCipher, CredentialsKeyError, credentialsKeyId } from "../../src/platform/credentials-cipher.js";
import { createLogger } from "../../src/platform/logger.js";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser, testConfig } from "../helpers/app.js";

const run = promisify(execFile);
const KEY_A = Buffer.alloc(32, 0xa1).toString("base64");
const KEY_B = Buffer.alloc(32, 0xb2).toString("base64");
const ID_A = credentialsKeyId(Buffer.alloc(32, 0xa1));
const ID_B = credentialsKeyId(Buffer.alloc(32, 0xb2));

let ctx: TestContext;
const plans: Record<string, string> = {};

beforeAll(async () => {
  ctx = await createTestContext({ env: { CREDENTIALS_KEY: KEY_A, ROLLOUT_TIMEOUT: "20s" } });
  for (const p of await ctx.container.db.prisma.plan.findMany({ include: { service: true } })) plans[`${p.service.slug}/${p.slug}`] = p.id;
});
afterAll(async () => {
  await ctx.close();
});

const prisma = () => ctx.container.db.prisma;
const kube = () => ctx.container.kube.client;
const settle = () => ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 20_000 });

/** kubectl from PATH when it runs here (the operator's tool); otherwise the same requests through client-node. */
const kubectlBin = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore", timeout: 20_000 });
    return "kubectl";
  } catch {
    return undefined;
  }
})();
const kubeconfig = () => path.join(ctx.config.db.dataDir, "kubeconfig");

async function deleteSecret(namespace: string, name: string): Promise<void> {
  if (kubectlBin) {
    const { stdout } = await run(kubectlBin, ["--kubeconfig", kubeconfig(), "-n", namespace, "delete", "secret", name]);
    expect(stdout.trim()).toBe(`secret "${name}" deleted`);
  } else {
    expect(await kube().delete({ ...KINDS.Secret, name, namespace })).toBe(true);
  }
  expect(await kube().find({ ...KINDS.Secret, name, namespace })).toBeUndefined();
}

/** `kubectl patch secret <name> --type merge -p {"data":{key: base64(value)}}`. */
async function editSecret(namespace: string, name: string, key: string, value: string): Promise<void> {
  const data = { [key]: Buffer.from(value).toString("base64") };
  if (kubectlBin) {
    await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig(),
      "-n",
      namespace,
      "patch",
      "secret",
      name,
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data }),
    ]);
  } else {
    const emulator = ctx.container.kube.emulator;
    if (!emulator) throw new Error("tests run against the emulator");
    const api = KubernetesObjectApi.makeApiClient(thirdPartyKubeConfig({ yaml: emulator.kubeconfigYaml() }));
    await api.patch(
      { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, data },
      undefined,
      undefined,
      "kubectl-patch",
      undefined,
      PatchStrategy.MergePatch,
    );
  }
  expect(await secretData(namespace, name)).toMatchObject({ [key]: value });
}

async function secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const s = await kube().find<LiveSecret>({ ...KINDS.Secret, name, namespace });
  if (!s) return undefined;
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

async function fundedUser(): Promise<TestUser> {
  const u = await buildUser(ctx);
  await ctx.container.services.ledger.post(prisma(), { userId: u.id, type: "TOPUP", amount: 10_000, reason: "test" });
  return u;
}

async function provision(u: TestUser, plan: string, instanceName: string) {
  const res = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plans[plan], instanceName });
  expect(res.status).toBe(201);
  await settle();
  const inst = res.body.instance as { id: string; namespace: string; resourceName: string; subdomain: string };
  expect(await status(inst.id)).toBe("RUNNING");
  return { ...inst, secret: `${inst.resourceName}-secret` };
}

async function status(id: string): Promise<string> {
  return (await prisma().instance.findUniqueOrThrow({ where: { id } })).status;
}

async function restart(u: TestUser, id: string): Promise<void> {
  const res = await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth);
  expect(res.status).toBe(202);
  await settle();
}

async function credentialsOf(u: TestUser, id: string) {
  const res = await ctx.api.get(`/api/instances/${id}/credentials`).set(u.auth);
  expect(res.status).toBe(200);
  return res.body.credentials;
}

async function eventsOf(id: string, type: string) {
  return prisma().instanceEvent.findMany({ where: { instanceId: id, type }, orderBy: { createdAt: "asc" } });
}

describe("n8n: the encryption key survives its Secret", () => {
  let u: TestUser;
  let inst: Awaited<ReturnType<typeof provision>>;
  let key: string;

  it("is generated once at provisioning and stored encrypted under the current key", async () => {
    u = await fundedUser();
    inst = await provision(u, "n8n/starter", "keeps its key");
    const row = await prisma().instanceCredentials.findUniqueOrThrow({ where: { instanceId: inst.id } });
    const live = await secretData(inst.namespace, inst.secret);
    key = live?.N8N_ENCRYPTION_KEY ?? "";
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(row.keyId).toBe(ID_A);
    expect(row.ciphertext.startsWith(`v1:${ID_A}:`)).toBe(true);
    expect(row.ciphertext).not.toContain(key);
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual({ N8N_ENCRYPTION_KEY: key });
    expect(await credentialsOf(u, inst.id)).toEqual({
      instanceId: inst.id,
      service: "n8n",
      url: `https://${inst.subdomain}`,
      secrets: { N8N_ENCRYPTION_KEY: key },
    });
  });

  it("kubectl delete secret, then POST restart: the same N8N_ENCRYPTION_KEY comes back", async () => {
    await deleteSecret(inst.namespace, inst.secret);
    // The endpoint reads the database: the Secret's absence changes nothing there.
    expect((await credentialsOf(u, inst.id)).secrets).toEqual({ N8N_ENCRYPTION_KEY: key });
    await restart(u, inst.id);
    expect(await status(inst.id)).toBe("RUNNING");
    expect(await secretData(inst.namespace, inst.secret)).toEqual({ N8N_ENCRYPTION_KEY: key });
    expect((await credentialsOf(u, inst.id)).secrets).toEqual({ N8N_ENCRYPTION_KEY: key });
    expect(await prisma().instanceCredentials.count({ where: { instanceId: inst.id } })).toBe(1);
  });

  it("an edited key is put back by the next apply", async () => {
    await editSecret(inst.namespace, inst.secret, "N8N_ENCRYPTION_KEY", "edited-by-hand");
    await restart(u, inst.id);
    expect(await secretData(inst.namespace, inst.secret)).toEqual({ N8N_ENCRYPTION_KEY: key });
    expect((await credentialsOf(u, inst.id)).secrets).toEqual({ N8N_ENCRYPTION_KEY: key });
  });

  it("a terminated instance's credentials are deleted with its data", async () => {
    const extra = await provision(u, "ghost/starter", "short lived");
    expect(await prisma().instanceCredentials.count({ where: { instanceId: extra.id } })).toBe(1);
    expect((await ctx.api.delete(`/api/instances/${extra.id}`).set(u.auth)).status).toBe(202);
    await settle();
    expect(await status(extra.id)).toBe("TERMINATED");
    expect(await prisma().instanceCredentials.count({ where: { instanceId: extra.id } })).toBe(0);
    // The n8n instance keeps its own.
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual({ N8N_ENCRYPTION_KEY: key });
  });
});

describe("PostgreSQL: the password survives its Secret", () => {
  it("an edited, then deleted Secret is restored with the same POSTGRES_PASSWORD", async () => {
    const u = await fundedUser();
    const inst = await provision(u, "postgresql/small", "keeps its password");
    const before = await credentialsOf(u, inst.id);
    expect(before.password).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const live = { POSTGRES_DB: "app", POSTGRES_PASSWORD: before.password, POSTGRES_USER: "app" };
    expect(await secretData(inst.namespace, inst.secret)).toEqual(live);

    await editSecret(inst.namespace, inst.secret, "POSTGRES_PASSWORD", "hunter2");
    await restart(u, inst.id);
    expect(await secretData(inst.namespace, inst.secret)).toEqual(live);
    expect(await credentialsOf(u, inst.id)).toEqual(before);

    await deleteSecret(inst.namespace, inst.secret);
    await restart(u, inst.id);
    expect(await status(inst.id)).toBe("RUNNING");
    expect(await secretData(inst.namespace, inst.secret)).toEqual(live);
    expect(await credentialsOf(u, inst.id)).toEqual(before);
  });
});

describe("instances provisioned before credentials were stored adopt their live Secret once", () => {
  it("the adoption pass stores the Secret's values, with an event; a second pass does nothing", async () => {
    const u = await fundedUser();
    const inst = await provision(u, "postgresql/small", "adopted db");
    const values = await secretData(inst.namespace, inst.secret);
    // As before this change: the values exist only in the Secret.
    await prisma().instanceCredentials.delete({ where: { instanceId: inst.id } });

    expect(await ctx.container.loops.reconciler.adoptCredentials()).toContain(inst.id);
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual(values);
    expect((await credentialsOf(u, inst.id)).password).toBe(values?.POSTGRES_PASSWORD);
    const events = await eventsOf(inst.id, "CREDENTIALS_ADOPTED");
    expect(events.map((e) => [e.level, e.message])).toEqual([
      ["INFO", `Stored the credentials of Secret ${inst.secret} (encrypted); the Secret is rendered from them from now on`],
    ]);
    expect(await ctx.container.loops.reconciler.adoptCredentials()).not.toContain(inst.id);
    expect(await eventsOf(inst.id, "CREDENTIALS_ADOPTED")).toHaveLength(1);
  });

  it("the credentials endpoint adopts at once when the pass has not reached the instance yet (right after an upgrade)", async () => {
    const u = await fundedUser();
    const inst = await provision(u, "postgresql/small", "read before the pass");
    const values = await secretData(inst.namespace, inst.secret);
    await prisma().instanceCredentials.delete({ where: { instanceId: inst.id } });

    const res = await ctx.api.get(`/api/instances/${inst.id}/credentials`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.credentials.password).toBe(values?.POSTGRES_PASSWORD);
    expect(res.body.credentials.username).toBe(values?.POSTGRES_USER);
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual(values);
    expect(await eventsOf(inst.id, "CREDENTIALS_ADOPTED")).toHaveLength(1);
    // Adopted once: neither the pass nor a second read adopts again.
    expect(await ctx.container.loops.reconciler.adoptCredentials()).not.toContain(inst.id);
    expect((await ctx.api.get(`/api/instances/${inst.id}/credentials`).set(u.auth)).body).toEqual(res.body);
    expect(await eventsOf(inst.id, "CREDENTIALS_ADOPTED")).toHaveLength(1);
  });

  it("an apply adopts too (a restart before the adoption pass ran), keeping the Secret's values", async () => {
    const u = await fundedUser();
    const inst = await provision(u, "n8n/starter", "adopted by restart");
    const values = await secretData(inst.namespace, inst.secret);
    await prisma().instanceCredentials.delete({ where: { instanceId: inst.id } });
    await restart(u, inst.id);
    expect(await status(inst.id)).toBe("RUNNING");
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual(values);
    expect(await secretData(inst.namespace, inst.secret)).toEqual(values);
    expect(await eventsOf(inst.id, "CREDENTIALS_ADOPTED")).toHaveLength(1);
  });
});

describe("lost credentials are never regenerated", () => {
  it("no row and no Secret: the restart FAILS with CREDENTIALS_LOST and no new key; restoring the Secret and restarting recovers", async () => {
    const u = await fundedUser();
    const inst = await provision(u, "n8n/starter", "lost key");
    const original = await secretData(inst.namespace, inst.secret);
    await prisma().instanceCredentials.delete({ where: { instanceId: inst.id } });
    await deleteSecret(inst.namespace, inst.secret);

    // The adoption pass finds nothing to adopt: it says so once, and generates nothing.
    expect(await ctx.container.loops.reconciler.adoptCredentials()).not.toContain(inst.id);
    await ctx.container.loops.reconciler.adoptCredentials();
    const message = `The instance's credentials are lost: none are stored and Secret ${inst.secret} is gone. New ones would not open its data, so none are generated; restore the Secret (e.g. from a backup), then restart the instance to adopt it`;
    expect((await eventsOf(inst.id, "CREDENTIALS_LOST")).map((e) => [e.level, e.message])).toEqual([["ERROR", message]]);
    // The endpoint says so too, and generates nothing.
    const lost = await ctx.api.get(`/api/instances/${inst.id}/credentials`).set(u.auth);
    expect(lost.status).toBe(409);
    expect(lost.body).toEqual(errorShape("INVALID_STATE", { message, details: { status: "RUNNING" } }));
    expect(await prisma().instanceCredentials.count({ where: { instanceId: inst.id } })).toBe(0);
    expect(await eventsOf(inst.id, "CREDENTIALS_LOST")).toHaveLength(1);

    await restart(u, inst.id);
    const row = await prisma().instance.findUniqueOrThrow({ where: { id: inst.id } });
    expect(row).toMatchObject({ status: "FAILED", statusMessage: message });
    expect(await secretData(inst.namespace, inst.secret)).toBeUndefined();
    expect(await prisma().instanceCredentials.count({ where: { instanceId: inst.id } })).toBe(0);
    expect(await eventsOf(inst.id, "CREDENTIALS_LOST")).toHaveLength(1);
    // It had run: its objects and data stay.
    expect(await kube().find({ ...KINDS.Deployment, name: inst.resourceName, namespace: inst.namespace })).toBeDefined();

    // The operator restores the Secret (from a backup) and restarts: adopted, RUNNING with the old key.
    await kube().apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: inst.secret, namespace: inst.namespace },
      type: "Opaque",
      data: Object.fromEntries(Object.entries(original ?? {}).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
    } as never);
    await restart(u, inst.id);
    expect(await status(inst.id)).toBe("RUNNING");
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual(original);
    expect((await credentialsOf(u, inst.id)).secrets).toEqual(original);
  });

  it("Ghost has no credentials to lose: its (empty) set is stored again", async () => {
    const u = await fundedUser();
    const inst = await provision(u, "ghost/starter", "nothing to lose");
    await prisma().instanceCredentials.delete({ where: { instanceId: inst.id } });
    await deleteSecret(inst.namespace, inst.secret);
    await restart(u, inst.id);
    expect(await status(inst.id)).toBe("RUNNING");
    expect(await ctx.container.services.credentials.read(inst.id)).toEqual({});
    expect(await secretData(inst.namespace, inst.secret)).toEqual({});
    expect(await eventsOf(inst.id, "CREDENTIALS_LOST")).toHaveLength(0);
  });
});

describe("keys: startup check and rotation", () => {
  const other = (env: Record<string, string>) =>
    buildContainer(testConfig(env), { db: ctx.testDb.db, kube: ctx.container.kube, logger: createLogger({ level: "silent" }) });

  it("a key that did not encrypt the stored credentials stops startup, naming the key id", async () => {
    const stored = await prisma().instanceCredentials.count();
    expect(stored).toBeGreaterThan(0);
    await expect(other({ CREDENTIALS_KEY: KEY_B })).rejects.toThrow(CredentialsKeyError);
    await expect(other({ CREDENTIALS_KEY: KEY_B })).rejects.toThrow(
      `instance credentials in the database are encrypted with key id ${ID_A} (${stored} instances), which is not configured: the configured CREDENTIALS_KEY is ${ID_B}.`,
    );
    // Nothing was regenerated or rewritten.
    expect(await prisma().instanceCredentials.count({ where: { keyId: ID_A } })).toBe(stored);
  });

  it("rotation: the new key with the old one in CREDENTIALS_OLD_KEYS starts; re-encryption moves every row, idempotently", async () => {
    const before = await prisma().instanceCredentials.findMany({ orderBy: { instanceId: "asc" } });
    const oldCipher = new CredentialsCipher(KEY_A);
    const plain = new Map(before.map((r) => [r.instanceId, oldCipher.decrypt(r.ciphertext, `instance_credentials:${r.instanceId}`)]));

    const rotated = await other({ CREDENTIALS_KEY: KEY_B, CREDENTIALS_OLD_KEYS: KEY_A });
    try {
      const first = await reencryptCredentials(rotated.services.credentials, { batchSize: 2 });
      expect(first).toEqual({ keyId: ID_B, reencrypted: before.length, remaining: 0 });
      expect(await reencryptCredentials(rotated.services.credentials, { batchSize: 2 })).toEqual({
        keyId: ID_B,
        reencrypted: 0,
        remaining: 0,
      });
    } finally {
      await rotated.close();
    }
    const after = await prisma().instanceCredentials.findMany({ orderBy: { instanceId: "asc" } });
    expect(after.map((r) => r.keyId)).toEqual(before.map(() => ID_B));
    const newCipher = new CredentialsCipher(KEY_B);
    for (const r of after) expect(newCipher.decrypt(r.ciphertext, `instance_credentials:${r.instanceId}`)).toBe(plain.get(r.instanceId));

    // The old key alone no longer opens them; the new key alone does.
    await expect(other({ CREDENTIALS_KEY: KEY_A })).rejects.toThrow(`encrypted with key id ${ID_B}`);
    const onlyNew = await other({ CREDENTIALS_KEY: KEY_B });
    await onlyNew.close();
  });
});

describe("the process", () => {
  it("exits 1 with a clear message, not a stack trace, when local mode's key file is damaged", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "minispod-badkey-"));
    const file = path.join(dataDir, "credentials.key");
    writeFileSync(file, "not-a-key\n");
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" };
    for (const k of ["DATABASE_URL", "TEST_DATABASE_URL", "CREDENTIALS_KEY", "K8S_MODE", "NODE_ENV"]) delete env[k];
    const child = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toBe(`Cannot start: ${file} does not hold 32 bytes of base64 (a CREDENTIALS_KEY)\n`);
  });
});

/**
 * Secrets never reach the logs: with every request logged at debug level, a walk through
 * register -> login -> refresh -> subscribe -> provision -> credentials leaves no password, token or
 * generated credential in the log output, nor the credentials key or a stored ciphertext.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACT_PATHS } from "../../src/platform/logger.js";
import { createTestContext, type TestContext } from "../helpers/app.js";

let ctx: TestContext;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[REDACTED]" } }, sink);
  ctx = await createTestContext({ overrides: { logger } });
});
afterAll(async () => {
  await ctx.close();
});

describe("logs", () => {
  it("contain requests but no passwords, tokens or generated credentials", async () => {
    const password = "a-very-secret-password-42";
    const reg = await ctx.api.post("/api/auth/register").send({ email: "logs@example.com", password, name: "Logs" });
    expect(reg.status).toBe(201);
    const login = await ctx.api.post("/api/auth/login").send({ email: "logs@example.com", password });
    const refreshed = await ctx.api.post("/api/auth/refresh").send({ refreshToken: login.body.refreshToken });
    const auth = { Authorization: `Bearer ${login.body.accessToken}` };
    await ctx.container.services.ledger.post(ctx.container.db.prisma, {
      userId: reg.body.user.id,
      type: "TOPUP",
      amount: 5000,
      reason: "t",
    });
    const plan = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "small", service: { slug: "postgresql" } } });
    const sub = await ctx.api.post("/api/subscriptions").set(auth).send({ planId: plan.id, instanceName: "secret db" });
    expect(sub.status).toBe(201);
    await ctx.container.loops.reconciler.runUntilIdle();
    const creds = await ctx.api.get(`/api/instances/${sub.body.instance.id}/credentials`).set(auth);
    expect(creds.status).toBe(200);

    // Local mode: the credentials key was generated into DATA_DIR; its id (not the key) is logged at start.
    const credentialsKey = readFileSync(path.join(ctx.config.db.dataDir, "credentials.key"), "utf8").trim();
    const stored = await ctx.container.db.prisma.instanceCredentials.findUniqueOrThrow({ where: { instanceId: sub.body.instance.id } });

    const log = lines.join("");
    expect(log).toContain("/api/subscriptions"); // requests are logged...
    expect(log).toContain(`"keyId":"${ctx.container.services.credentials.cipher.currentKeyId}"`);
    const secrets = [
      password,
      reg.body.accessToken,
      reg.body.refreshToken,
      login.body.accessToken,
      login.body.refreshToken,
      refreshed.body.accessToken,
      refreshed.body.refreshToken,
      creds.body.credentials.password,
      credentialsKey,
      stored.ciphertext,
    ];
    for (const secret of secrets) {
      expect(typeof secret).toBe("string");
      expect(log.includes(secret), `a secret of length ${secret.length} is in the logs`).toBe(false); // ...secrets are not
    }
  });
});

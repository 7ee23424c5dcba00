/**
 * The real app and container on a fresh database, for supertest. Factories create users directly
 * through the services (fast) and return their tokens.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Express } from "express";
import supertest from "supertest";
import { expect } from "vitest";
import { createApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config/index.js";
import { buildContainer, type Container, type ContainerOverrides } from "../../src/container.js";
import type { Clock } from "../../src/platform/clock.js";
import { createDatabase, type Database } from "../../src/platform/db/index.js";
import { RecordingInstanceSignal } from "./recording-signal.js";
import { recordContract } from "./contract.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

export const TEST_ADMIN = { email: "admin@test.minispod", password: "admin-password-123" };
export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret-0123";

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "minispod-test-")),
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    BASE_DOMAIN: "apps.test.minispod",
    K8S_MODE: "emulated",
    K8S_EMULATOR_POD_READY_DELAY: "0",
    BACKGROUND_LOOPS: "false",
    LOGIN_RATE_LIMIT_PER_MINUTE: "1000",
    REGISTER_RATE_LIMIT_PER_HOUR: "100000",
    // Tests run on the wall clock: a daily slot could fall inside one and add a backup it does not expect.
    // test/modules/backup-schedule.test.ts turns the schedule on, with its own clock.
    BACKUP_SCHEDULE_ENABLED: "false",
    ...env,
  });
}

export interface TestContext {
  config: Config;
  container: Container;
  app: Express;
  api: supertest.Agent;
  testDb: TestDatabase;
  /** Builds a second container (another "replica") on the same database. */
  replica(overrides?: ContainerOverrides): Promise<Container>;
  close(): Promise<void>;
}

export async function createTestContext(
  opts: { env?: Record<string, string>; clock?: Clock; overrides?: ContainerOverrides; onStatement?: (sql: string) => void } = {},
): Promise<TestContext> {
  const testDb = await createTestDatabase({ onStatement: opts.onStatement });
  const config = testConfig(opts.env);
  const container = await buildContainer(config, {
    db: testDb.db,
    clock: opts.clock,
    wrapSignal: (s) => new RecordingInstanceSignal(s),
    ...opts.overrides,
  });
  const app = createApp(container);
  recordContract(app);
  const replicas: Container[] = [];
  const extraDbs: Database[] = [];
  return {
    config,
    container,
    app,
    api: supertest.agent(app),
    testDb,
    async replica(overrides = {}) {
      if (!testDb.url) throw new Error("replicas need PostgreSQL (set TEST_DATABASE_URL)");
      const db = await createDatabase({ url: testDb.url });
      extraDbs.push(db);
      // Another replica: its own database pool, the same cluster.
      const c = await buildContainer(config, { db, clock: opts.clock, kube: container.kube, ...overrides });
      replicas.push(c);
      return c;
    },
    async close() {
      for (const r of replicas) await r.close();
      for (const d of extraDbs) await d.close().catch(() => {});
      await container.close();
      await testDb.drop();
    },
  };
}

let seq = 0;
export function uniqueEmail(prefix = "user"): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}@example.com`;
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  refreshToken: string;
  auth: { Authorization: string };
}

export async function buildUser(ctx: TestContext, overrides: { email?: string; password?: string; name?: string } = {}): Promise<TestUser> {
  const email = overrides.email ?? uniqueEmail();
  const password = overrides.password ?? "correct horse battery";
  const r = await ctx.container.services.auth.register({ email, password, name: overrides.name ?? "Test User" }, undefined);
  return {
    id: r.user.id,
    email,
    password,
    token: r.accessToken,
    refreshToken: r.refreshToken,
    auth: { Authorization: `Bearer ${r.accessToken}` },
  };
}

export async function buildAdmin(ctx: TestContext): Promise<TestUser> {
  const r = await ctx.container.services.auth.login({ email: TEST_ADMIN.email, password: TEST_ADMIN.password }, undefined);
  return {
    id: r.user.id,
    email: TEST_ADMIN.email,
    password: TEST_ADMIN.password,
    token: r.accessToken,
    refreshToken: r.refreshToken,
    auth: { Authorization: `Bearer ${r.accessToken}` },
  };
}

/** Matches the one error shape with the given code. */
export function errorShape(code: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message: expect.any(String), requestId: expect.any(String), ...extra } };
}

/** A new user with `credits` on their balance (one TOPUP ledger entry). */
export async function buildFundedUser(ctx: TestContext, credits = 10_000): Promise<TestUser> {
  const u = await buildUser(ctx);
  await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: credits, reason: "test" });
  return u;
}

/** The in-process Kubernetes API emulator of a test context (tests run against it). */
export function emulatorOf(ctx: TestContext) {
  const e = ctx.container.kube.emulator;
  if (!e) throw new Error("tests run against the emulator");
  return e;
}

/** Runs the reconciler until it has nothing left to do. */
export function settleReconciler(ctx: TestContext): Promise<void> {
  return ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 20_000 });
}

/** The catalog's plans (with their service) by `service/plan` slug, e.g. "n8n/starter". */
export async function plansBySlug(ctx: TestContext) {
  const plans = await ctx.container.db.prisma.plan.findMany({ include: { service: true } });
  return Object.fromEntries(plans.map((p) => [`${p.service.slug}/${p.slug}`, p]));
}

/**
 * What the backup, restore and stop/start suites share, for the suite's context (read at each call,
 * so it can be built before `beforeAll` creates it).
 */
export function backupTestKit(ctx: () => TestContext) {
  const settle = () => settleReconciler(ctx());
  return {
    prisma: () => ctx().container.db.prisma,
    emulator: () => emulatorOf(ctx()),
    settle,
    /** Backup passes (with the reconciler between them) until no backup is pending. */
    backupsDone: () => ctx().container.loops.backups.runUntilIdle({ timeoutMs: 20_000, between: settle }),
  };
}

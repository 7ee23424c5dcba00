import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseDurationMs } from "../src/config/index.js";

describe("config", () => {
  it("defaults to local mode: embedded database, emulated cluster, port 3000, 5 minute health interval", () => {
    const c = loadConfig({});
    expect(c.db.url).toBeUndefined();
    expect(c.db.poolSize).toBe(10);
    expect(c.kube.mode).toBe("emulated");
    expect(c.http.port).toBe(3000);
    expect(c.health.intervalMs).toBe(300_000);
    expect(c.quotaDefaults).toEqual({ maxInstances: 5, cpuMilli: 4000, memoryMb: 8192, storageGb: 50 });
    expect(c.kube.dangerouslySkipTlsVerify).toBe(false);
  });

  it("lists every problem at once", () => {
    let err: unknown;
    try {
      loadConfig({ PORT: "abc", HEALTH_INTERVAL: "soon", LOG_LEVEL: "loud" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/PORT/);
    expect(problems.join("\n")).toMatch(/HEALTH_INTERVAL: "soon" is not a duration/);
    expect(problems.join("\n")).toMatch(/LOG_LEVEL/);
  });

  it("requires a database, a 32-byte secret and a real cluster in production", () => {
    expect(() => loadConfig({ NODE_ENV: "production", K8S_MODE: "emulated", JWT_SECRET: "short" })).toThrow(ConfigError);
    try {
      loadConfig({ NODE_ENV: "production", K8S_MODE: "emulated", JWT_SECRET: "short" });
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        "DATABASE_URL: required when NODE_ENV=production (no embedded database)",
        "JWT_SECRET: required when NODE_ENV=production, at least 32 bytes",
        "K8S_MODE: the emulator is a test fixture; production needs a real cluster",
        "CREDENTIALS_KEY: required when NODE_ENV=production: 32 random bytes in base64 (e.g. `openssl rand -base64 32`)",
      ]);
    }
    const ok = loadConfig({
      NODE_ENV: "production",
      DATABASE_URL: "postgresql://u:p@db:5432/minispod",
      JWT_SECRET: "x".repeat(32),
      CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
    });
    expect(ok.kube.mode).toBe("cluster");
    expect(() =>
      loadConfig({
        NODE_ENV: "production",
        DATABASE_URL: "postgresql://u:p@db:5432/m",
        JWT_SECRET: "x".repeat(32),
        CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64"),
        K8S_SKIP_TLS_VERIFY: "true",
      }),
    ).toThrow("K8S_SKIP_TLS_VERIFY: never in production (the API server's certificate must be verified)");
  });

  it("takes the database pool's size, from 1 to 1000 connections", () => {
    expect(loadConfig({ DATABASE_POOL_SIZE: "4" }).db.poolSize).toBe(4);
    for (const bad of ["0", "1001", "2.5", "many"]) {
      expect(() => loadConfig({ DATABASE_POOL_SIZE: bad })).toThrow(/DATABASE_POOL_SIZE/);
    }
  });

  it("reads secrets from <NAME>_FILE", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cfg-"));
    writeFileSync(path.join(dir, "jwt"), `${"s".repeat(40)}\n`);
    const c = loadConfig({ JWT_SECRET_FILE: path.join(dir, "jwt") });
    expect(c.auth.jwtSecret).toBe("s".repeat(40));
  });

  it("parses durations", () => {
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("30s")).toBe(30_000);
    expect(parseDurationMs("5m")).toBe(300_000);
    expect(parseDurationMs("7d")).toBe(604_800_000);
    expect(parseDurationMs("1500")).toBe(1500);
    expect(parseDurationMs("5 minutes")).toBeUndefined();
  });
});

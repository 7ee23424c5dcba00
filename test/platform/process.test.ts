/**
 * The real process: `npm start`'s entry in local mode (embedded PGlite, emulator), then SIGTERM with
 * an open event stream and an in-flight request: the stream is ended, the request answered, and the
 * process exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net, { type AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill("SIGKILL");
});

function waitForLine(proc: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${buf}`)), ms);
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const line = buf.split("\n").find((l) => re.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

describe("process lifecycle", () => {
  it("starts in zero-setup local mode and shuts down gracefully on SIGTERM", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "minispod-proc-"));
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" };
    for (const k of ["DATABASE_URL", "TEST_DATABASE_URL", "JWT_SECRET", "ADMIN_PASSWORD", "K8S_MODE", "NODE_ENV"]) delete env[k];
    child = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const listening = await waitForLine(child, /MinisPod API listening/, 60_000);
    const port = Number(JSON.parse(listening).port);

    // Local mode announced itself and kept its generated secrets and kubeconfig in DATA_DIR.
    const secrets = JSON.parse(readFileSync(path.join(dataDir, "local-secrets.json"), "utf8"));
    expect(secrets.adminPassword).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(existsSync(path.join(dataDir, "kubeconfig"))).toBe(true);
    expect(existsSync(path.join(dataDir, "pglite"))).toBe(true);

    // The first start prints a short human-readable block: URL, docs, admin login, kubectl.
    while (!output.includes("get pods -A\n")) await new Promise((r) => setTimeout(r, 20));
    expect(output).toMatch(/ {2}Cluster: {2}kubectl --kubeconfig \S*kubeconfig get pods -A\n/);
    expect(output).toContain(`  API:      http://localhost:${port}/api\n`);
    expect(output).toContain(`  Docs:     http://localhost:${port}/docs`);
    expect(output).toContain("  Admin:    admin@minispod.local\n");
    expect(output).toContain(`  Password: ${secrets.adminPassword}\n`);

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const login = await fetch(`${base}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "admin@minispod.local", password: secrets.adminPassword }),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };

    // Subscribe (admins are users too) to have an instance whose event stream stays open.
    const auth = { authorization: `Bearer ${accessToken}`, "content-type": "application/json" };
    const me = (await (await fetch(`${base}/api/auth/me`, { headers: auth })).json()) as { user: { id: string } };
    await fetch(`${base}/api/admin/users/${me.user.id}/credits`, {
      method: "POST",
      headers: { ...auth, "Idempotency-Key": "p1" },
      body: JSON.stringify({ amount: 1000, reason: "test" }),
    });
    const plans = (await (await fetch(`${base}/api/services/postgresql`)).json()) as { service: { plans: Array<{ id: string }> } };
    const sub = await fetch(`${base}/api/subscriptions`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ planId: plans.service.plans[0]?.id, instanceName: "db" }),
    });
    expect(sub.status).toBe(201);
    const { instance } = (await sub.json()) as { instance: { id: string } };
    const stream = await fetch(`${base}/api/instances/${instance.id}/events`, { headers: { ...auth, accept: "text/event-stream" } });
    expect(stream.status).toBe(200);
    const streamText = stream.text();

    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    const inFlight = fetch(`${base}/api/services`, { headers: { "x-request-id": "last-request" } });
    child.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await streamText).toContain('data: {"type":"end","reason":"shutdown"}');
    expect(await exited).toBe(0);
    child = undefined;

    // The access log is written asynchronously; everything buffered was flushed before the exit:
    // the last request's line (method, url, status, duration, request id) and the last message.
    const lines = output
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map(
        (l) =>
          JSON.parse(l) as {
            msg: string;
            req?: { id: string; method: string; url: string; route: string };
            res?: { statusCode: number };
            responseTime?: number;
          },
      );
    const last = lines.find((l) => l.req?.id === "last-request");
    expect(last).toMatchObject({
      msg: "request completed",
      req: { method: "GET", url: "/api/services", route: "/api/services" },
      res: { statusCode: 200 },
    });
    expect(last?.responseTime).toEqual(expect.any(Number));
    expect(lines.at(-1)?.msg).toBe("shutdown complete");
  }, 90_000);

  it("exits 1 and says why when its port is taken, instead of running without listening", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "minispod-proc-"));
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "silent" };
    for (const k of ["DATABASE_URL", "TEST_DATABASE_URL", "JWT_SECRET", "ADMIN_PASSWORD", "K8S_MODE", "NODE_ENV"]) delete env[k];
    const proc = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => proc.once("exit", (c) => resolve(c)));
    child = undefined;
    await new Promise((resolve) => taken.close(resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`fatal: Error: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
  }, 90_000);
});

/**
 * The standalone runner as a user starts it (`npm run emulator -- ...` from the repository root):
 * it writes its kubeconfig, logs its URL, answers the real client through that kubeconfig, and on
 * SIGTERM stops and exits 0. Bad arguments exit 2 with the usage, starting nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
// Each test starts npm, tsx and the emulator: on a loaded machine that alone can take tens of seconds.
const PROCESS_TEST_TIMEOUT_MS = 120_000;
const children: ChildProcess[] = [];
afterAll(() => {
  // A failed test may leave npm running: kill its whole process group (npm, tsx, the emulator).
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(-c.pid, "SIGKILL");
});

function runEmulator(args: string[]): { child: ChildProcess; output: () => { stdout: string; stderr: string } } {
  // npm itself, as the README says to run it: signals must reach the emulator through npm and tsx.
  const child = spawn("npm", ["run", "--silent", "emulator", "--", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return { child, output: () => ({ stdout, stderr }) };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

function firstLine(child: ChildProcess, output: () => { stdout: string; stderr: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = output().stdout.split("\n")[0];
      if (output().stdout.includes("\n")) {
        cleanup();
        resolve(line);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`emulator exited before logging its URL: ${JSON.stringify(output())}`));
    };
    const cleanup = () => {
      child.stdout?.off("data", check);
      child.off("exit", onExit);
    };
    child.stdout?.on("data", check);
    child.once("exit", onExit);
    check();
  });
}

describe("npm run emulator", () => {
  it(
    "writes its kubeconfig, logs its URL, serves the API through that kubeconfig, and exits 0 on SIGTERM",
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "kube-emulator-cli-"));
      const kubeconfigPath = path.join(dir, "nested", "kubeconfig");
      const { child, output } = runEmulator(["--port", "0", "--kubeconfig", kubeconfigPath, "--pod-ready-delay", "0"]);

      const started = JSON.parse(await firstLine(child, output)) as { level: string; url: string; kubeconfig: string; msg: string };
      expect(started.level).toBe("info");
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(started.kubeconfig).toBe(kubeconfigPath);
      expect(started.msg).toContain(`kubectl --kubeconfig ${kubeconfigPath} get pods -A`);

      const kc = new KubeConfig();
      kc.loadFromString(readFileSync(kubeconfigPath, "utf8"));
      expect(kc.getCurrentCluster()?.server).toBe(started.url);
      const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
      expect(namespaces.items.map((n) => n.metadata?.name).sort()).toEqual(["default", "kube-node-lease", "kube-public", "kube-system"]);

      const exited = exitOf(child);
      child.kill("SIGTERM");
      expect(await exited).toEqual({ code: 0, signal: null });
      const lines = output()
        .stdout.trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; signal?: string });
      expect(lines.slice(1).map((l) => l.msg)).toEqual(["stopping", "stopped"]);
      expect(lines[1]?.signal).toBe("SIGTERM");
      await expect(fetch(`${started.url}/api/v1/namespaces`)).rejects.toThrow();
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    "refuses a bad argument with exit code 2 and the usage, writing no kubeconfig",
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "kube-emulator-cli-"));
      const kubeconfigPath = path.join(dir, "kubeconfig");
      const { child, output } = runEmulator(["--port", "abc", "--kubeconfig", kubeconfigPath]);
      expect(await exitOf(child)).toEqual({ code: 2, signal: null });
      expect(output().stderr).toBe(
        'kube-emulator: --port must be a non-negative integer, got "abc"\n' +
          "usage: npm run emulator -- --port <port> --kubeconfig <file> [--pod-ready-delay <ms>] [--tls-cert <pem> --tls-key <pem>]\n",
      );
      expect(output().stdout).toBe("");
      expect(existsSync(kubeconfigPath)).toBe(false);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

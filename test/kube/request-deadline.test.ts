/**
 * The cluster client's request timeout (K8S_REQUEST_TIMEOUT) bounds a whole call, the body included,
 * and a call that is done leaves no timer behind (AbortSignal.timeout's stayed armed until it fired,
 * seconds later, and then built an abort error for a request long finished).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { KubeUnavailableError } from "../../src/kube/kube-errors.js";
import { createKubeConfig } from "../../src/kube/kubeconfig.js";
import { tokenKubeconfig } from "./helpers/kubeconfig.js";

const VERSION = JSON.stringify({ major: "1", minor: "33", gitVersion: "v1.33.0", platform: "linux/amd64" });
let server: http.Server;
let url: string;
/** GET /version: answers whole, or (stall) sends its headers and half its body, then nothing. */
let stall = false;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": String(VERSION.length) });
    if (stall) res.write(VERSION.slice(0, 10));
    else res.end(VERSION);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(() => {
  stall = false;
  vi.restoreAllMocks();
});

function client(requestTimeoutMs: number): KubeClient {
  return new KubeClient({
    kubeConfig: createKubeConfig({ mode: "cluster", kubeconfigYaml: tokenKubeconfig(url) }),
    requestTimeoutMs,
    retry: { maxAttempts: 1 },
  });
}

describe("the cluster client's request timeout", () => {
  it("fails a call whose answer stops halfway, as a timeout", async () => {
    stall = true;
    const started = Date.now();
    const err = await client(200)
      .ping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("is cleared when a call is done: every timer it set for 20 calls was cleared", async () => {
    const TIMEOUT = 7_777;
    const armed: unknown[] = [];
    const cleared = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      const handle = realSetTimeout(fn, ms);
      if (ms === TIMEOUT) armed.push(handle);
      return handle;
    }) as typeof setTimeout);
    vi.spyOn(globalThis, "clearTimeout").mockImplementation(((handle?: Parameters<typeof clearTimeout>[0]) => {
      cleared.add(handle);
      realClearTimeout(handle);
    }) as typeof clearTimeout);
    const c = client(TIMEOUT);
    for (let i = 0; i < 20; i++) expect((await c.ping()).gitVersion).toBe("v1.33.0");
    expect(armed).toHaveLength(20);
    expect(armed.filter((h) => !cleared.has(h))).toEqual([]);
  });
});

/**
 * client-node 1.x makes a new agent per request; createKubeConfig makes every call of one client reuse
 * one keep-alive connection instead (a TLS handshake per API call would dominate against a real cluster).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { KubeClient } from "../../src/kube/client.js";
import { createKubeConfig } from "../../src/kube/kubeconfig.js";
import { tokenKubeconfig } from "./helpers/kubeconfig.js";

let server: http.Server;
let connections = 0;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ major: "1", minor: "33", gitVersion: "v1.33.0", platform: "linux/amd64" }));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("keep-alive", () => {
  it("serves sequential API calls over one connection", async () => {
    const client = new KubeClient({
      kubeConfig: createKubeConfig({ mode: "cluster", kubeconfigYaml: tokenKubeconfig(url) }),
      requestTimeoutMs: loadConfig({}).kube.requestTimeoutMs,
    });
    connections = 0;
    for (let i = 0; i < 5; i++) await client.ping();
    expect(connections).toBe(1);
  });
});

// HTTPS: with a certificate, the emulator serves TLS and its kubeconfig names the certificate as the
// cluster's CA (no insecure-skip-tls-verify), so a client that verifies the server can use it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeConfig, VersionApi } from "@kubernetes/client-node";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

function opensslAvailable(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!opensslAvailable())("the emulator over HTTPS (needs the openssl CLI to make a certificate)", () => {
  let kube: KubeEmulator;
  let cert: string;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "emulator-tls-"));
    // biome-ignore format: one openssl invocation
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=emulator-test", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { stdio: "ignore" });
    cert = readFileSync(path.join(dir, "cert.pem"), "utf8");
    kube = await KubeEmulator.start({ podReadyDelayMs: 0, tls: { cert, key: readFileSync(path.join(dir, "key.pem"), "utf8") } });
  });
  afterAll(async () => {
    await kube.stop();
  });

  it("writes an https kubeconfig with the certificate as CA, which a verifying client accepts", async () => {
    expect(kube.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const cluster = parse(kube.kubeconfigYaml()).clusters[0].cluster;
    expect(cluster).toEqual({ server: kube.url, "certificate-authority-data": Buffer.from(cert).toString("base64") });
    const kc = new KubeConfig();
    kc.loadFromString(kube.kubeconfigYaml());
    expect(kc.getCurrentCluster()?.skipTLSVerify).toBeFalsy();
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\./);
  });

  it("a client that does not trust the certificate is refused", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: kube.url, skipTLSVerify: false }],
      users: [{ name: "u", token: kube.token }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    await expect(kc.makeApiClient(VersionApi).getCode()).rejects.toThrow(/self[- ]signed certificate/);
  });
});

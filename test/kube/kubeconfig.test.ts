/**
 * The kubeconfig reader (src/kube/kubeconfig.ts) against plain HTTP(S) servers that record what each
 * request carried: bearer tokens (inline, from a file that rotates, from an exec plugin), the cluster's
 * CA and a client certificate over TLS, the in-cluster defaults, and the kubeconfigs it refuses.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { KubeForbiddenError, KubeUnavailableError } from "../../src/kube/kube-errors.js";
import { createKubeConfig } from "../../src/kube/kubeconfig.js";

const VERSION = { major: "1", minor: "33", gitVersion: "v1.33.0", platform: "linux/amd64" };

interface Seen {
  authorization?: string;
  impersonate?: string;
  clientCertCN?: string;
}

/** A /version server recording each request's Authorization header; `refuse` answers 401 that many times. */
function recordingServer(make: (handler: http.RequestListener) => http.Server) {
  const seen: Seen[] = [];
  let refuse = 0;
  const server = make((req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    seen.push({
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers["impersonate-user"] ? { impersonate: String(req.headers["impersonate-user"]) } : {}),
      ...(peer?.subject?.CN ? { clientCertCN: String(peer.subject.CN) } : {}),
    });
    res.setHeader("content-type", "application/json");
    if (refuse > 0) {
      refuse--;
      res.statusCode = 401;
      res.end(JSON.stringify({ kind: "Status", status: "Failure", reason: "Unauthorized", code: 401, message: "Unauthorized" }));
      return;
    }
    res.end(JSON.stringify(VERSION));
  });
  return {
    server,
    seen,
    refuseNext(n: number) {
      refuse = n;
    },
    async listen(): Promise<number> {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return (server.address() as AddressInfo).port;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const kubeconfig = (server: string, user: string, cluster = "") => `apiVersion: v1
kind: Config
current-context: t
clusters: [{name: c, cluster: {server: "${server}"${cluster}}}]
users: [{name: u, user: ${user}}]
contexts: [{name: t, context: {cluster: c, user: u}}]
`;

function clientFor(path: string) {
  return new KubeClient({
    kubeConfig: createKubeConfig({ mode: "cluster", kubeconfigPath: path }),
    requestTimeoutMs: 5_000,
    retry: { maxAttempts: 1 },
  });
}

describe("kubeconfig users over HTTP", () => {
  const rec = recordingServer((h) => http.createServer(h));
  let url = "";
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  beforeAll(async () => {
    url = `http://127.0.0.1:${await rec.listen()}`;
  });
  afterAll(() => rec.close());
  afterEach(() => {
    rec.seen.length = 0;
    vi.restoreAllMocks();
  });

  it("sends an inline token as a bearer token", async () => {
    await clientFor(file("inline", kubeconfig(url, "{token: abc}"))).ping();
    expect(rec.seen).toEqual([{ authorization: "Bearer abc" }]);
  });

  it("reads a tokenFile relative to the kubeconfig, re-reads it after a minute, and at once after a 401", async () => {
    file("token", "first\n");
    const client = clientFor(file("tokenfile", kubeconfig(url, "{tokenFile: token}")));
    await client.ping();
    file("token", "second\n");
    await client.ping();
    expect(rec.seen.map((s) => s.authorization)).toEqual(["Bearer first", "Bearer first"]);

    const later = Date.now() + 61_000;
    vi.spyOn(Date, "now").mockReturnValue(later);
    await client.ping();
    expect(rec.seen.at(-1)).toEqual({ authorization: "Bearer second" });

    file("token", "third\n");
    rec.refuseNext(1);
    await expect(client.ping()).rejects.toBeInstanceOf(KubeForbiddenError);
    await client.ping();
    expect(rec.seen.map((s) => s.authorization)).toEqual([
      "Bearer first",
      "Bearer first",
      "Bearer second",
      "Bearer second",
      "Bearer third",
    ]);
  });

  it("runs an exec credential plugin once while its token is valid, with KUBERNETES_EXEC_INFO", async () => {
    const runs = join(dir, "exec-runs");
    writeFileSync(runs, "");
    // What real plugins do: read KUBERNETES_EXEC_INFO, print an ExecCredential on stdout.
    const plugin = file(
      "plugin.cjs",
      `const { appendFileSync, readFileSync } = require("node:fs");
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
appendFileSync(${JSON.stringify(runs)}, [info.kind, info.spec.interactive, process.env.PLUGIN_FLAVOUR, process.argv[2]].join(" ") + "\\n");
const n = readFileSync(${JSON.stringify(runs)}, "utf8").split("\\n").filter(Boolean).length;
const expires = process.argv[2] === "expired" ? new Date(Date.now() - 1000) : new Date(Date.now() + 3600_000);
process.stdout.write(JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential",
  status: { token: "exec-" + n, expirationTimestamp: expires.toISOString() } }));
`,
    );
    const execCjs = (arg: string) =>
      `{exec: {apiVersion: client.authentication.k8s.io/v1, command: ${JSON.stringify(process.execPath)}, args: ["${plugin}", "${arg}"], env: [{name: PLUGIN_FLAVOUR, value: vanilla}]}}`;

    const valid = clientFor(file("exec-valid", kubeconfig(url, execCjs("valid"))));
    await Promise.all([valid.ping(), valid.ping()]);
    await valid.ping();
    expect(rec.seen.map((s) => s.authorization)).toEqual(["Bearer exec-1", "Bearer exec-1", "Bearer exec-1"]);
    expect(readFileSync(runs, "utf8")).toBe("ExecCredential false vanilla valid\n");

    const expired = clientFor(file("exec-expired", kubeconfig(url, execCjs("expired"))));
    await expired.ping();
    await expired.ping();
    expect(rec.seen.slice(3).map((s) => s.authorization)).toEqual(["Bearer exec-2", "Bearer exec-3"]);
  });

  it("hands a legacy auth-provider user to client-node's authenticator (oidc), and refuses an unknown one", async () => {
    const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const idToken = `${b64url({ alg: "none" })}.${b64url({ exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
    const oidc = `{auth-provider: {name: oidc, config: {client-id: minispod, id-token: "${idToken}", idp-issuer-url: "https://idp.invalid"}}}`;
    await clientFor(file("oidc", kubeconfig(url, oidc))).ping();
    expect(rec.seen).toEqual([{ authorization: `Bearer ${idToken}` }]);
    const unknown = clientFor(file("keystone", kubeconfig(url, "{auth-provider: {name: keystone}}")));
    await expect(unknown.ping()).rejects.toThrow(
      'kubeconfig user "u": auth-provider "keystone" is not supported; use an exec credential plugin',
    );
    expect(rec.seen).toHaveLength(1);
  });

  it("sends Impersonate-User for `as`, and reads client-node's `token-file` spelling too", async () => {
    file("legacy-token", "legacy\n");
    await clientFor(file("impersonate", kubeconfig(url, `{token-file: "${join(dir, "legacy-token")}", as: alice}`))).ping();
    expect(rec.seen).toEqual([{ authorization: "Bearer legacy", impersonate: "alice" }]);
  });

  it("fails clearly when the exec plugin fails, without sending the request", async () => {
    const client = clientFor(
      file("exec-missing", kubeconfig(url, `{exec: {apiVersion: client.authentication.k8s.io/v1, command: /nonexistent/plugin}}`)),
    );
    await expect(client.ping()).rejects.toThrow(/kubeconfig exec plugin "\/nonexistent\/plugin" failed/);
    expect(rec.seen).toEqual([]);
  });
});

describe("kubeconfigs that are refused or defaulted", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  const load = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return () => createKubeConfig({ mode: "cluster", kubeconfigPath: join(dir, name) });
  };

  it("refuses basic auth, proxies, half a client certificate and unknown contexts", () => {
    expect(load("basic", kubeconfig("https://k:6443", "{username: a, password: b}"))).toThrow(
      'kubeconfig user "u": basic authentication (username/password) is not supported',
    );
    expect(load("proxy", kubeconfig("https://k:6443", "{token: t}", ", proxy-url: http://proxy:3128"))).toThrow(
      'kubeconfig cluster "c": proxy-url is not supported',
    );
    expect(load("half", kubeconfig("https://k:6443", "{client-certificate-data: YQ==}"))).toThrow(
      'kubeconfig user "u": a client certificate needs its key, and a key its certificate',
    );
    expect(() =>
      createKubeConfig({ mode: "cluster", kubeconfigYaml: kubeconfig("https://k:6443", "{token: t}"), context: "nope" }),
    ).toThrow('kubeconfig has no context "nope"');
    expect(load("yaml", "clusters: [")).toThrow(/kubeconfig is not valid YAML/);
  });

  it("in-cluster: the service host and port, an IPv6 host in brackets, TLS verified", () => {
    const env = { HOME: dir, KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    expect(createKubeConfig({ mode: "cluster" }, env).getCurrentCluster()).toEqual({
      name: "inCluster",
      server: "https://10.96.0.1:443",
      skipTLSVerify: false,
    });
    expect(createKubeConfig({ mode: "cluster" }, { HOME: dir, KUBERNETES_SERVICE_HOST: "fd00::1" }).getCurrentCluster().server).toBe(
      "https://[fd00::1]:443",
    );
  });
});

function opensslAvailable(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!opensslAvailable())("kubeconfig TLS (needs the openssl CLI)", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-tls-"));
  const pem = (name: string) => readFileSync(join(dir, name));
  let rec: ReturnType<typeof recordingServer>;
  let url = "";

  beforeAll(async () => {
    const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run("req", "-x509", ...ec, "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt");
    run("req", ...ec, "-subj", "/CN=apiserver", "-keyout", "server.key", "-out", "server.csr");
    writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\n");
    run(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    );
    run("req", ...ec, "-subj", "/CN=minispod-user", "-keyout", "client.key", "-out", "client.csr");
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", "client.crt");
    rec = recordingServer((h) =>
      https.createServer(
        { key: pem("server.key"), cert: pem("server.crt"), ca: pem("ca.crt"), requestCert: true, rejectUnauthorized: true },
        h,
      ),
    );
    url = `https://127.0.0.1:${await rec.listen()}`;
  });
  afterAll(() => rec.close());

  it("verifies the server against the kubeconfig's CA (data or file) and presents the client certificate", async () => {
    const b64 = (name: string) => pem(name).toString("base64");
    const inline = join(dir, "inline");
    writeFileSync(
      inline,
      kubeconfig(
        url,
        `{client-certificate-data: ${b64("client.crt")}, client-key-data: ${b64("client.key")}}`,
        `, certificate-authority-data: ${b64("ca.crt")}`,
      ),
    );
    await clientFor(inline).ping();
    const files = join(dir, "files");
    writeFileSync(files, kubeconfig(url, "{client-certificate: client.crt, client-key: client.key}", ", certificate-authority: ca.crt"));
    await clientFor(files).ping();
    expect(rec.seen).toEqual([{ clientCertCN: "minispod-user" }, { clientCertCN: "minispod-user" }]);
  });

  it("refuses a server its CA did not sign", async () => {
    const untrusted = join(dir, "untrusted");
    writeFileSync(untrusted, kubeconfig(url, "{client-certificate: client.crt, client-key: client.key}"));
    const err = await clientFor(untrusted)
      .ping()
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(KubeUnavailableError);
    expect(String((err as Error).message)).toMatch(/self[- ]signed certificate|unable to (get|verify)/);
  });
});

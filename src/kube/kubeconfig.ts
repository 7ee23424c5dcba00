import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { Authenticator } from "@kubernetes/client-node/dist/auth.js";
import { type Cluster, newClusters, newContexts, newUsers, type User } from "@kubernetes/client-node/dist/config_types.js";

/**
 * Reading a kubeconfig (or the in-cluster service account) into what every request to the API
 * server needs: its URL, a keep-alive agent with the TLS material, and the Authorization header.
 *
 * @kubernetes/client-node reads the kubeconfig: its entry parsers (`newClusters`, `newUsers`,
 * `newContexts`) and, for the legacy `auth-provider` users (oidc, azure, gcp), its authenticators,
 * loaded only when a kubeconfig names one. Those modules are imported one by one because the
 * package's index (and its KubeConfig class, which imports the index) loads the generated API
 * classes and ~800 models: ~75 MB resident and 0.6 s at start for a client that sends plain JSON.
 *
 * Ours on top: the keep-alive pool per set of TLS material, token and certificate files re-read at
 * most once a minute, and exec credential plugins run once per credential (KUBERNETES_EXEC_INFO set,
 * concurrent requests sharing one run, cached until `expirationTimestamp`) — client-node's own exec
 * support runs the plugin again for every request whose credential has no expiry.
 * Refused with a clear error rather than half-supported: `username`/`password` and `proxy-url`.
 */

export interface KubeConfigOptions {
  /** `emulated`: the built-in emulator's kubeconfig (`kubeconfigYaml`) is required. */
  mode: "emulated" | "cluster";
  /** Explicit kubeconfig file (KUBECONFIG_PATH). */
  kubeconfigPath?: string;
  /** Kubeconfig content (the emulator passes its own). */
  kubeconfigYaml?: string;
  /** Context to use instead of the file's current-context. */
  context?: string;
  /** Disable TLS verification of the API server (K8S_SKIP_TLS_VERIFY). Unsafe outside development. */
  skipTlsVerify?: boolean;
  /**
   * Production: the API server must be `https://` with its certificate verified — a kubeconfig whose
   * cluster says `insecure-skip-tls-verify` (or a plain-http server) is refused, as is `skipTlsVerify`.
   */
  requireVerifiedTls?: boolean;
}

export interface KubeCluster {
  name: string;
  /** The API server's base URL, without a trailing slash. */
  server: string;
  skipTLSVerify: boolean;
}

/** What one request carries: the connection pool and the headers that authenticate it. */
export interface KubeRequestAuth {
  agent: HttpAgent;
  headers: Record<string, string>;
}

/** A user's exec credential plugin (`users[].user.exec`). */
interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  provideClusterInfo: boolean;
}

type Source = { readonly data: Buffer } | { readonly file: string };

interface ClusterEntry extends KubeCluster {
  ca?: Source;
  tlsServerName?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  cert?: Source;
  key?: Source;
  exec?: ExecConfig;
  /** `as`: the Impersonate-User header. */
  impersonate?: string;
  /** A legacy auth-provider user, as client-node's authenticators take it. */
  provider?: User;
}

/** An exec plugin's answer, kept until it expires. */
interface ExecCredential {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** ms since the epoch; undefined: valid until the process ends (as client-go keeps it). */
  expiresAt?: number;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Token, CA and certificate files are re-read at most this often (they rotate on disk). */
const FILE_TTL_MS = 60_000;
/** Refresh an exec credential this long before it expires (a request in flight must not carry a stale one). */
const EXEC_EXPIRY_SKEW_MS = 10_000;
const EXEC_TIMEOUT_MS = 30_000;

/**
 * One kubeconfig context, resolved: the current cluster and user. Each call of `createKubeConfig`
 * returns a new, independent instance; nothing switches contexts on a shared one.
 */
export class KubeConfig {
  private pool?: { agent: HttpAgent; ca?: Buffer; cert?: Buffer; key?: Buffer };
  private readonly files = new Map<string, { data: Buffer; readAt: number }>();
  private execCache?: ExecCredential;
  private execPending?: Promise<ExecCredential>;
  private provider?: Promise<Authenticator>;
  private tokenText?: { data: Buffer; token: string };

  constructor(
    private readonly cluster: ClusterEntry,
    private readonly user: UserEntry,
    private readonly now: () => number = () => Date.now(),
  ) {}

  getCurrentCluster(): KubeCluster {
    return { name: this.cluster.name, server: this.cluster.server, skipTLSVerify: this.cluster.skipTLSVerify };
  }

  /**
   * The agent and headers for the next request. The agent is one keep-alive pool per set of TLS
   * material, so every call reuses one connection (a TLS handshake per API call would dominate
   * against a real cluster); a rotated CA file or client certificate gets a new pool.
   */
  async requestAuth(): Promise<KubeRequestAuth> {
    const headers: Record<string, string> = {};
    let cert = this.user.cert ? this.read(this.user.cert) : undefined;
    let key = this.user.key ? this.read(this.user.key) : undefined;
    const token = this.user.token ?? (this.user.tokenFile ? this.fileToken(this.user.tokenFile) : undefined);
    if (this.user.exec) {
      const cred = await this.execCredential(this.user.exec);
      if (cred.token) headers.authorization = `Bearer ${cred.token}`;
      cert = cred.cert ?? cert;
      key = cred.key ?? key;
    } else if (this.user.provider) {
      const user = this.user.provider;
      this.provider ??= loadAuthProvider(user).catch((err: unknown) => {
        this.provider = undefined;
        throw err;
      });
      const opts: { headers: Record<string, string> } = { headers: {} };
      await (await this.provider).applyAuthentication(user, opts);
      if (opts.headers.Authorization) headers.authorization = opts.headers.Authorization;
    }
    // A token in the kubeconfig wins, as in client-node and kubectl.
    if (token) headers.authorization = `Bearer ${token}`;
    if (this.user.impersonate) headers["impersonate-user"] = this.user.impersonate;
    return { agent: this.agent(cert, key), headers };
  }

  /** Forget cached credentials and files (after a 401, the next request reads or fetches fresh ones). */
  invalidateCredentials(): void {
    this.execCache = undefined;
    this.files.clear();
  }

  private agent(cert: Buffer | undefined, key: Buffer | undefined): HttpAgent {
    if (!this.cluster.server.startsWith("https:")) {
      this.pool ??= { agent: new HttpAgent({ keepAlive: true }) };
      return this.pool.agent;
    }
    const ca = this.cluster.ca ? this.read(this.cluster.ca) : undefined;
    const same = (a: Buffer | undefined, b: Buffer | undefined) => a === b || (a !== undefined && b !== undefined && a.equals(b));
    const pool = this.pool;
    if (pool && same(pool.ca, ca) && same(pool.cert, cert) && same(pool.key, key)) {
      // Remember the buffers just compared, so the next request compares by reference.
      Object.assign(pool, { ca, cert, key });
      return pool.agent;
    }
    // Rotated TLS material: the old pool's connections authenticated with what is no longer current.
    // A request still on one of them fails as a connection reset, which the client retries.
    pool?.agent.destroy();
    const agent = new HttpsAgent({
      keepAlive: true,
      rejectUnauthorized: !this.cluster.skipTLSVerify,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(this.cluster.tlsServerName ? { servername: this.cluster.tlsServerName } : {}),
    });
    this.pool = { agent, ca, cert, key };
    return agent;
  }

  /** A token file's text, decoded once per read of the file (not once per request). */
  private fileToken(file: string): string {
    const data = this.read({ file });
    if (this.tokenText?.data !== data) this.tokenText = { data, token: data.toString("utf8").trim() };
    return this.tokenText.token;
  }

  /**
   * Inline data as given; a file re-read at most once a minute (projected service-account tokens and
   * certificates rotate on disk; client-go re-reads its token file on the same schedule).
   */
  private read(source: Source): Buffer {
    if ("data" in source) return source.data;
    const cached = this.files.get(source.file);
    if (cached && this.now() - cached.readAt < FILE_TTL_MS) return cached.data;
    const data = readFileSync(source.file);
    // Unchanged content keeps the cached Buffer, so the agent check above stays a reference compare.
    this.files.set(source.file, { data: cached?.data.equals(data) ? cached.data : data, readAt: this.now() });
    return this.files.get(source.file)!.data;
  }

  private async execCredential(exec: ExecConfig): Promise<ExecCredential> {
    const cached = this.execCache;
    if (cached && (cached.expiresAt === undefined || cached.expiresAt - EXEC_EXPIRY_SKEW_MS > this.now())) return cached;
    // Concurrent requests share one run of the plugin.
    const ca = exec.provideClusterInfo && this.cluster.ca ? this.read(this.cluster.ca) : undefined;
    this.execPending ??= runExec(exec, this.cluster, ca)
      .then((cred) => {
        this.execCache = cred;
        return cred;
      })
      .finally(() => {
        this.execPending = undefined;
      });
    return this.execPending;
  }
}

function runExec(exec: ExecConfig, cluster: ClusterEntry, ca: Buffer | undefined): Promise<ExecCredential> {
  const info = {
    apiVersion: exec.apiVersion,
    kind: "ExecCredential",
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
              "insecure-skip-tls-verify": cluster.skipTLSVerify,
              ...(ca ? { "certificate-authority-data": ca.toString("base64") } : {}),
            },
          }
        : {}),
    },
  };
  return new Promise((resolve, reject) => {
    execFile(
      exec.command,
      exec.args,
      { env: { ...process.env, ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) }, timeout: EXEC_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        // The plugin's stderr may carry hints, never its credential (that is stdout): keep a short tail.
        if (err) return reject(new Error(`kubeconfig exec plugin "${exec.command}" failed: ${err.message} ${stderr.slice(-300)}`.trim()));
        let status:
          | { token?: unknown; clientCertificateData?: unknown; clientKeyData?: unknown; expirationTimestamp?: unknown }
          | undefined;
        try {
          status = (JSON.parse(stdout) as { status?: typeof status }).status;
        } catch {
          return reject(new Error(`kubeconfig exec plugin "${exec.command}" printed no ExecCredential JSON`));
        }
        const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
        const token = str(status?.token);
        const cert = str(status?.clientCertificateData);
        const key = str(status?.clientKeyData);
        if (!token && !(cert && key)) {
          return reject(new Error(`kubeconfig exec plugin "${exec.command}" returned neither a token nor a client certificate and key`));
        }
        const expires = str(status?.expirationTimestamp);
        const expiresAt = expires ? Date.parse(expires) : undefined;
        resolve({
          ...(token ? { token } : {}),
          ...(cert && key ? { cert: Buffer.from(cert), key: Buffer.from(key) } : {}),
          ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}),
        });
      },
    );
  });
}

/**
 * Build a KubeConfig once, at startup. Order for `cluster` mode: explicit yaml, explicit path,
 * the default kubeconfig ($KUBECONFIG or ~/.kube/config), in-cluster service account when
 * KUBERNETES_SERVICE_HOST is set — and otherwise a clear error, never a silent fallback to
 * http://localhost:8080.
 */
export function createKubeConfig(opts: KubeConfigOptions, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = loadKubeConfig(opts, env);
  if (opts.requireVerifiedTls) {
    const cluster = kc.getCurrentCluster();
    if (opts.skipTlsVerify) throw new Error("TLS verification of the Kubernetes API server cannot be skipped here (K8S_SKIP_TLS_VERIFY)");
    if (!cluster.server.startsWith("https://"))
      throw new Error(`the Kubernetes API server must be https:// with a verified certificate (kubeconfig cluster "${cluster.name}")`);
    if (cluster.skipTLSVerify)
      throw new Error(
        `kubeconfig cluster "${cluster.name}" skips TLS verification (insecure-skip-tls-verify); give it the API server's CA instead`,
      );
  }
  return kc;
}

function loadKubeConfig(opts: KubeConfigOptions, env: NodeJS.ProcessEnv): KubeConfig {
  if (opts.mode === "emulated") {
    if (!opts.kubeconfigYaml) throw new Error("emulated mode needs the emulator's kubeconfig (kubeconfigYaml)");
    return fromYaml(opts.kubeconfigYaml, undefined, opts);
  }
  if (opts.kubeconfigYaml) return fromYaml(opts.kubeconfigYaml, undefined, opts);
  if (opts.kubeconfigPath) {
    if (!existsSync(opts.kubeconfigPath)) throw new Error(`kubeconfig not found: ${opts.kubeconfigPath}`);
    return fromFile(opts.kubeconfigPath, opts);
  }
  const home = join(env.HOME ?? homedir(), ".kube", "config");
  if (env.KUBECONFIG) return fromFile(env.KUBECONFIG.split(":")[0]!, opts);
  if (existsSync(home)) return fromFile(home, opts);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env, opts);
  throw new Error("no Kubernetes configuration: set KUBECONFIG_PATH, provide ~/.kube/config or $KUBECONFIG, or run in-cluster");
}

/** The pod's service account, as client-go's rest.InClusterConfig reads it. */
function inCluster(env: NodeJS.ProcessEnv, opts: KubeConfigOptions): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const server = `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const cluster: ClusterEntry = {
    name: "inCluster",
    server,
    skipTLSVerify: opts.skipTlsVerify === true,
    ...(opts.skipTlsVerify ? {} : { ca: { file: join(SERVICE_ACCOUNT_DIR, "ca.crt") } }),
  };
  return new KubeConfig(cluster, { tokenFile: join(SERVICE_ACCOUNT_DIR, "token") });
}

function fromFile(file: string, opts: KubeConfigOptions): KubeConfig {
  return fromYaml(readFileSync(file, "utf8"), dirname(file), opts);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const strOf = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

const requireModule = createRequire(import.meta.url);
let yamlParse: ((text: string) => unknown) | undefined;
/**
 * The YAML parser, loaded on the first kubeconfig file: a server in a pod (its service account, no
 * kubeconfig) never loads it, and it cost ~9 MB of RSS.
 */
function parseYaml(text: string): unknown {
  yamlParse ??= (requireModule("yaml") as typeof import("yaml")).parse;
  return yamlParse(text);
}

function fromYaml(text: string, baseDir: string | undefined, opts: KubeConfigOptions): KubeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`kubeconfig is not valid YAML: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new Error("kubeconfig is not a YAML mapping");
  // client-node's entry parsers: the kubeconfig's field names, and a clear error for a malformed entry.
  const contexts = newContexts(doc.contexts);
  const contextName = opts.context ?? strOf(doc["current-context"]);
  if (!contextName) throw new Error("kubeconfig has no current-context");
  const context = contexts.find((c) => c.name === contextName);
  if (!context) throw new Error(`kubeconfig has no context "${contextName}"`);
  const c = newClusters(doc.clusters).find((x) => x.name === context.cluster);
  if (!c) throw new Error(`kubeconfig context "${contextName}" names no known cluster`);
  const users = newUsers(doc.users);
  const u = context.user ? users.find((x) => x.name === context.user) : undefined;
  if (context.user && !u) throw new Error(`kubeconfig context "${contextName}" names unknown user "${context.user}"`);
  // kubectl's `tokenFile`, which client-node's parser does not read (it knows only `token-file`).
  const rawUser = Array.isArray(doc.users) ? (doc.users as unknown[]).find((x) => isObj(x) && x.name === context.user) : undefined;
  const tokenFile = isObj(rawUser) && isObj(rawUser.user) ? strOf(rawUser.user.tokenFile) : undefined;
  const path = (p: string) => (baseDir && !isAbsolute(p) ? join(baseDir, p) : p);
  return new KubeConfig(clusterOf(c, path, opts), u ? userOf(u, tokenFile, path) : {});
}

function source(data: string | null | undefined, file: string | null | undefined, path: (p: string) => string): Source | undefined {
  if (data) return { data: Buffer.from(data, "base64") };
  return file ? { file: path(file) } : undefined;
}

function clusterOf(c: Cluster, path: (p: string) => string, opts: KubeConfigOptions): ClusterEntry {
  if (c.proxyUrl) throw new Error(`kubeconfig cluster "${c.name}": proxy-url is not supported`);
  const ca = opts.skipTlsVerify ? undefined : source(c.caData, c.caFile, path);
  return {
    name: c.name,
    server: c.server.replace(/\/+$/, ""),
    skipTLSVerify: opts.skipTlsVerify === true || c.skipTLSVerify,
    ...(ca ? { ca } : {}),
    ...(c.tlsServerName ? { tlsServerName: c.tlsServerName } : {}),
  };
}

function userOf(u: User, tokenFile: string | undefined, path: (p: string) => string): UserEntry {
  if (u.username || u.password) {
    throw new Error(`kubeconfig user "${u.name}": basic authentication (username/password) is not supported`);
  }
  const cert = source(u.certData, u.certFile, path);
  const key = source(u.keyData, u.keyFile, path);
  if (Boolean(cert) !== Boolean(key)) {
    throw new Error(`kubeconfig user "${u.name}": a client certificate needs its key, and a key its certificate`);
  }
  const provider = u.authProvider as { name?: string; config?: Record<string, unknown> } | null | undefined;
  const exec = isObj(u.exec) ? u.exec : isObj(provider?.config?.exec) ? (provider.config.exec as Obj) : undefined;
  const providerTokenFile = strOf(provider?.config?.tokenFile);
  return {
    ...(u.token ? { token: u.token.trim() } : {}),
    ...(tokenFile || providerTokenFile ? { tokenFile: path((tokenFile ?? providerTokenFile)!) } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(exec ? { exec: execOf(exec, u.name, path) } : {}),
    ...(u.impersonateUser ? { impersonate: u.impersonateUser } : {}),
    ...(provider && !exec && !providerTokenFile ? { provider: u } : {}),
  };
}

function execOf(e: Obj, user: string, path: (p: string) => string): ExecConfig {
  const command = strOf(e.command);
  if (!command) throw new Error(`kubeconfig user "${user}": exec has no command`);
  const env: Record<string, string> = {};
  for (const v of Array.isArray(e.env) ? e.env : []) if (isObj(v) && typeof v.name === "string") env[v.name] = String(v.value ?? "");
  return {
    apiVersion: strOf(e.apiVersion) ?? "client.authentication.k8s.io/v1",
    // A bare command name is looked up on PATH, as kubectl does; a relative path is the kubeconfig's.
    command: command.includes("/") ? path(command) : command,
    args: Array.isArray(e.args) ? e.args.map(String) : [],
    env,
    provideClusterInfo: e.provideClusterInfo === true,
  };
}

/**
 * client-node's authenticator for a legacy `auth-provider` user, imported on first use (the OIDC one
 * brings an OpenID client library along).
 */
async function loadAuthProvider(user: User): Promise<Authenticator> {
  const name = (user.authProvider as { name?: string } | undefined)?.name;
  let authenticator: Authenticator | undefined;
  if (name === "oidc") authenticator = new (await import("@kubernetes/client-node/dist/oidc_auth.js")).OpenIDConnectAuth();
  else if (name === "azure") authenticator = new (await import("@kubernetes/client-node/dist/azure_auth.js")).AzureAuth();
  else if (name === "gcp") authenticator = new (await import("@kubernetes/client-node/dist/gcp_auth.js")).GoogleCloudPlatformAuth();
  if (!authenticator?.isAuthProvider(user)) {
    throw new Error(
      `kubeconfig user "${user.name}": auth-provider "${name ?? "(unnamed)"}" is not supported; use an exec credential plugin`,
    );
  }
  return authenticator;
}

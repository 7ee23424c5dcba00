import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

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

/**
 * Build a KubeConfig once, at startup. Order for `cluster` mode: explicit yaml, explicit path,
 * the default kubeconfig ($KUBECONFIG or ~/.kube/config), in-cluster service account when
 * KUBERNETES_SERVICE_HOST is set — and otherwise a clear error, never client-node's silent
 * fallback to http://localhost:8080.
 *
 * Every call returns a new, independent KubeConfig; the client never switches contexts on a
 * shared instance (concurrent callers would otherwise talk to each other's cluster).
 */
export function createKubeConfig(opts: KubeConfigOptions, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = loadKubeConfig(opts, env);
  if (opts.requireVerifiedTls) {
    const cluster = kc.getCurrentCluster();
    if (opts.skipTlsVerify) throw new Error("TLS verification of the Kubernetes API server cannot be skipped here (K8S_SKIP_TLS_VERIFY)");
    if (!cluster?.server.startsWith("https://"))
      throw new Error(`the Kubernetes API server must be https:// with a verified certificate (kubeconfig cluster "${cluster?.name}")`);
    if (cluster.skipTLSVerify)
      throw new Error(
        `kubeconfig cluster "${cluster.name}" skips TLS verification (insecure-skip-tls-verify); give it the API server's CA instead`,
      );
  }
  return withKeepAlive(kc);
}

/**
 * client-node 1.x builds a new http(s).Agent for every request, so every API call pays a TCP (and,
 * against a real cluster, a TLS) handshake. Reuse one keep-alive agent per set of TLS settings; a
 * change of CA or client certificate (e.g. a rotated in-cluster certificate) gets a new agent.
 */
type AgentFactory = (cluster: { server?: string; proxyUrl?: string } | null, agentOptions: object) => unknown;

export function withKeepAlive(kc: KubeConfig): KubeConfig {
  // `createAgent` is private in the typings but is the one place client-node makes agents.
  const target = kc as unknown as { createAgent: AgentFactory };
  const create = target.createAgent.bind(kc);
  const agents = new Map<string, unknown>();
  target.createAgent = (cluster, agentOptions) => {
    const o = agentOptions as Record<string, unknown>;
    const key = JSON.stringify([cluster?.server, cluster?.proxyUrl, o.ca, o.cert, o.key, o.pfx, o.rejectUnauthorized, o.servername]);
    let agent = agents.get(key);
    if (!agent) {
      agent = create(cluster, { ...agentOptions, keepAlive: true });
      agents.set(key, agent);
    }
    return agent;
  };
  return kc;
}

function loadKubeConfig(opts: KubeConfigOptions, env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  if (opts.mode === "emulated") {
    if (!opts.kubeconfigYaml) throw new Error("emulated mode needs the emulator's kubeconfig (kubeconfigYaml)");
    kc.loadFromString(opts.kubeconfigYaml);
  } else if (opts.kubeconfigYaml) {
    kc.loadFromString(opts.kubeconfigYaml);
  } else if (opts.kubeconfigPath) {
    if (!existsSync(opts.kubeconfigPath)) throw new Error(`kubeconfig not found: ${opts.kubeconfigPath}`);
    kc.loadFromFile(opts.kubeconfigPath);
  } else if (env.KUBECONFIG || existsSync(join(env.HOME ?? homedir(), ".kube", "config"))) {
    if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG.split(":")[0]!);
    else kc.loadFromFile(join(env.HOME ?? homedir(), ".kube", "config"));
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    throw new Error("no Kubernetes configuration: set KUBECONFIG_PATH, provide ~/.kube/config or $KUBECONFIG, or run in-cluster");
  }
  return finalize(kc, opts);
}

/** Apply the context choice and the TLS switch by building a fresh config, not by mutating state later. */
function finalize(kc: KubeConfig, opts: KubeConfigOptions): KubeConfig {
  const currentContext = opts.context ?? kc.getCurrentContext();
  if (!kc.getContextObject(currentContext)) throw new Error(`kubeconfig has no context "${currentContext}"`);
  if (!opts.skipTlsVerify && currentContext === kc.getCurrentContext()) return kc;
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => (opts.skipTlsVerify ? { ...c, skipTLSVerify: true, caData: undefined, caFile: undefined } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext,
  });
  return out;
}

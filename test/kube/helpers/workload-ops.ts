/**
 * Cluster operations the product does not make, used by the cluster client's contract suite to drive
 * workloads: waiting for a rollout like `kubectl rollout status`, pod summaries, a tenant baseline
 * applied namespace-first, waiting for a namespace deletion, `kubectl rollout restart` and
 * `kubectl scale`. They go through the client's public API (or, for the two patches the product never
 * sends, client-node's own object API with its own KubeConfig — see `thirdPartyKubeConfig`), so the
 * product's client carries no test-only methods.
 */
import { KubeConfig, type KubernetesObject, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { KINDS, type KubeClient } from "../../../src/kube/client.js";
import { KubeConflictError, KubeError, KubeTimeoutError } from "../../../src/kube/kube-errors.js";
import { type PodStatusSummary, type RolloutState, rolloutState, summarizePods } from "../../../src/kube/status.js";
import { ANNOTATIONS } from "../../../src/kube/templates/labels.js";
import {
  describeRef,
  type KubeObject,
  type LiveDeployment,
  type LiveNamespace,
  type LiveObject,
  type LivePod,
  type LiveStatefulSet,
  type WorkloadKind,
} from "../../../src/kube/objects.js";

/**
 * A kubeconfig for @kubernetes/client-node (a devDependency: the independent client tests drive the
 * cluster with), from the same YAML or file the product's client reads.
 */
export function thirdPartyKubeConfig(source: { yaml: string } | { path?: string }): KubeConfig {
  const kc = new KubeConfig();
  if ("yaml" in source) kc.loadFromString(source.yaml);
  else if (source.path) kc.loadFromFile(source.path);
  else kc.loadFromDefault();
  return kc;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wait until a Deployment/StatefulSet has rolled out, with `kubectl rollout status` semantics.
 * Throws `KubeTimeoutError` when `timeoutMs` passes (or the progress deadline is exceeded).
 */
export async function waitForRollout(
  client: KubeClient,
  namespace: string,
  name: string,
  kind: WorkloadKind,
  opts: { timeoutMs: number; pollMs?: number },
): Promise<RolloutState> {
  const pollMs = opts.pollMs ?? 1000;
  const deadline = Date.now() + opts.timeoutMs;
  const ref = { ...KINDS[kind], name, namespace };
  let last = "no status read yet";
  for (;;) {
    try {
      const obj = await client.get<LiveDeployment | LiveStatefulSet>(ref);
      const state = rolloutState(kind, obj);
      if (state.done) return state;
      last = state.message;
      if (state.failed)
        throw new KubeTimeoutError(state.message, { reason: "ProgressDeadlineExceeded", operation: `rollout ${describeRef(ref)}` });
    } catch (err) {
      // A brief outage while waiting is not a failed rollout: keep waiting until the deadline.
      if (!(err instanceof KubeError && err.transient)) throw err;
      last = err.message;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new KubeTimeoutError(`rollout of ${describeRef(ref)} did not complete within ${opts.timeoutMs} ms: ${last}`, {
        reason: "RolloutTimeout",
        operation: `rollout ${describeRef(ref)}`,
      });
    }
    await sleep(Math.min(pollMs, remaining));
  }
}

/** Phase, readiness, restarts and waiting reasons of the pods matching `selector` in a namespace. */
export async function podStatusSummary(client: KubeClient, namespace: string, selector: string): Promise<PodStatusSummary> {
  const { items } = await client.listAll<LivePod>("Pod", selector, { namespace });
  return summarizePods(items);
}

/**
 * Apply a tenant baseline (from `renderTenant`): the Namespace first, then the rest. A namespace
 * that is still being deleted cannot take new objects: that is a `KubeConflictError`.
 */
export async function ensureTenant(client: KubeClient, manifests: readonly KubeObject[]): Promise<LiveObject[]> {
  const [ns, ...rest] = manifests;
  if (ns?.kind !== "Namespace") throw new Error("ensureTenant expects the Namespace as the first manifest");
  const applied = await client.apply<LiveNamespace>(ns);
  if (applied.status?.phase === "Terminating" || applied.metadata?.deletionTimestamp) {
    throw new KubeConflictError(`namespace ${ns.metadata?.name} is terminating`, { reason: "NamespaceTerminating", statusCode: 409 });
  }
  return [applied, ...(await client.applyAll(rest))];
}

/** Delete a namespace and wait until it is gone (it stays `Terminating` while its objects are removed). */
export async function deleteNamespaceAndWait(
  client: KubeClient,
  name: string,
  opts: { waitMs: number; pollMs?: number },
): Promise<boolean> {
  const existed = await client.deleteNamespace(name);
  const deadline = Date.now() + opts.waitMs;
  while (existed && (await client.find({ ...KINDS.Namespace, name }))) {
    if (Date.now() >= deadline) {
      throw new KubeTimeoutError(`namespace ${name} still terminating after ${opts.waitMs} ms`, { reason: "NamespaceTerminating" });
    }
    await sleep(opts.pollMs ?? 250);
  }
  return existed;
}

/**
 * Roll the workload's pods like `kubectl rollout restart`: set the pod template annotation
 * `kubectl.kubernetes.io/restartedAt` with a strategic-merge patch under its own field manager.
 */
export async function restartWorkload(kc: KubeConfig, namespace: string, name: string, kind: WorkloadKind, at: Date): Promise<void> {
  const body = {
    ...KINDS[kind],
    metadata: { name, namespace },
    spec: { template: { metadata: { annotations: { [ANNOTATIONS.restartedAt]: at.toISOString() } } } },
  };
  await KubernetesObjectApi.makeApiClient(kc).patch(
    body as KubernetesObject,
    undefined,
    undefined,
    "minispod-restart",
    undefined,
    PatchStrategy.StrategicMergePatch,
  );
}

/** Set the replica count (0 suspends) with a merge patch, like `kubectl scale`. */
export async function scaleWorkload(kc: KubeConfig, namespace: string, name: string, kind: WorkloadKind, replicas: number): Promise<void> {
  const body = { ...KINDS[kind], metadata: { name, namespace }, spec: { replicas } };
  await KubernetesObjectApi.makeApiClient(kc).patch(
    body as KubernetesObject,
    undefined,
    undefined,
    "minispod-scale",
    undefined,
    PatchStrategy.MergePatch,
  );
}

/**
 * InstanceCluster over the one cluster client.
 */
import type { Readable } from "node:stream";
import { KINDS, type KubeClient } from "../../kube/client.js";
import { isPodProblemReason, newestRunningPod, rolloutState, stuckOldRevisionPods, summarizePods } from "../../kube/status.js";
import { instanceSelector } from "../../kube/templates/index.js";
import type { LiveDeployment, LiveNamespace, LivePod, LiveSecret, LiveStatefulSet, Manifest, ObjectRef } from "../../kube/objects.js";
import { appliedStamp, objectKey } from "../../kube/ownership.js";
import type { AppliedFields, InstanceCluster, LogOptions, PodProblem, RolloutState } from "./instance-cluster.js";

export class KubeInstanceCluster implements InstanceCluster {
  constructor(private readonly client: KubeClient) {}

  async applyAll(objects: Manifest[]): Promise<AppliedFields> {
    const live = await this.client.applyAll(objects);
    const out: AppliedFields = {};
    objects.forEach((m, i) => {
      out[objectKey(m.kind, m.metadata?.name ?? "")] = appliedStamp(live[i]?.metadata, this.client.fieldManager);
    });
    return out;
  }

  async existing(namespace: string, instanceId: string, kind: "PersistentVolumeClaim"): Promise<Set<string>> {
    const { items } = await this.client.listMetadata(kind, instanceSelector(instanceId), { namespace });
    return new Set(items.filter((o) => !o.metadata?.deletionTimestamp).map((o) => objectKey(kind, o.metadata?.name ?? "")));
  }

  delete(ref: ObjectRef): Promise<boolean> {
    return this.client.delete(ref);
  }

  async namespaceActive(namespace: string): Promise<boolean> {
    return (await this.namespaceState(namespace)) === "active";
  }

  async namespaceState(namespace: string): Promise<"active" | "terminating" | "absent"> {
    const ns = await this.client.find<LiveNamespace>({ ...KINDS.Namespace, name: namespace });
    if (ns === undefined) return "absent";
    return ns.metadata?.deletionTimestamp || ns.status?.phase === "Terminating" ? "terminating" : "active";
  }

  deleteNamespace(namespace: string): Promise<boolean> {
    return this.client.deleteNamespace(namespace);
  }

  async readCredentials(namespace: string, secretName: string): Promise<Record<string, string> | undefined> {
    const secret = await this.client.find<LiveSecret>({ ...KINDS.Secret, name: secretName, namespace });
    if (!secret) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
    for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v;
    return out;
  }

  async mountsClaim(namespace: string, kind: "Deployment" | "StatefulSet", name: string, claimName: string): Promise<boolean> {
    const workload = await this.client.find<LiveDeployment | LiveStatefulSet>({ ...KINDS[kind], name, namespace });
    return (workload?.spec?.template.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claimName);
  }

  async rolloutState(
    namespace: string,
    name: string,
    kind: "Deployment" | "StatefulSet",
    _replicas: 0 | 1,
    instanceId: string,
  ): Promise<RolloutState> {
    const workload = await this.client.get<LiveDeployment | LiveStatefulSet>({ ...KINDS[kind], name, namespace });
    const state = rolloutState(kind, workload);
    if (state.done) return { done: true, message: state.message };
    const pods = await this.client.listAll<LivePod>("Pod", instanceSelector(instanceId), { namespace });
    if (kind === "StatefulSet") {
      const stuck = stuckOldRevisionPods(workload as LiveStatefulSet, pods.items);
      if (stuck.length) {
        const deletedStuckPods: Array<{ name: string; reason: string }> = [];
        for (const p of stuck) {
          await this.client.delete({ ...KINDS.Pod, name: p.name, namespace });
          deletedStuckPods.push({ name: p.name, reason: p.waitingReasons.find(isPodProblemReason) ?? p.phase });
        }
        return { done: false, message: state.message, deletedStuckPods };
      }
    }
    const summary = summarizePods(pods.items);
    const reason = summary.waitingReasons.find(isPodProblemReason);
    let podProblem: PodProblem | undefined;
    if (reason) {
      const pod = summary.pods.find((p) => p.waitingReasons.includes(reason));
      podProblem = { reason, message: pod ? `pod ${pod.name}, ${pod.restarts} restarts` : undefined };
    }
    return { done: false, message: state.failed ? `${state.message} (progress deadline exceeded)` : state.message, podProblem };
  }

  async runningPod(namespace: string, instanceId: string): Promise<{ name: string; container: string } | undefined> {
    const pods = await this.client.listAll("Pod", instanceSelector(instanceId), { namespace });
    const pod = newestRunningPod(pods.items as LivePod[]);
    const container = pod?.spec?.containers?.[0]?.name;
    if (!pod?.metadata?.name || !container) return undefined;
    return { name: pod.metadata.name, container };
  }

  logs(namespace: string, pod: string, container: string, opts: LogOptions): Promise<string[]> {
    return this.client.logs(namespace, pod, { container, tailLines: opts.tailLines, sinceSeconds: opts.sinceSeconds });
  }

  followLogs(namespace: string, pod: string, container: string, opts: LogOptions): Promise<Readable> {
    return this.client.logs(namespace, pod, { container, tailLines: opts.tailLines, sinceSeconds: opts.sinceSeconds, follow: true });
  }
}

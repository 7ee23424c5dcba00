/**
 * Bulk seeding for benchmarks: thousands of ready Deployments with their ReplicaSets and Pods,
 * written straight into the store (no HTTP, no validation round trips, no per-object watch
 * events — the watch history is compacted instead). Objects look exactly like the ones the
 * simulated controllers produce, so later reconciles find nothing to change.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { randomUUID } from "node:crypto";
import type { Cluster } from "./cluster.js";
import { containerIdOf, imageIdOf, qualifiedImage } from "./images.js";
import { DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, resourceKey, SERVICEACCOUNTS } from "./resources.js";
import { type KubeObject, k8sTime, safeHash, stableStringify } from "./types.js";
import { applyDefaults } from "./validation.js";

export interface SeedFleetOptions {
  /** Number of namespaces (`<namespacePrefix><n>`). */
  namespaces: number;
  deploymentsPerNamespace: number;
  /** Default "fleet-". */
  namespacePrefix?: string;
  /** Replicas (and ready pods) per deployment. Default 1. */
  podsPerDeployment?: number;
  /** Default "nginx:1.27". */
  image?: string;
  /** Labels of deployment i in namespace ns (also on its pod template). */
  labels?: (namespace: string, index: number) => Record<string, string>;
  /** Labels of each namespace. */
  namespaceLabels?: (namespace: string) => Record<string, string>;
  /** Container resources. Default 100m/128Mi requests, 500m/256Mi limits. */
  resources?: {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
  };
}

export interface SeedFleetResult {
  namespaces: string[];
  deployments: number;
  pods: number;
  durationMs: number;
}

export function seedFleet(cluster: Cluster, o: SeedFleetOptions): SeedFleetResult {
  const started = performance.now();
  const store = cluster.store;
  const now = cluster.now();
  const ts = k8sTime(now);
  const prefix = o.namespacePrefix ?? "fleet-";
  const replicas = o.podsPerDeployment ?? 1;
  const image = o.image ?? "nginx:1.27";
  const resources = o.resources ?? {
    requests: { cpu: "100m", memory: "128Mi" },
    limits: { cpu: "500m", memory: "256Mi" },
  };
  const meta = (name: string, namespace?: string): KubeObject["metadata"] => ({
    name,
    ...(namespace ? { namespace } : {}),
    uid: randomUUID(),
    resourceVersion: "",
    creationTimestamp: ts,
  });
  const namespaces: string[] = [];
  let pods = 0;
  let deployments = 0;
  for (let n = 0; n < o.namespaces; n++) {
    const ns = `${prefix}${n}`;
    namespaces.push(ns);
    if (!store.get(resourceKey(NAMESPACES), "", ns)) {
      const nsObj: KubeObject = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          ...meta(ns),
          labels: { ...(o.namespaceLabels?.(ns) ?? {}) },
        },
        spec: {},
        status: { phase: "Active" },
      };
      applyDefaults(NAMESPACES, nsObj, () => "");
      store.write(resourceKey(NAMESPACES), nsObj, { silent: true });
      store.write(
        resourceKey(SERVICEACCOUNTS),
        {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: meta("default", ns),
        },
        { silent: true },
      );
    }
    for (let i = 0; i < o.deploymentsPerNamespace; i++) {
      const name = `app-${i}`;
      const labels = o.labels?.(ns, i) ?? { app: name };
      const d: KubeObject = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { ...meta(name, ns), generation: 1, labels, annotations: { "deployment.kubernetes.io/revision": "1" } },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: "app", image, resources }] },
          },
        },
      };
      applyDefaults(DEPLOYMENTS, d, () => "");
      const template = (d.spec as { template: Record<string, unknown> }).template;
      const hash = safeHash(stableStringify(template), 10);
      const rsName = `${name}-${hash}`;
      const podLabels = { ...labels, "pod-template-hash": hash };
      const rsMeta = {
        ...meta(rsName, ns),
        generation: 1,
        labels: podLabels,
        annotations: {
          "deployment.kubernetes.io/revision": "1",
          "deployment.kubernetes.io/desired-replicas": String(replicas),
        },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name,
            uid: d.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      };
      const rs: KubeObject = {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: rsMeta,
        spec: {
          replicas,
          selector: { matchLabels: podLabels },
          template: { ...template, metadata: { labels: podLabels } },
        },
        status: {
          replicas,
          fullyLabeledReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          observedGeneration: 1,
        },
      };
      const complete = (type: string, reason: string, message: string) => ({
        type,
        status: "True",
        lastUpdateTime: ts,
        lastTransitionTime: ts,
        reason,
        message,
      });
      d.status = {
        observedGeneration: 1,
        ...(replicas > 0
          ? {
              replicas,
              updatedReplicas: replicas,
              readyReplicas: replicas,
              availableReplicas: replicas,
            }
          : {}),
        conditions: [
          complete("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
          complete("Progressing", "NewReplicaSetAvailable", `ReplicaSet "${rsName}" has successfully progressed.`),
        ],
      };
      store.write(resourceKey(DEPLOYMENTS), d, { silent: true });
      store.write(resourceKey(REPLICASETS), rs, { silent: true });
      deployments++;
      for (let r = 0; r < replicas; r++) {
        const podName = `${rsName}-${cluster.rng.suffix(5)}`;
        const pod: KubeObject = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            ...meta(podName, ns),
            generation: 1,
            labels: podLabels,
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "ReplicaSet",
                name: rsName,
                uid: rsMeta.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: {
            ...(template.spec as object),
            nodeName: "emulator-node",
            serviceAccountName: "default",
          },
          status: {
            phase: "Running",
            conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
              type,
              status: "True",
              lastProbeTime: null,
              lastTransitionTime: ts,
            })),
            hostIP: "10.0.0.10",
            podIP: `10.244.${(pods >> 8) & 255}.${pods & 255 || 1}`,
            startTime: ts,
            qosClass: "Burstable",
            containerStatuses: [
              {
                name: "app",
                image: qualifiedImage(image),
                imageID: imageIdOf(image),
                containerID: containerIdOf(podName),
                ready: true,
                restartCount: 0,
                started: true,
                state: { running: { startedAt: ts } },
              },
            ],
          },
        };
        store.write(resourceKey(PODS), pod, { silent: true });
        pods++;
      }
    }
  }
  return {
    namespaces,
    deployments,
    pods,
    durationMs: performance.now() - started,
  };
}

/**
 * The event recorder every controller (and the kubelet) uses: core/v1 Events about an object, as
 * `kubectl describe` lists them. A repeat of the same type/reason/message about the same object
 * bumps `count` and `lastTimestamp` instead of adding an Event, as client-go's correlator does.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { randomUUID } from "node:crypto";
import type { Cluster } from "../cluster.js";
import { mustFindByKind, resourceKey } from "../resources.js";
import { type KubeObject, k8sTime } from "../types.js";

export const EVENTS = mustFindByKind("v1", "Event");

export function recordEvent(
  cluster: Cluster,
  involved: KubeObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  component: string,
): void {
  const ns = involved.metadata.namespace ?? "default";
  const ts = k8sTime(cluster.now());
  for (const e of cluster.store.iterate(resourceKey(EVENTS), ns)) {
    const io = e.involvedObject as { uid?: string } | undefined;
    if (io?.uid === involved.metadata.uid && e.reason === reason && e.message === message && e.type === type) {
      cluster.put(EVENTS, { ...e, metadata: { ...e.metadata }, count: Number(e.count ?? 1) + 1, lastTimestamp: ts });
      return;
    }
  }
  const suffix = randomUUID().replace(/-/g, "").slice(0, 16);
  cluster.put(EVENTS, {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: `${involved.metadata.name}.${suffix}`,
      namespace: ns,
      uid: randomUUID(),
      resourceVersion: "",
      creationTimestamp: ts,
    },
    involvedObject: {
      kind: involved.kind,
      namespace: involved.metadata.namespace,
      name: involved.metadata.name,
      uid: involved.metadata.uid,
      apiVersion: involved.apiVersion,
      resourceVersion: involved.metadata.resourceVersion,
    },
    reason,
    message,
    source: { component },
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
    type,
    eventTime: null,
    reportingComponent: component,
    reportingInstance: "",
  });
}

/**
 * FleetReader over the one cluster client: label-selected, paginated LISTs across all namespaces,
 * in parallel, one per kind whatever the fleet size:
 *  - full objects where status matters: Deployments, StatefulSets, Pods (and PodMetrics);
 *  - metadata only (`PartialObjectMetadataList`) for everything else the platform owns: Services,
 *    ConfigMaps, Secrets (their data is never read), PersistentVolumeClaims, Ingresses,
 *    NetworkPolicies, ResourceQuotas, LimitRanges and ServiceAccounts — their managedFields are the
 *    drift evidence (src/kube/ownership.ts).
 * Any failure but the metrics API's makes the observation unreadable.
 */
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { KnownKind, KubeClient, ObjectMetadataOnly, PodUsage } from "../../kube/client.js";
import { type MetadataLike, objectKey, otherWriters, stampHolds } from "../../kube/ownership.js";
import { summarizePodsBy } from "../../kube/status.js";
import { FLEET_SELECTOR, LABELS } from "../../kube/templates/labels.js";
import type { FleetObject, FleetObservation, FleetReader } from "./fleet-reader.js";

/** Every object of every instance: managed by us and carrying an instance id. */
export const INSTANCE_OBJECTS_SELECTOR = `${FLEET_SELECTOR},${LABELS.instanceId}`;

/** Kinds read as metadata only: instance objects and the tenant baseline. */
const METADATA_KINDS: readonly KnownKind[] = [
  "Service",
  "ConfigMap",
  "Secret",
  "PersistentVolumeClaim",
  "Ingress",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "ServiceAccount",
];

interface Labelled {
  metadata?: MetadataLike & { namespace?: string; labels?: Record<string, string> };
}

export class KubeFleetReader implements FleetReader {
  constructor(
    private readonly client: KubeClient,
    private readonly opts: {
      logger: { warn(obj: object, msg?: string): void };
      /** LIST page size (default 500). */
      pageSize?: number;
    },
  ) {}

  async read(): Promise<FleetObservation> {
    const { client } = this;
    // Raw items (no client-node model objects): the readers below take JSON timestamps too.
    const opts = { pageSize: this.opts.pageSize ?? 500, raw: true };
    // metrics-server does not paginate (it answers every pod at once), so neither do we; through the
    // model objects only the first page was ever read (client-node has no PodMetrics list model and
    // dropped `continue`), through raw answers every page was recomputed from scratch.
    const metricsP = client.podMetrics(undefined, INSTANCE_OBJECTS_SELECTOR, { pageSize: 0, raw: true }).catch((err: unknown) => ({
      available: false as const,
      reason: `metrics could not be read: ${(err as Error).message}`,
      failed: true,
    }));
    let deployments: V1Deployment[];
    let statefulSets: V1StatefulSet[];
    let pods: V1Pod[];
    let metadata: Array<{ kind: KnownKind; items: ObjectMetadataOnly[] }>;
    let calls = 0;
    try {
      const [d, s, p, ...m] = await Promise.all([
        client.listAll<V1Deployment>("Deployment", INSTANCE_OBJECTS_SELECTOR, opts),
        client.listAll<V1StatefulSet>("StatefulSet", INSTANCE_OBJECTS_SELECTOR, opts),
        client.listAll<V1Pod>("Pod", INSTANCE_OBJECTS_SELECTOR, opts),
        ...METADATA_KINDS.map((kind) => client.listMetadata(kind, FLEET_SELECTOR, { pageSize: this.opts.pageSize ?? 500 })),
      ]);
      deployments = d.items;
      statefulSets = s.items;
      pods = p.items;
      metadata = m.map((r, i) => ({ kind: METADATA_KINDS[i] as KnownKind, items: r.items }));
      calls = d.calls + s.calls + p.calls + m.reduce((n, r) => n + r.calls, 0);
    } catch (err) {
      await metricsP;
      this.opts.logger.warn({ err: (err as Error).message }, "health sweep: the cluster could not be read");
      return {
        readable: false,
        error: (err as Error).message,
        calls: 0,
        metricsAvailable: null,
        workloads: new Map(),
        services: new Map(),
        pods: new Map(),
        usage: new Map(),
        owned: new Map(),
        tenants: new Map(),
      };
    }
    const metrics = await metricsP;
    if (metrics.available) calls += metrics.calls;

    const manager = client.fieldManager;
    const owned: FleetObservation["owned"] = new Map();
    const tenants: FleetObservation["tenants"] = new Map();
    const add = (kind: string, o: Labelled) => {
      const meta = o.metadata;
      const labels = meta?.labels ?? {};
      const id = labels[LABELS.instanceId];
      const group = id ? owned : labels[LABELS.component] === "tenant" ? tenants : undefined;
      const groupKey = id ?? meta?.namespace;
      if (!group || !groupKey) return;
      const entry: FleetObject = {
        holds: (stamp) => stampHolds(stamp, meta, manager),
        terminating: Boolean(meta?.deletionTimestamp),
        writers: () => otherWriters(meta, manager),
      };
      let objects = group.get(groupKey);
      if (!objects) {
        objects = new Map();
        group.set(groupKey, objects);
      }
      objects.set(objectKey(kind, meta?.name ?? ""), entry);
    };

    const workloads: FleetObservation["workloads"] = new Map();
    const addWorkload = (kind: "Deployment" | "StatefulSet", w: V1Deployment | V1StatefulSet) => {
      const id = w.metadata?.labels?.[LABELS.instanceId];
      if (!id || w.metadata?.deletionTimestamp) return;
      workloads.set(id, { kind, name: w.metadata?.name ?? "", desiredReplicas: w.spec?.replicas ?? 1 });
      add(kind, w as Labelled);
    };
    for (const d of deployments) addWorkload("Deployment", d);
    for (const s of statefulSets) addWorkload("StatefulSet", s);

    const serviceNames: FleetObservation["services"] = new Map();
    for (const { kind, items } of metadata) {
      for (const o of items as Labelled[]) {
        add(kind, o);
        if (kind !== "Service") continue;
        const id = o.metadata?.labels?.[LABELS.instanceId];
        if (!id) continue;
        const set = serviceNames.get(id) ?? new Set<string>();
        set.add(o.metadata?.name ?? "");
        serviceNames.set(id, set);
      }
    }

    // Usage per instance: a pod's metrics belong to the instance its pod (or the metrics' labels) names.
    const usage: FleetObservation["usage"] = new Map();
    if (metrics.available) {
      const podOwner = new Map<string, string>();
      for (const p of pods) {
        const id = p.metadata?.labels?.[LABELS.instanceId];
        if (id) podOwner.set(`${p.metadata?.namespace}/${p.metadata?.name}`, id);
      }
      for (const m of metrics.pods as PodUsage[]) {
        const id = podOwner.get(`${m.namespace}/${m.name}`) ?? m.labels[LABELS.instanceId];
        if (!id) continue;
        const u = usage.get(id) ?? { cpuMilli: 0, memoryMb: 0 };
        u.cpuMilli += m.cpuMilli;
        u.memoryMb += m.memoryMb;
        usage.set(id, u);
      }
    }
    return {
      readable: true,
      calls,
      metricsAvailable: metrics.available,
      workloads,
      services: serviceNames,
      pods: summarizePodsBy(pods, LABELS.instanceId),
      usage,
      owned,
      tenants,
    };
  }
}

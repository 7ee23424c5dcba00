/**
 * FleetReader over the one cluster client. Every kind the sweep needs is read with one
 * label-selected, paginated LIST across all namespaces, or — when an informer for it is synced
 * (`FleetCache`, HEALTH_CACHE) — from that informer's memory, kept current by a WATCH:
 *  - full objects where status matters: Deployments, StatefulSets, Pods (kept as pod summaries);
 *  - metadata only (PartialObjectMetadataList / PartialObjectMetadata watch events) for everything
 *    else the platform owns: Services, ConfigMaps, Secrets (their data is never read),
 *    PersistentVolumeClaims, Ingresses, NetworkPolicies, ResourceQuotas, LimitRanges and
 *    ServiceAccounts — their managedFields are the drift evidence (src/kube/ownership.ts);
 *  - PodMetrics always by LIST (metrics.k8s.io cannot be watched).
 * So a sweep makes at most one LIST per kind (plus pages) whatever the fleet size, and with synced
 * informers only the PodMetrics one. An informer that is not synced (starting, reconnecting,
 * broken) is never trusted: its kind is LISTed for that sweep.
 *
 * A cache is behind the cluster by the watch's delivery delay, and may be behind the reconciler's
 * latest apply: each kind's observation carries the resourceVersion it is current to, and an object
 * whose observation is older than what the reconciler recorded is "behind", never drift or missing
 * (the next sweep judges it). Deletes arrive as DELETED events and remove the object from the cache.
 * Any failure but the metrics API's makes the observation unreadable.
 */
import type { LiveObject, LivePod, ObjectMeta } from "../../kube/objects.js";
import type { KnownKind, KubeClient, PodUsage } from "../../kube/client.js";
import { type CacheView, Informer, type InformerLogger, ObjectStore } from "../../kube/informer.js";
import {
  appliedFieldsHash,
  compactResourceVersion,
  compareResourceVersions,
  judgeAbsent,
  judgeStamp,
  otherWriters,
  objectKeyKind,
  resourceVersionText,
  type StampVerdict,
} from "../../kube/ownership.js";
import { type PodSummary, summarizePod, summarizePodSummaries } from "../../kube/status.js";
import { cachedMetadataStrings } from "../../kube/string-pool.js";
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
/** Kinds read in full (their status matters). */
const FULL_KINDS = ["Deployment", "StatefulSet", "Pod"] as const satisfies readonly KnownKind[];

/** Which kinds informers keep (HEALTH_CACHE): all twelve, the nine metadata-only ones, or none. */
export type FleetCacheMode = "all" | "metadata" | "off";

type Meta = LiveObject & { spec?: { replicas?: number } };

/** What the sweep keeps of an owned object (a LIST item's or an informer's projection); it is the FleetObject the sweep judges. */
interface OwnedMeta extends FleetObject {
  readonly namespace: string;
  readonly name: string;
  readonly instanceId?: string;
  readonly component?: string;
  readonly resourceVersion?: string;
  readonly terminating: boolean;
  /** `appliedFieldsHash` for our field manager: computed at once by informers (once per change), lazily for LIST items. */
  appliedHash(): string;
  writers(): string[];
  /** Workloads only. */
  readonly desiredReplicas?: number;
}

/** A pod as the sweep needs it. */
interface PodMeta {
  instanceId?: string;
  summary: PodSummary;
}

const NO_WRITERS: string[] = [];
Object.freeze(NO_WRITERS);
const NO_REASONS: string[] = [];
Object.freeze(NO_REASONS);
const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The fields every owned object's projection reads from its metadata, and its stamp's verdict. */
abstract class OwnedFields {
  readonly namespace: string;
  readonly name: string;
  readonly instanceId: string | undefined;
  readonly component: string | undefined;
  /** Kept as a number when it is one (`compactResourceVersion`): no string per cached object. */
  private readonly rv: string | number | undefined;
  readonly terminating: boolean;
  readonly desiredReplicas: number | undefined;

  constructor(meta: ObjectMeta | undefined, desiredReplicas: number | undefined) {
    const labels = meta?.labels;
    // Repeated by every object of a namespace or an instance: one shared copy each (string-pool.ts).
    this.namespace = cachedMetadataStrings.intern(meta?.namespace ?? "");
    this.instanceId = cachedMetadataStrings.internOptional(labels?.[LABELS.instanceId]);
    // An instance's objects have names of their own; the tenant baseline's (no instance id) repeat in
    // every namespace, so they are pooled too (and the store keys them by the pooled copy).
    this.name = this.instanceId === undefined ? cachedMetadataStrings.intern(meta?.name ?? "") : (meta?.name ?? "");
    this.component = cachedMetadataStrings.internOptional(labels?.[LABELS.component]);
    this.rv = compactResourceVersion(meta?.resourceVersion);
    this.terminating = Boolean(meta?.deletionTimestamp);
    this.desiredReplicas = desiredReplicas;
  }

  get resourceVersion(): string | undefined {
    return resourceVersionText(this.rv);
  }

  abstract appliedHash(): string;

  verdict(stamp: string): StampVerdict {
    return judgeStamp(stamp, this);
  }
}

/**
 * What an informer keeps of an owned object for as long as it is unchanged: a few strings and the
 * hash of the fields we applied, computed once per change — plain fields and prototype methods, no
 * per-object closures (a closure would hold its creator's scope, and with it the whole metadata and
 * its managedFields), so 10,000 instances' objects cost a few hundred bytes each.
 */
class CachedOwned extends OwnedFields implements OwnedMeta {
  private readonly hash: string;
  private readonly otherWriters: string[];

  constructor(meta: ObjectMeta | undefined, manager: string, desiredReplicas: number | undefined) {
    super(meta, desiredReplicas);
    // Every instance of a template hashes the same (managedFields list paths, not values).
    this.hash = cachedMetadataStrings.intern(appliedFieldsHash(meta, manager));
    const writers = otherWriters(meta, manager);
    this.otherWriters = writers.length ? writers : NO_WRITERS;
  }

  appliedHash(): string {
    return this.hash;
  }

  writers(): string[] {
    return this.otherWriters;
  }
}

/** A LIST item as the sweep reads it (for this sweep only): the hash is computed only when a resourceVersion differs. */
class ListedOwned extends OwnedFields implements OwnedMeta {
  private hash: string | undefined;

  constructor(
    private readonly meta: ObjectMeta | undefined,
    private readonly manager: string,
    desiredReplicas: number | undefined,
  ) {
    super(meta, desiredReplicas);
  }

  appliedHash(): string {
    this.hash ??= appliedFieldsHash(this.meta, this.manager);
    return this.hash;
  }

  writers(): string[] {
    return otherWriters(this.meta, this.manager);
  }
}

function ownedMeta(o: Meta, manager: string, eager: boolean, workload: boolean): OwnedMeta {
  const desiredReplicas = workload ? (o.spec?.replicas ?? 1) : undefined;
  return eager ? new CachedOwned(o.metadata, manager, desiredReplicas) : new ListedOwned(o.metadata, manager, desiredReplicas);
}

/**
 * A pod as the sweep judges it (summarizePodSummaries, the health rules): its labels are not read,
 * so an informer does not keep a copy of them.
 */
function podMeta(p: LivePod): PodMeta {
  const summary = summarizePod(p);
  return {
    instanceId: cachedMetadataStrings.internOptional(summary.labels[LABELS.instanceId]),
    summary: {
      ...summary,
      namespace: cachedMetadataStrings.intern(summary.namespace),
      // Most pods have none: one shared empty array instead of two per pod.
      waitingReasons: summary.waitingReasons.length ? summary.waitingReasons : NO_REASONS,
      lastTerminationReasons: summary.lastTerminationReasons.length ? summary.lastTerminationReasons : NO_REASONS,
      labels: NO_LABELS,
    },
  };
}

/** An object as it is now, changed since the observation point of the sweep: present, but not judged. */
class ChangedSinceObserved implements FleetObject {
  constructor(private readonly o: OwnedMeta) {}

  get terminating(): boolean {
    return this.o.terminating;
  }

  verdict(): StampVerdict {
    return "behind";
  }

  writers(): string[] {
    return this.o.writers();
  }
}

/** A LIST's items by namespace and name, kept as an informer keeps its cache (for this sweep only). */
function listedStore(items: Meta[], project: (o: Meta) => OwnedMeta): CacheView<OwnedMeta> {
  const store = new ObjectStore<OwnedMeta>();
  for (const o of items) store.set(o.metadata, project(o));
  return store;
}

interface FleetCacheOptions {
  client: KubeClient;
  logger: InformerLogger;
  mode: FleetCacheMode;
  pageSize?: number;
}

/**
 * The informers of the health sweep: one per cached kind, with the sweep's label selectors and
 * projections. Started and stopped with the health loop.
 */
export class FleetCache {
  readonly owned = new Map<KnownKind, Informer<OwnedMeta>>();
  pods: Informer<PodMeta> | undefined;

  constructor(o: FleetCacheOptions) {
    const manager = o.client.fieldManager;
    const common = { client: o.client, logger: o.logger, ...(o.pageSize ? { pageSize: o.pageSize } : {}) };
    if (o.mode === "off") return;
    for (const kind of METADATA_KINDS) {
      this.owned.set(
        kind,
        new Informer<OwnedMeta>({
          ...common,
          kind,
          labelSelector: FLEET_SELECTOR,
          metadataOnly: true,
          transform: (obj) => ownedMeta(obj, manager, true, false),
        }),
      );
    }
    if (o.mode !== "all") return;
    for (const kind of ["Deployment", "StatefulSet"] as const) {
      this.owned.set(
        kind,
        new Informer<OwnedMeta>({
          ...common,
          kind,
          labelSelector: INSTANCE_OBJECTS_SELECTOR,
          metadataOnly: false,
          transform: (obj) => ownedMeta(obj, manager, true, true),
        }),
      );
    }
    this.pods = new Informer<PodMeta>({
      ...common,
      kind: "Pod",
      labelSelector: INSTANCE_OBJECTS_SELECTOR,
      metadataOnly: false,
      transform: (obj) => podMeta(obj as LivePod),
    });
  }

  private all(): Informer<unknown>[] {
    return [...this.owned.values(), ...(this.pods ? [this.pods] : [])] as Informer<unknown>[];
  }

  start(): void {
    for (const i of this.all()) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((i) => i.stop()));
  }

  /** Every informer is synced (for the benchmark and tests; the sweep itself checks kind by kind). */
  get synced(): boolean {
    return this.all().every((i) => i.synced);
  }

  /** Resolves once every informer is synced. */
  async untilSynced(): Promise<void> {
    await Promise.all(this.all().map((i) => i.until(() => i.synced)));
  }

  /** Per kind: state, objects, and how often it listed, watched, re-listed and failed. */
  status(): Array<{ kind: string; state: string; objects: number; resourceVersion?: string } & Informer<unknown>["stats"]> {
    return this.all().map((i) => ({
      kind: i.kind,
      state: i.state,
      objects: i.size,
      ...(i.resourceVersion ? { resourceVersion: i.resourceVersion } : {}),
      ...i.stats,
    }));
  }
}

const unreadable = (error: string): FleetObservation => ({
  readable: false,
  error,
  calls: 0,
  metricsAvailable: null,
  workloads: new Map(),
  pods: new Map(),
  usage: new Map(),
  owned: () => undefined,
  tenant: () => undefined,
  absent: () => "behind",
  sources: { cached: [], listed: [] },
});

export class KubeFleetReader implements FleetReader {
  constructor(
    private readonly client: KubeClient,
    private readonly opts: {
      logger: { warn(obj: object, msg?: string): void };
      /** LIST page size (default 500). */
      pageSize?: number;
      /** Informers to read synced kinds from (absent: every kind is LISTed). */
      cache?: FleetCache;
    },
  ) {}

  async read(): Promise<FleetObservation> {
    const { client } = this;
    const manager = client.fieldManager;
    const pageSize = this.opts.pageSize ?? 500;
    const cache = this.opts.cache;
    // metrics-server does not paginate (it answers every pod at once, and would recompute every pod
    // for each page), so neither do we.
    const metricsP = client.podMetrics(undefined, INSTANCE_OBJECTS_SELECTOR, { pageSize: 0 }).catch((err: unknown) => ({
      available: false as const,
      reason: `metrics could not be read: ${(err as Error).message}`,
      failed: true,
    }));
    const sources: FleetObservation["sources"] = { cached: [], listed: [] };
    /** Per kind: the resourceVersion its observation is current to. */
    const upTo = new Map<string, string | undefined>();
    let calls = 0;

    const ownedKinds: KnownKind[] = [...METADATA_KINDS, "Deployment", "StatefulSet"];
    /** Per kind, its objects by namespace and name: a synced informer's own cache, or this sweep's LIST. */
    const byKind = new Map<KnownKind, CacheView<OwnedMeta>>();
    let pods: Iterable<PodMeta>;
    try {
      const readOwned = async (kind: KnownKind): Promise<void> => {
        const informer = cache?.owned.get(kind);
        if (informer?.synced) {
          // Its cache, read once every LIST has returned: as current as this resourceVersion or newer.
          const { resourceVersion, objects } = informer.current();
          upTo.set(kind, resourceVersion);
          sources.cached.push(kind);
          byKind.set(kind, objects);
          return;
        }
        const full = (FULL_KINDS as readonly string[]).includes(kind);
        const r = full
          ? await client.listAll<Meta>(kind, INSTANCE_OBJECTS_SELECTOR, { pageSize })
          : await client.listMetadata(kind, FLEET_SELECTOR, { pageSize });
        calls += r.calls;
        upTo.set(kind, r.resourceVersion);
        sources.listed.push(kind);
        byKind.set(
          kind,
          listedStore(r.items as Meta[], (o) => ownedMeta(o, manager, false, full)),
        );
      };
      const readPods = async (): Promise<Iterable<PodMeta>> => {
        const informer = cache?.pods;
        if (informer?.synced) {
          sources.cached.push("Pod");
          return informer.current().objects.values();
        }
        const r = await client.listAll<LivePod>("Pod", INSTANCE_OBJECTS_SELECTOR, { pageSize });
        calls += r.calls;
        sources.listed.push("Pod");
        return r.items.map(podMeta);
      };
      [pods] = await Promise.all([readPods(), ...ownedKinds.map(readOwned)]);
    } catch (err) {
      await metricsP;
      this.opts.logger.warn({ err: (err as Error).message }, "health sweep: the cluster could not be read");
      return unreadable((err as Error).message);
    }
    const metrics = await metricsP;
    if (metrics.available) calls += metrics.calls;

    const workloads: FleetObservation["workloads"] = new Map();
    for (const kind of ["Deployment", "StatefulSet"] as const) {
      for (const o of byKind.get(kind)?.values() ?? []) {
        const id = o.instanceId;
        if (!id || o.terminating) continue;
        workloads.set(id, { kind, name: o.name, desiredReplicas: o.desiredReplicas ?? 1 });
      }
    }
    /**
     * The object `key` in `namespace` that instance `instanceId` owns (carries its label), or without an
     * instance id, the tenant baseline's object (no instance label, component "tenant").
     *
     * A synced informer's cache is read live, after the instance rows were read: an object changed since
     * the resourceVersion recorded for its kind (an event that arrived while this sweep read the database
     * and the other kinds) may be newer than the rows' record of our last apply, so its fields are not
     * judged this sweep ("behind"); the next sweep judges them.
     */
    const find = (namespace: string, key: string, instanceId: string | undefined): FleetObject | undefined => {
      const kind = objectKeyKind(key);
      const o = byKind.get(kind as KnownKind)?.get(namespace, key.slice(kind.length + 1));
      if (!o || (instanceId === undefined ? o.instanceId || o.component !== "tenant" : o.instanceId !== instanceId)) return undefined;
      return (compareResourceVersions(o.resourceVersion, upTo.get(kind)) ?? 0) > 0 ? new ChangedSinceObserved(o) : o;
    };

    // Pods by instance, and usage per instance: a pod's metrics belong to the instance its pod (or the metrics' labels) names.
    const byInstance = new Map<string, PodSummary[]>();
    const podOwner = new Map<string, string>();
    for (const p of pods) {
      if (!p.instanceId) continue;
      const list = byInstance.get(p.instanceId);
      if (list) list.push(p.summary);
      else byInstance.set(p.instanceId, [p.summary]);
      podOwner.set(`${p.summary.namespace}/${p.summary.name}`, p.instanceId);
    }
    const usage: FleetObservation["usage"] = new Map();
    if (metrics.available) {
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
      pods: new Map([...byInstance].map(([id, list]) => [id, summarizePodSummaries(list)])),
      usage,
      owned: (namespace, key, instanceId) => find(namespace, key, instanceId),
      tenant: (namespace, key) => find(namespace, key, undefined),
      absent: (key, stamp) => judgeAbsent(stamp, upTo.get(objectKeyKind(key))),
      sources,
    };
  }
}

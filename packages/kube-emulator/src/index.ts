/**
 * MinisPod's in-process Kubernetes API emulator.
 *
 * >>> TEST AND DEMO FIXTURE — NOT A KUBERNETES CLUSTER. <<<
 * It serves the real Kubernetes REST API (paths, JSON, Status errors, resourceVersion, server-side
 * apply, selectors, watch, pod logs, metrics.k8s.io) for the kinds MinisPod uses, and simulates the
 * controllers that matter, so that the product, its tests and its benchmarks can run the real
 * `@kubernetes/client-node` (and kubectl) against it where no cluster can run. Production targets
 * real clusters; nothing here enforces security, quotas or scheduling.
 *
 * Usage:
 *   const kube = await KubeEmulator.start({ podReadyDelayMs: 0 });
 *   const kc = new KubeConfig(); kc.loadFromString(kube.kubeconfigYaml());
 *   ... kube.faults.latency(200); kube.recorder.count({ verb: "list" }); await kube.stop();
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { stringify as toYaml } from "yaml";
import { Cluster, type ListQuery } from "./cluster.js";
import { Controllers, CRASH_ANNOTATION } from "./controllers/index.js";
import { Faults, Recorder } from "./faults.js";
import { listPodMetrics, type UsageOverride } from "./metrics.js";
import { findByKind, NAMESPACES, type ResourceInfo, resourceKey } from "./resources.js";
import { Router } from "./router.js";
import { type SeedFleetOptions, type SeedFleetResult, seedFleet } from "./seed.js";
import { type KubeObject, type Logger, Rng, silentLogger } from "./types.js";
import { defaultSnapshotClass, VOLUMESNAPSHOTCLASSES, volumeContents, volumeNameOf } from "./controllers/volume-snapshot.js";

export { ApiError, type Status, type StatusCause } from "./errors.js";
export type { CallFilter, FaultRule, RecordedCall, Verb } from "./faults.js";
export type { UsageOverride } from "./metrics.js";
export type { SeedFleetOptions, SeedFleetResult } from "./seed.js";
export type { KubeObject, Logger } from "./types.js";
export { CRASH_ANNOTATION };

export interface KubeEmulatorOptions {
  /** Port on 127.0.0.1 (0 = a free random port, the default). */
  port?: number;
  host?: string;
  /** Time from pod creation to Running/Ready (or to ImagePullBackOff/CrashLoopBackOff). Default 1500. */
  podReadyDelayMs?: number;
  /** Time a deleted pod's containers take to stop (bounded by its grace period). Default podReadyDelayMs. */
  podStopDelayMs?: number;
  /** Time between simulated restarts of a crash-looping container and image pull retries. Default 2000. */
  crashLoopIntervalMs?: number;
  /** One simulated log line per container every this many ms. Default 1000. */
  logIntervalMs?: number;
  /** How long a deleted namespace stays Terminating before its content and itself go. Default 50. */
  namespaceDeletionDelayMs?: number;
  /** Watch events kept for resuming watches; older resourceVersions get 410 Expired. Default 10000. */
  watchHistorySize?: number;
  /** A watch asking for bookmarks (allowWatchBookmarks) gets one this often. Default 60000, as the API server's watch cache. */
  watchBookmarkIntervalMs?: number;
  /** Images whose pulls fail (ImagePullBackOff). Images containing ":bad" always fail. */
  badImages?: Iterable<string>;
  /**
   * The ingress controller's namespace: the emulated cert-manager's HTTP-01 challenge succeeds only
   * if the tenant's NetworkPolicies admit traffic from it to the solver pod on 8089. Default ingress-nginx.
   */
  ingressControllerNamespace?: string;
  /** Time from a VolumeSnapshot's creation to readyToUse. Default 500. */
  snapshotReadyDelayMs?: number;
  /**
   * VolumeSnapshotClasses installed at start (the first is the default class for the emulator's CSI
   * driver; deletionPolicy Delete). Default ["csi-snapshots"]; [] for a cluster without one.
   */
  snapshotClasses?: string[];
  /** Serve metrics.k8s.io (as if metrics-server were installed). Default true. */
  metrics?: boolean;
  /**
   * Also refuse requests without a token (401). Default false, because kubectl does not send the
   * bearer token to a plain-http server; a wrong token is always refused.
   */
  requireAuth?: boolean;
  token?: string;
  /** Seed of the pseudo-random generator (pod name suffixes, fault probabilities). Default 1. */
  seed?: number;
  logger?: Logger;
  /** Clock for timestamps and simulated time (ms since epoch). Default Date.now. */
  clock?: () => number;
  /** Namespaces present at start. Default: default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
  /**
   * Serve HTTPS with this certificate and key (PEM) instead of plain HTTP; the kubeconfig then names the
   * certificate as the cluster's CA (so it must be self-signed, or `ca` given) instead of skipping
   * verification — what a client that insists on verified TLS (MinisPod in production) needs.
   */
  tls?: { cert: string; key: string; ca?: string };
}

/** Fault injection, plus the whole-server outage that needs the listener. */
export class EmulatorFaults extends Faults {
  constructor(
    rng: Rng,
    private readonly control: { down(): Promise<void>; up(): Promise<void> },
  ) {
    super(rng);
  }

  private outageRule: number | undefined;
  private refused = false;

  /**
   * Total outage: "refuse" closes the listener (clients get ECONNREFUSED); "unavailable" answers
   * every request 503 ServiceUnavailable.
   */
  async outage(mode: "refuse" | "unavailable" = "refuse"): Promise<void> {
    if (mode === "unavailable") {
      if (this.outageRule === undefined) this.outageRule = this.add({ status: 503 });
      return;
    }
    if (!this.refused) {
      this.refused = true;
      await this.control.down();
    }
  }

  /** Ends an outage (both modes). */
  async restore(): Promise<void> {
    if (this.outageRule !== undefined) this.remove(this.outageRule);
    this.outageRule = undefined;
    if (this.refused) {
      this.refused = false;
      await this.control.up();
    }
  }

  /** Removes every fault rule and ends any outage. */
  async reset(): Promise<void> {
    this.clear();
    this.outageRule = undefined;
    await this.restore();
  }
}

export class KubeEmulator {
  readonly token: string;
  readonly recorder = new Recorder();
  readonly faults: EmulatorFaults;
  /** The API semantics without HTTP (for helpers and advanced tests). */
  readonly cluster: Cluster;
  readonly controllers: Controllers;
  private readonly router: Router;
  private readonly server: Server;
  private readonly usage = new Map<string, UsageOverride>();
  private readonly badImages: Set<string>;
  private metricsOn: boolean;
  private readonly logger: Logger;
  private host: string;
  private port = 0;
  private readonly tls: KubeEmulatorOptions["tls"];
  private stopped = false;

  private constructor(readonly opts: KubeEmulatorOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.token = opts.token ?? `emulator-${randomBytes(12).toString("hex")}`;
    this.host = opts.host ?? "127.0.0.1";
    this.metricsOn = opts.metrics ?? true;
    this.badImages = new Set(opts.badImages ?? []);
    const clock = opts.clock ?? Date.now;
    this.cluster = new Cluster({
      watchHistorySize: opts.watchHistorySize ?? 10_000,
      namespaceDeletionDelayMs: opts.namespaceDeletionDelayMs ?? 50,
      seed: opts.seed ?? 1,
      clock,
    });
    this.cluster.virtualLister = (_info: ResourceInfo, ns) => listPodMetrics(this.cluster.store, ns, clock(), this.usage);
    this.controllers = new Controllers(this.cluster, {
      podReadyDelayMs: opts.podReadyDelayMs ?? 1500,
      podStopDelayMs: opts.podStopDelayMs ?? opts.podReadyDelayMs ?? 1500,
      crashLoopIntervalMs: opts.crashLoopIntervalMs ?? 2000,
      badImages: this.badImages,
      ingressControllerNamespace: opts.ingressControllerNamespace ?? "ingress-nginx",
      snapshotReadyDelayMs: opts.snapshotReadyDelayMs ?? 500,
      logger: this.logger,
    });
    this.faults = new EmulatorFaults(new Rng((opts.seed ?? 1) ^ 0x5eed), {
      down: () => this.closeListener(),
      up: () => this.listen(this.port),
    });
    this.router = new Router({
      cluster: this.cluster,
      controllers: this.controllers,
      faults: this.faults,
      recorder: this.recorder,
      logger: this.logger,
      token: this.token,
      requireAuth: opts.requireAuth ?? false,
      logIntervalMs: opts.logIntervalMs ?? 1000,
      watchBookmarkIntervalMs: opts.watchBookmarkIntervalMs ?? 60_000,
      metricsEnabled: () => this.metricsOn,
      serverAddress: () => `${this.host}:${this.port}`,
    });
    this.tls = opts.tls;
    const handle = (req: Parameters<Router["handle"]>[0], res: Parameters<Router["handle"]>[1]) => {
      void this.router.handle(req, res);
    };
    this.server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handle) : createServer(handle);
    this.server.keepAliveTimeout = 5000;
  }

  static async start(opts: KubeEmulatorOptions = {}): Promise<KubeEmulator> {
    const emu = new KubeEmulator(opts);
    for (const ns of opts.namespaces ?? ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      emu.cluster.create(
        NAMESPACES,
        undefined,
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        { fieldManager: "kube-apiserver" },
      );
    }
    (opts.snapshotClasses ?? ["csi-snapshots"]).forEach((name, i) => {
      const cls = defaultSnapshotClass(name);
      if (i > 0) delete cls.metadata.annotations;
      emu.cluster.create(VOLUMESNAPSHOTCLASSES, undefined, cls, { fieldManager: "kube-apiserver" });
    });
    emu.controllers.drain();
    await emu.listen(opts.port ?? 0);
    emu.logger.info({ url: emu.url }, "Kubernetes API emulator listening (test/demo fixture, not a real cluster)");
    return emu;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      this.server.listen(port, this.host, () => {
        this.server.off("error", onError);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private closeListener(): Promise<void> {
    return new Promise((resolve) => {
      this.router.closeAll();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  get url(): string {
    return `${this.tls ? "https" : "http"}://${this.host}:${this.port}`;
  }

  /** A kubeconfig for this emulator: with `tls`, its CA; plain HTTP otherwise (TLS verification skipped). */
  kubeconfig(): Record<string, unknown> {
    return {
      apiVersion: "v1",
      kind: "Config",
      "current-context": "minispod-emulator",
      clusters: [
        {
          name: "minispod-emulator",
          cluster: this.tls
            ? { server: this.url, "certificate-authority-data": Buffer.from(this.tls.ca ?? this.tls.cert).toString("base64") }
            : { server: this.url, "insecure-skip-tls-verify": true },
        },
      ],
      users: [{ name: "minispod-emulator", user: { token: this.token } }],
      contexts: [
        {
          name: "minispod-emulator",
          context: {
            cluster: "minispod-emulator",
            user: "minispod-emulator",
            namespace: "default",
          },
        },
      ],
      preferences: {},
    };
  }

  kubeconfigYaml(): string {
    return `# Kubernetes API emulator (MinisPod test/demo fixture, not a real cluster)\n${toYaml(this.kubeconfig())}`;
  }

  async writeKubeconfig(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.kubeconfigYaml(), { mode: 0o600 });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.controllers.stop();
    this.cluster.stop();
    this.router.closeAll();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- simulation controls -------------------------------------------------------------------

  /** Runs queued controller work and every timer already due; resolves when the cluster is quiet. */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      this.controllers.drain();
      const ran = this.controllers.scheduler.runDue();
      this.controllers.drain();
      if (ran === 0 && this.controllers.idle) return;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Runs every pending simulated transition now (pods ready, next crash restart...), then settles. */
  async fastForward(): Promise<void> {
    this.controllers.drain();
    this.controllers.scheduler.runDue(true);
    await this.settle();
  }

  /** Makes the pods of a workload (Deployment/StatefulSet name, or a pod name) crash-loop, or stop crashing. */
  setCrash(namespace: string, name: string, crashing = true): void {
    if (crashing) this.controllers.crashingWorkloads.add(`${namespace}/${name}`);
    else this.controllers.crashingWorkloads.delete(`${namespace}/${name}`);
    this.controllers.kickPods(namespace, name);
  }

  /** Pulls of this image fail from now on (new pods get ImagePullBackOff). */
  markImageBad(image: string): void {
    this.badImages.add(image);
  }

  /** Pulls of this image succeed again; pods waiting on it start. */
  markImageGood(image: string): void {
    this.badImages.delete(image);
    this.controllers.retryImagePulls();
  }

  /** Pins a pod's reported usage (first container), or clears the pin with `undefined`. */
  setPodUsage(namespace: string, pod: string, usage: UsageOverride | undefined): void {
    if (usage) this.usage.set(`${namespace}/${pod}`, usage);
    else this.usage.delete(`${namespace}/${pod}`);
  }

  /**
   * Test hook: writes `value` under `key` in the simulated contents of the volume bound to a PVC (the
   * bytes a pod would write). Snapshots capture these contents; a PVC restored from a snapshot gets them.
   */
  writeVolumeData(namespace: string, pvcName: string, key: string, value: string): void {
    const pvc = this.cluster.tryGet(this.info("v1", "PersistentVolumeClaim"), namespace, pvcName);
    if (!pvc) throw new Error(`emulator: no PersistentVolumeClaim ${namespace}/${pvcName}`);
    const store = volumeContents(this.cluster);
    const volume = volumeNameOf(pvc);
    store.volumes.set(volume, { ...(store.volumes.get(volume) ?? {}), [key]: value });
  }

  /** Test hook: the simulated contents of the volume bound to a PVC ({} when empty; undefined: no such claim). */
  readVolumeData(namespace: string, pvcName: string): Record<string, string> | undefined {
    const pvc = this.cluster.tryGet(this.info("v1", "PersistentVolumeClaim"), namespace, pvcName);
    if (!pvc) return undefined;
    return { ...(volumeContents(this.cluster).volumes.get(volumeNameOf(pvc)) ?? {}) };
  }

  /** Fault: new snapshots of this PVC fail in the CSI driver with `message` (undefined: they succeed again). */
  failSnapshots(namespace: string, pvcName: string, message: string | undefined): void {
    const failing = volumeContents(this.cluster).failing;
    if (message === undefined) failing.delete(`${namespace}/${pvcName}`);
    else failing.set(`${namespace}/${pvcName}`, message);
  }

  /** Turns metrics.k8s.io on or off (off = no metrics-server: the group disappears, paths 404). */
  setMetricsAvailable(available: boolean): void {
    this.metricsOn = available;
  }

  /** Completes every pending namespace deletion now. */
  finalizeNamespaces(): number {
    return this.cluster.finalizeAllNamespaces();
  }

  /** Watch streams open right now. */
  get openWatches(): number {
    return this.router.openWatches;
  }

  /** Ends every open watch stream cleanly, as an API server restart does; clients must re-watch. Returns how many. */
  closeWatches(): number {
    return this.router.closeWatches();
  }

  /** Forgets watch history (as an etcd compaction): watches from older versions get 410. */
  compactHistory(): void {
    this.cluster.store.compact();
  }

  get resourceVersion(): string {
    return String(this.cluster.store.resourceVersion);
  }

  // ---- direct store access (no HTTP, not recorded) -------------------------------------------

  private info(apiVersion: string, kind: string): ResourceInfo {
    const info = findByKind(apiVersion, kind);
    if (!info) throw new Error(`emulator: unknown kind ${apiVersion} ${kind}`);
    return info;
  }

  /** The stored object (do not mutate it), or undefined. */
  getObject(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.cluster.tryGet(this.info(apiVersion, kind), namespace, name);
  }

  /** Stored objects of a kind (do not mutate them), with the same selectors as the API. */
  listObjects(apiVersion: string, kind: string, query: Omit<ListQuery, "limit" | "continue"> = {}): KubeObject[] {
    const info = this.info(apiVersion, kind);
    const match = this.cluster.matchers(info, query);
    return this.cluster.store.list(resourceKey(info), {
      namespace: query.namespace,
      match,
    }).items;
  }

  /** Server-side applies an object as `fieldManager` (default "minispod"), like the product does. */
  apply(
    obj: {
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace?: string };
    } & Record<string, unknown>,
    fieldManager = "minispod",
    force = true,
  ): KubeObject {
    const info = this.info(obj.apiVersion, obj.kind);
    return this.cluster.patch(info, obj.metadata.namespace, obj.metadata.name, "application/apply-patch+yaml", obj, { fieldManager, force })
      .object;
  }

  /** Deletes an object as the API would (namespaces go Terminating; dependents are collected). */
  deleteObject(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    this.cluster.delete(this.info(apiVersion, kind), namespace, name);
  }

  /**
   * Bulk-seeds a fleet of namespaces with ready Deployments and their pods, directly in the store
   * (no HTTP, no per-object watch events); for the health benchmark's 10,000 instances. A real API
   * server never writes without telling its watchers, so open watches are ended afterwards (as an API
   * server restart would end them): a watcher that resumes from its resourceVersion gets 410 Expired
   * (the seeding compacted the history) and re-lists, instead of silently missing the seeded objects.
   */
  seedFleet(options: SeedFleetOptions): SeedFleetResult {
    const result = seedFleet(this.cluster, options);
    this.router.closeWatches();
    return result;
  }

  /** Annotation that makes a pod template's pods crash-loop. */
  static readonly crashAnnotation = CRASH_ANNOTATION;
}

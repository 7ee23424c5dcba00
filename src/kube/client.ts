import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough, type Readable } from "node:stream";
import {
  ApiException,
  createConfiguration,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  Log,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
  type V1ObjectMeta,
  type V1Pod,
  VersionApi,
  type VersionInfo,
} from "@kubernetes/client-node";
import { KubeConflictError, KubeError, KubeNotFoundError, KubeUnavailableError, toKubeError } from "./kube-errors.js";
import { cpuMilli, memoryMb } from "./quantity.js";
import { DEFAULT_RETRY, type RetryOptions, withRetry } from "./retry.js";
import { modelTypeName, toClientModel } from "./schema.js";
import { describeRef, type KubeObject, type ObjectRef, refOf } from "./objects.js";
import { validateManifest } from "./manifest-validation.js";

export { createKubeConfig, type KubeConfigOptions } from "./kubeconfig.js";

/**
 * The one place that talks to Kubernetes. Everything else (provisioning, health, logs) goes
 * through a `KubeClient`, which:
 *  - validates every manifest before a server-side apply with one field manager;
 *  - maps every failure once into a typed `KubeError` and retries only the transient ones;
 *  - bounds every request with a timeout and reports every HTTP attempt to `onCall` (metrics).
 * The RBAC verbs each method needs are listed in `REQUIRED_RBAC` (rbac.ts), which k8s/rbac.yaml
 * grants exactly: a new kind of call here needs a row there.
 * Objects read back are @kubernetes/client-node models (e.g. `V1Pod`, with `Date` timestamps).
 */

/** The pino-compatible subset the client logs through. */
export interface KubeLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export type KubeVerb = "apply" | "get" | "list" | "watch" | "delete" | "patch" | "logs" | "version";

export interface KubeCallResult {
  ok: boolean;
  durationMs: number;
  /** HTTP status of a failed call (absent for network failures). */
  statusCode?: number;
  /** Class name of the mapped error, e.g. "KubeUnavailableError". */
  error?: string;
}

export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  logger?: KubeLogger;
  /** Server-side apply field manager (default "minispod"). */
  fieldManager?: string;
  retry?: Partial<RetryOptions>;
  /** Bound on one HTTP request (K8S_REQUEST_TIMEOUT). Streams (log follow) are bounded only until headers. */
  requestTimeoutMs: number;
  /** Called after every HTTP attempt (retries included), e.g. to count calls in Prometheus. */
  onCall?: (verb: KubeVerb, resource: string, result: KubeCallResult) => void;
}

/** A kind the client knows the API group of; anything else can be given as `{apiVersion, kind}`. */
export const KINDS = {
  Namespace: { apiVersion: "v1", kind: "Namespace" },
  Pod: { apiVersion: "v1", kind: "Pod" },
  Service: { apiVersion: "v1", kind: "Service" },
  ConfigMap: { apiVersion: "v1", kind: "ConfigMap" },
  Secret: { apiVersion: "v1", kind: "Secret" },
  PersistentVolumeClaim: { apiVersion: "v1", kind: "PersistentVolumeClaim" },
  Deployment: { apiVersion: "apps/v1", kind: "Deployment" },
  StatefulSet: { apiVersion: "apps/v1", kind: "StatefulSet" },
  Ingress: { apiVersion: "networking.k8s.io/v1", kind: "Ingress" },
  ServiceAccount: { apiVersion: "v1", kind: "ServiceAccount" },
  ResourceQuota: { apiVersion: "v1", kind: "ResourceQuota" },
  LimitRange: { apiVersion: "v1", kind: "LimitRange" },
  NetworkPolicy: { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
  PodMetrics: { apiVersion: "metrics.k8s.io/v1beta1", kind: "PodMetrics" },
  VolumeSnapshot: { apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot" },
} as const;
export type KnownKind = keyof typeof KINDS;
export interface KindRef {
  apiVersion: string;
  kind: string;
}

export interface ListOptions {
  /** Page size (`limit`); the client follows `continue` until the end. Default 500; 0: no limit (one request). */
  pageSize?: number;
  /** Only this namespace; default all namespaces. */
  namespace?: string;
  fieldSelector?: string;
  /**
   * Items as the server sent them (JSON, timestamps as strings) instead of client-node model objects
   * (`Date` timestamps): much cheaper for large lists whose readers accept both (src/kube/status.ts).
   */
  raw?: boolean;
}

/**
 * Where a LIST hands its items page by page instead of returning them all (`items` is then empty):
 * whoever keeps a projection of each item (an informer) never holds every page at once.
 */
export interface ListSink<T> {
  item(item: T): void;
  /** The list starts over (its continue token expired): forget what `item` was given so far. */
  restart(): void;
}

export interface ListResult<T> {
  items: T[];
  /** The list's resourceVersion (its first page's: later pages are the same snapshot), to WATCH from. */
  resourceVersion?: string;
  /** LIST requests made (pages, plus restarts after an expired continue token). */
  calls: number;
}

export interface LogsOptions {
  /** Default: the pod's first container. */
  container?: string;
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
  follow?: boolean;
}

export interface ContainerUsage {
  name: string;
  cpuMilli: number;
  memoryMb: number;
}
export interface PodUsage {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  timestamp?: string;
  cpuMilli: number;
  memoryMb: number;
  containers: ContainerUsage[];
}
export type PodMetricsResult = { available: true; pods: PodUsage[]; calls: number } | { available: false; reason: string };

interface RawPodMetrics {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  timestamp?: string | Date;
  containers?: { name?: string; usage?: { cpu?: string; memory?: string } }[];
}

/** What `listMetadata` asks for: the API server's metadata-only list (client-go's metadata client). */
const PARTIAL_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
/**
 * What a metadata-only `watch` asks for, as client-go's metadata client does: each event's object as
 * a PartialObjectMetadata (the list form is not what a watch event is), plain JSON as the fallback.
 */
const PARTIAL_METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchOptions {
  labelSelector?: string;
  /** Resume after this resourceVersion (from a LIST or the last event/bookmark). */
  resourceVersion: string;
  /** Objects as PartialObjectMetadata (labels, annotations, managedFields; never a Secret's data). */
  metadataOnly?: boolean;
  /** Server-side bound of the watch; the server then ends the stream cleanly. */
  timeoutSeconds: number;
}

/** An open watch: events arrive through the callback given to `watch` until it ends. */
export interface WatchStream {
  /** Resolves when the server ends the stream (timeout, restart) or `close()` is called; rejects with a KubeError on a broken connection. */
  readonly ended: Promise<void>;
  /** Ends the watch (idempotent). */
  close(): void;
}

/**
 * The object API handing a successful answer back as the server sent it (timestamps stay strings):
 *  - for metadata-only lists, which client-node has no model for (its generic deserialisation reads
 *    the list's metadata as an object's and drops `continue`: only the first page would be seen);
 *  - for fleet-wide LISTs read by the health sweep, where building model objects for every item was
 *    a large share of the sweep's CPU.
 */
class RawAnswerApi extends KubernetesObjectApi {
  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext, type?: string): Promise<T> {
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return JSON.parse(await response.body.text()) as T;
    return super.processResponse<T>(response, type);
  }
}

/** The object API, telling where a kind's collection lives (client-node's discovery, cached per process). */
class PathApi extends KubernetesObjectApi {
  collectionPath(apiVersion: string, kind: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: {} }, "list");
  }
}

/** One item of a metadata-only list (`PartialObjectMetadata`). */
export interface ObjectMetadataOnly {
  metadata?: V1ObjectMeta;
}

function kindRef(kind: KnownKind | KindRef): KindRef {
  return typeof kind === "string" ? KINDS[kind] : kind;
}

function toHeader(ref: ObjectRef): KubernetesObject & { metadata: { name: string; namespace?: string } } {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

/** Reject with an AbortError-like timeout if `promise` has not settled within `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      const err = new Error(`request timed out after ${ms} ms`);
      err.name = "TimeoutError";
      reject(err);
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) onLate?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(err);
      },
    );
  });
}

export class KubeClient {
  readonly fieldManager: string;
  private readonly kc: KubeConfig;
  private readonly logger?: KubeLogger;
  private readonly retry: RetryOptions;
  private readonly requestTimeoutMs: number;
  private readonly onCall?: KubeClientOptions["onCall"];
  private readonly objects: KubernetesObjectApi;
  /** The same API, asking for metadata only (`PartialObjectMetadataList`): see `listMetadata`. */
  private readonly metadataObjects: KubernetesObjectApi;
  /** The same API, answers as sent (no model objects): `listAll(..., { raw: true })`. */
  private readonly rawObjects: KubernetesObjectApi;
  private readonly version: VersionApi;
  private readonly log: Log;
  private readonly paths: PathApi;

  constructor(opts: KubeClientOptions) {
    this.kc = opts.kubeConfig;
    this.logger = opts.logger;
    this.fieldManager = opts.fieldManager ?? "minispod";
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.onCall = opts.onCall;

    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const timeoutMs = this.requestTimeoutMs;
    // Same wiring as KubeConfig.makeApiClient, plus a middleware giving each request its own
    // deadline (client-node has no per-request timeout of its own).
    const configure = (accept?: string) =>
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: this.kc },
        promiseMiddleware: [
          {
            pre: async (ctx: RequestContext) => {
              ctx.setSignal(AbortSignal.timeout(timeoutMs));
              if (accept) ctx.setHeaderParam("Accept", accept);
              return ctx;
            },
            post: async (rsp: ResponseContext) => rsp,
          },
        ],
      });
    const configuration = configure();
    this.objects = new KubernetesObjectApi(configuration);
    this.metadataObjects = new RawAnswerApi(configure(PARTIAL_METADATA_LIST));
    this.rawObjects = new RawAnswerApi(configuration);
    this.version = new VersionApi(configuration);
    this.log = new Log(this.kc);
    this.paths = new PathApi(configuration);
  }

  /** One API call with mapping, retries of transient failures and per-attempt reporting. */
  private call<T>(verb: KubeVerb, resource: string, operation: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(
      operation,
      this.retry,
      async () => {
        const started = performance.now();
        try {
          const result = await fn();
          this.report(verb, resource, { ok: true, durationMs: performance.now() - started });
          return result;
        } catch (raw) {
          const err = toKubeError(raw, operation);
          this.report(verb, resource, {
            ok: false,
            durationMs: performance.now() - started,
            ...(err instanceof KubeError && err.statusCode ? { statusCode: err.statusCode } : {}),
            error: err instanceof Error ? err.name : "unknown",
          });
          throw err;
        }
      },
      (err, attempt, delayMs) => this.logger?.warn({ operation, attempt, delayMs, err: err.message }, "kubernetes call failed, retrying"),
    );
  }

  private report(verb: KubeVerb, resource: string, result: KubeCallResult): void {
    try {
      this.onCall?.(verb, resource, result);
    } catch (err) {
      // A broken metrics hook must not fail cluster operations; it is still reported.
      this.logger?.warn({ err }, "onCall hook threw");
    }
  }

  /**
   * Validate, then server-side apply with this client's field manager and `force` (we own every
   * field we render). Applying the same manifest twice is a no-op on the server.
   * Throws `InvalidManifestError` before any request when the manifest is invalid.
   */
  async apply<T extends KubernetesObject = KubernetesObject>(manifest: KubeObject): Promise<T> {
    validateManifest(manifest);
    const typeName = modelTypeName(manifest.apiVersion, manifest.kind);
    // The object API serializes through client-node's models, which drop wire names like `from`:
    // hand it the model shape.
    const body = typeName ? toClientModel(structuredClone(manifest), typeName) : structuredClone(manifest);
    return this.call("apply", manifest.kind, `apply ${describeRef(refOf(manifest))}`, () =>
      this.objects.patch(body as KubernetesObject, undefined, undefined, this.fieldManager, true, PatchStrategy.ServerSideApply),
    ) as Promise<T>;
  }

  /** Apply in order, stopping at the first failure (later objects usually depend on earlier ones). */
  async applyAll(manifests: readonly KubeObject[]): Promise<KubernetesObject[]> {
    const out: KubernetesObject[] = [];
    for (const m of manifests) out.push(await this.apply(m));
    return out;
  }

  /** Read one object. Throws `KubeNotFoundError` when it does not exist. */
  async get<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T> {
    return this.call("get", ref.kind, `get ${describeRef(ref)}`, () => this.objects.read(toHeader(ref))) as Promise<T>;
  }

  /** Read one object, or `undefined` when it does not exist. */
  async find<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.get<T>(ref);
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Delete one object; a missing object is not an error. Returns whether it existed.
   * Dependents (a Deployment's ReplicaSets and pods) are removed in the background.
   */
  async delete(ref: ObjectRef, opts: { propagationPolicy?: "Background" | "Foreground" | "Orphan" } = {}): Promise<boolean> {
    try {
      await this.call("delete", ref.kind, `delete ${describeRef(ref)}`, () =>
        this.objects.delete(toHeader(ref), undefined, undefined, undefined, undefined, opts.propagationPolicy ?? "Background"),
      );
      return true;
    } catch (err) {
      if (err instanceof KubeNotFoundError) return false;
      throw err;
    }
  }

  /**
   * Every object of a kind matching a label selector, across all namespaces unless one is given,
   * following `continue` tokens page by page. An expired token (410) restarts the list once.
   */
  async listAll<T = KubernetesObject>(
    kind: KnownKind | KindRef,
    labelSelector?: string,
    opts: ListOptions = {},
    sink?: ListSink<T>,
  ): Promise<ListResult<T>> {
    return this.listPaged<T>(opts.raw ? this.rawObjects : this.objects, kind, labelSelector, opts, sink);
  }

  /**
   * Like `listAll`, but only the objects' metadata (labels, annotations, managedFields), as the API
   * server's `PartialObjectMetadataList`: what the health sweep needs to find drift without reading
   * specs — and without ever reading Secret data. Needs `list` on the resource, like `listAll`.
   */
  async listMetadata(
    kind: KnownKind | KindRef,
    labelSelector?: string,
    opts: ListOptions = {},
    sink?: ListSink<ObjectMetadataOnly>,
  ): Promise<ListResult<ObjectMetadataOnly>> {
    return this.listPaged<ObjectMetadataOnly>(this.metadataObjects, kind, labelSelector, opts, sink);
  }

  private async listPaged<T>(
    api: KubernetesObjectApi,
    kind: KnownKind | KindRef,
    labelSelector: string | undefined,
    opts: ListOptions,
    sink: ListSink<T> | undefined,
  ): Promise<ListResult<T>> {
    const { apiVersion, kind: k } = kindRef(kind);
    const pageSize = opts.pageSize ?? 500;
    let calls = 0;
    for (let restart = 0; ; restart++) {
      const items: T[] = [];
      let token: string | undefined;
      let resourceVersion: string | undefined;
      try {
        do {
          const page = await this.call("list", k, `list ${apiVersion} ${k}${opts.namespace ? ` in ${opts.namespace}` : ""}`, () =>
            api.list(apiVersion, k, opts.namespace, undefined, undefined, undefined, opts.fieldSelector, labelSelector, pageSize, token),
          );
          calls++;
          if (sink) for (const item of page.items as T[]) sink.item(item);
          else for (const item of page.items as T[]) items.push(item);
          const meta = page.metadata as { _continue?: string; continue?: string; resourceVersion?: string } | undefined;
          resourceVersion ??= meta?.resourceVersion;
          token = meta?._continue || meta?.continue || undefined;
        } while (token);
        return { items, calls, ...(resourceVersion ? { resourceVersion } : {}) };
      } catch (err) {
        if (err instanceof KubeConflictError && err.statusCode === 410 && restart === 0) {
          calls++;
          sink?.restart();
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * WATCH a kind across all namespaces from a resourceVersion, with bookmarks
   * (`allowWatchBookmarks`): resolves once the server has answered 200 (bounded by the request
   * timeout; a refusal throws the mapped KubeError, e.g. KubeForbiddenError without `watch` RBAC),
   * then hands every event to `onEvent` — including BOOKMARK and ERROR (a 410 Expired arrives as an
   * ERROR event in a 200 stream) — until the stream ends. Same kubeconfig, auth and TLS as every
   * other call; no retries here: whoever watches (the informer) decides when to watch again.
   * A stream still open `timeoutSeconds` + the request timeout after it started is cut (a silent,
   * half-open connection never holds a watcher). Needs `watch` on the resource (REQUIRED_RBAC).
   */
  async watch(
    kind: KnownKind | KindRef,
    opts: WatchOptions,
    onEvent: (type: WatchEventType, object: KubernetesObject & { metadata?: V1ObjectMeta }) => void,
  ): Promise<WatchStream> {
    const { apiVersion, kind: k } = kindRef(kind);
    const operation = `watch ${apiVersion} ${k}`;
    const started = performance.now();
    const fail = (raw: unknown): unknown => {
      const err = toKubeError(raw, operation);
      this.report("watch", k, {
        ok: false,
        durationMs: performance.now() - started,
        ...(err instanceof KubeError && err.statusCode ? { statusCode: err.statusCode } : {}),
        error: err instanceof Error ? err.name : "unknown",
      });
      return err;
    };
    let res: IncomingMessage;
    let abort: () => void;
    try {
      const cluster = this.kc.getCurrentCluster();
      if (!cluster) throw new Error("kubeconfig has no current cluster");
      const path = await this.paths.collectionPath(apiVersion, k);
      const url = new URL(cluster.server.replace(/\/$/, "") + path);
      url.searchParams.set("watch", "true");
      url.searchParams.set("allowWatchBookmarks", "true");
      url.searchParams.set("resourceVersion", opts.resourceVersion);
      url.searchParams.set("timeoutSeconds", String(opts.timeoutSeconds));
      if (opts.labelSelector) url.searchParams.set("labelSelector", opts.labelSelector);
      const fetchOpts = (await this.kc.applyToFetchOptions({})) as { agent?: unknown; headers?: Headers };
      const headers: Record<string, string> = {};
      fetchOpts.headers?.forEach((v, name) => {
        headers[name] = v;
      });
      headers.accept = opts.metadataOnly ? PARTIAL_METADATA_WATCH : "application/json";
      const controller = new AbortController();
      abort = () => controller.abort();
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      res = await withDeadline(
        new Promise<IncomingMessage>((resolve, reject) => {
          const req = send(url, { method: "GET", headers, agent: fetchOpts.agent as never, signal: controller.signal }, resolve);
          req.on("error", reject);
          req.end();
        }),
        this.requestTimeoutMs,
        (late) => late.destroy(),
      ).catch((err: unknown) => {
        controller.abort();
        throw err;
      });
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks).toString("utf8");
        throw new ApiException(res.statusCode ?? 0, `HTTP ${res.statusCode}`, body, {});
      }
    } catch (raw) {
      throw fail(raw);
    }
    this.report("watch", k, { ok: true, durationMs: performance.now() - started });
    res.socket?.setKeepAlive(true, 30_000);
    let closed = false;
    const ended = new Promise<void>((resolve, reject) => {
      const cut = setTimeout(
        () => {
          reject(new KubeUnavailableError(`${operation}: stream outlived its timeout; cut`, { reason: "Timeout", operation }));
          abort();
        },
        opts.timeoutSeconds * 1000 + this.requestTimeoutMs,
      );
      cut.unref();
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          nl = buf.indexOf("\n");
          if (!line.trim() || closed) continue;
          let event: { type?: WatchEventType; object?: KubernetesObject };
          try {
            event = JSON.parse(line);
          } catch (err) {
            // A torn stream: end it as broken rather than skip an event silently.
            clearTimeout(cut);
            reject(new KubeUnavailableError(`${operation}: unreadable watch event (${(err as Error).message})`, { operation }));
            abort();
            return;
          }
          if (event.type && event.object) onEvent(event.type, event.object);
        }
      });
      res.on("end", () => {
        clearTimeout(cut);
        resolve();
      });
      res.on("error", (err) => {
        clearTimeout(cut);
        if (closed) resolve();
        else reject(toKubeError(err, operation));
      });
      res.on("close", () => {
        clearTimeout(cut);
        if (closed || res.complete) resolve();
        else reject(new KubeUnavailableError(`${operation}: connection closed mid-stream`, { reason: "Unreachable", operation }));
      });
    });
    return {
      ended,
      close: () => {
        if (closed) return;
        closed = true;
        abort();
        res.destroy();
      },
    };
  }

  /**
   * Pod logs. Without `follow`: the lines (tail/since applied by the server). With `follow`: a
   * Readable of raw log bytes that ends when the container stops; destroy it to stop following.
   */
  logs(namespace: string, podName: string, opts: LogsOptions & { follow: true }): Promise<Readable>;
  logs(namespace: string, podName: string, opts?: LogsOptions & { follow?: false }): Promise<string[]>;
  async logs(namespace: string, podName: string, opts: LogsOptions = {}): Promise<string[] | Readable> {
    const container = opts.container ?? (await this.firstContainer(namespace, podName));
    const params = {
      ...(opts.tailLines !== undefined ? { tailLines: opts.tailLines } : {}),
      ...(opts.sinceSeconds !== undefined ? { sinceSeconds: opts.sinceSeconds } : {}),
      ...(opts.timestamps ? { timestamps: true } : {}),
      follow: opts.follow === true,
    };
    const operation = `logs ${namespace}/${podName}/${container}`;
    // Log.log resolves once the response headers arrive and pipes the body into `sink`.
    const open = (sink: PassThrough) =>
      this.call("logs", "Pod", operation, () =>
        withDeadline(this.log.log(namespace, podName, container, sink, params), this.requestTimeoutMs, (late) => late.abort()),
      );

    if (opts.follow) {
      const stream = new PassThrough();
      const controller = await open(stream);
      stream.once("close", () => controller.abort());
      return stream;
    }

    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve, reject) => {
      sink.once("end", resolve);
      sink.once("error", reject);
    });
    const controller = await open(sink);
    try {
      // The promise above settles at the headers; the lines are complete only at the stream's end.
      await withDeadline(ended, this.requestTimeoutMs);
    } catch (err) {
      controller.abort();
      throw toKubeError(err, operation);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines;
  }

  private async firstContainer(namespace: string, podName: string): Promise<string> {
    const pod = await this.get<V1Pod>({ ...KINDS.Pod, name: podName, namespace });
    const name = pod.spec?.containers?.[0]?.name;
    if (!name) throw new KubeNotFoundError(`pod ${namespace}/${podName} has no containers`, { statusCode: 404 });
    return name;
  }

  /**
   * CPU (millicores) and memory (MiB) per pod from metrics.k8s.io. A cluster without a metrics
   * server (404) or with one that is down (the API server answers 503) yields
   * `{available: false}` — "no usage data" is not an error. An unreachable API server still throws.
   */
  async podMetrics(namespace?: string, selector?: string, opts: { pageSize?: number; raw?: boolean } = {}): Promise<PodMetricsResult> {
    try {
      const { items, calls } = await this.listAll<RawPodMetrics>("PodMetrics", selector, { ...opts, ...(namespace ? { namespace } : {}) });
      return { available: true, pods: items.map(toPodUsage), calls };
    } catch (err) {
      if (err instanceof KubeNotFoundError) return { available: false, reason: "metrics API (metrics.k8s.io) is not installed" };
      if (err instanceof KubeUnavailableError && err.statusCode === 503) {
        return { available: false, reason: "metrics API (metrics.k8s.io) is unavailable" };
      }
      throw err;
    }
  }

  /** Delete a namespace and (by the cluster) everything in it. Returns whether it existed. */
  async deleteNamespace(name: string): Promise<boolean> {
    return this.delete({ ...KINDS.Namespace, name });
  }

  /** Readiness probe of the cluster connection: GET /version. */
  async ping(): Promise<VersionInfo> {
    return this.call("version", "version", "GET /version", () => this.version.getCode());
  }
}

function toPodUsage(m: RawPodMetrics): PodUsage {
  const containers = (m.containers ?? []).map((c) => ({
    name: c.name ?? "",
    cpuMilli: c.usage?.cpu ? cpuMilli(c.usage.cpu) : 0,
    memoryMb: c.usage?.memory ? memoryMb(c.usage.memory) : 0,
  }));
  return {
    namespace: m.metadata?.namespace ?? "",
    name: m.metadata?.name ?? "",
    labels: { ...(m.metadata?.labels ?? {}) },
    ...(m.timestamp ? { timestamp: m.timestamp instanceof Date ? m.timestamp.toISOString() : String(m.timestamp) } : {}),
    cpuMilli: containers.reduce((n, c) => n + c.cpuMilli, 0),
    memoryMb: Math.round(containers.reduce((n, c) => n + c.memoryMb, 0) * 10) / 10,
    containers,
  };
}

import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { KubeApiError, KubeConflictError, KubeError, KubeNotFoundError, KubeUnavailableError, toKubeError } from "./kube-errors.js";
import type { KubeConfig } from "./kubeconfig.js";
import { cpuMilli, memoryMb } from "./quantity.js";
import { DEFAULT_RETRY, type RetryOptions, withRetry } from "./retry.js";
import { describeRef, type KubeObject, type LiveObject, type LivePod, type ObjectMeta, type ObjectRef, refOf } from "./objects.js";
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
 * Requests are plain JSON over one keep-alive connection pool (kubeconfig.ts); objects read back are
 * the server's JSON as sent (`LivePod`, timestamps as strings).
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
  /** From `createKubeConfig` (kubeconfig.ts). */
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

/** One item of a metadata-only list (`PartialObjectMetadata`). */
export interface ObjectMetadataOnly {
  metadata?: ObjectMeta;
}

/** Where the API server serves a kind: its resource (plural) name and whether it is namespaced. */
interface ApiResource {
  plural: string;
  namespaced: boolean;
}

/** A collection or object URL path plus query, for one kind. */
type Query = Record<string, string | number | boolean | undefined>;

interface RequestOptions {
  query?: Query;
  body?: string;
  contentType?: string;
  accept?: string;
}

function kindRef(kind: KnownKind | KindRef): KindRef {
  return typeof kind === "string" ? KINDS[kind] : kind;
}

/** `/api/v1` or `/apis/<group>/<version>`: where a group version's resources are discovered and served. */
function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The error a request timeout fails a call with (`toKubeError` maps a TimeoutError to a timeout). */
function timeoutError(ms: number): Error {
  const err = new Error(`request timed out after ${ms} ms`);
  err.name = "TimeoutError";
  return err;
}

/** Reject with an AbortError-like timeout if `promise` has not settled within `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(timeoutError(ms));
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

/**
 * The request timeout of a call that reads its whole answer: when it fires it destroys the request (the
 * call then fails with a timeout, or with the aborted response while its body was being read), and it
 * is cleared as soon as the call is done. `AbortSignal.timeout` did the same, but its timer stays armed
 * until it fires, seconds after the request ended, and then builds a DOMException and dispatches an
 * abort event for a request long finished: with its listeners, ~3.3% of the control plane's CPU while
 * provisioning (bench/RESULTS.md).
 */
class RequestDeadline {
  private req: ClientRequest | undefined;
  private expired: Error | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.timer = setTimeout(() => {
      this.expired = timeoutError(ms);
      this.req?.destroy(this.expired);
    }, ms);
    // Like AbortSignal.timeout's: a pending call's socket keeps the process alive, not its timer.
    this.timer.unref();
  }

  /** The request this deadline bounds; destroyed at once if the deadline passed before it was sent. */
  bound(req: ClientRequest): void {
    this.req = req;
    if (this.expired) req.destroy(this.expired);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.req = undefined;
  }
}

/** Runs `fn` under a request deadline of `ms`, cleared when `fn` settles. */
async function underDeadline<T>(ms: number, fn: (deadline: RequestDeadline) => Promise<T>): Promise<T> {
  const deadline = new RequestDeadline(ms);
  try {
    return await fn(deadline);
  } finally {
    deadline.clear();
  }
}

/** The whole body of a response, as text. */
function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      text += chunk;
    });
    res.on("end", () => resolve(text));
    res.on("error", reject);
    res.on("close", () => {
      if (!res.complete) reject(Object.assign(new Error("connection closed before the response ended"), { code: "ECONNRESET" }));
    });
  });
}

export class KubeClient {
  readonly fieldManager: string;
  private readonly kc: KubeConfig;
  private readonly server: string;
  private readonly send: typeof httpRequest;
  private readonly logger?: KubeLogger;
  private readonly retry: RetryOptions;
  private readonly requestTimeoutMs: number;
  private readonly onCall?: KubeClientOptions["onCall"];
  /** Discovery, per group version, for the process's lifetime (a failed lookup is not kept). */
  private readonly discovered = new Map<string, Promise<Map<string, ApiResource>>>();

  constructor(opts: KubeClientOptions) {
    this.kc = opts.kubeConfig;
    this.logger = opts.logger;
    this.fieldManager = opts.fieldManager ?? "minispod";
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.onCall = opts.onCall;
    this.server = this.kc.getCurrentCluster().server;
    this.send = this.server.startsWith("https:") ? httpsRequest : httpRequest;
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
   * Send one request and wait for its response headers (bounded by the request timeout). A non-2xx
   * answer is read whole and thrown as a `KubeApiError` (mapped by `toKubeError`); a 2xx response is
   * handed back unread. A 401 drops cached credentials, so the next attempt fetches fresh ones.
   */
  private async open(
    method: string,
    path: string,
    o: RequestOptions,
    bound: { signal: AbortSignal } | { deadline: RequestDeadline },
  ): Promise<IncomingMessage> {
    const { agent, headers } = await this.kc.requestAuth();
    headers.accept = o.accept ?? "application/json";
    if (o.body !== undefined) {
      headers["content-type"] = o.contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(o.body));
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const signal = "signal" in bound ? bound.signal : undefined;
      const req = this.send(this.server + withQuery(path, o.query), { method, headers, agent, ...(signal ? { signal } : {}) }, resolve);
      if ("deadline" in bound) bound.deadline.bound(req);
      req.on("error", reject);
      req.end(o.body);
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status <= 299) return res;
    const body = await readBody(res);
    if (status === 401) this.kc.invalidateCredentials();
    throw new KubeApiError(status, body, res.headers);
  }

  /**
   * A GET whose body is a stream (watch, log follow): only the wait for the response headers is bounded
   * by the request timeout; `controller` ends the stream later. A response that arrives after the
   * deadline is dropped, and a failure aborts the request.
   */
  private openStream(path: string, o: RequestOptions, controller: AbortController): Promise<IncomingMessage> {
    return withDeadline(this.open("GET", path, o, { signal: controller.signal }), this.requestTimeoutMs, (late) => late.destroy()).catch(
      (err: unknown) => {
        controller.abort();
        throw err;
      },
    );
  }

  /** One request, its whole JSON answer parsed; the request timeout bounds all of it. */
  private requestJson<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    return underDeadline(this.requestTimeoutMs, async (deadline) => {
      const text = await readBody(await this.open(method, path, o, { deadline }));
      return (text ? JSON.parse(text) : {}) as T;
    });
  }

  /**
   * Where the server serves a kind, from its discovery document (`GET /api/v1`, `/apis/<group>/<version>`),
   * as kubectl and client-go find it. A group version the server does not serve (metrics.k8s.io without a
   * metrics server) answers 404 (or 503 while its backend is down); a kind missing from a served group
   * version is reported as a 404 too.
   */
  private async resource(apiVersion: string, kind: string): Promise<ApiResource> {
    let pending = this.discovered.get(apiVersion);
    if (!pending) {
      pending = this.requestJson<{ resources?: { name?: string; kind?: string; namespaced?: boolean }[] }>(
        "GET",
        groupVersionPath(apiVersion),
      ).then((list) => {
        const byKind = new Map<string, ApiResource>();
        for (const r of list.resources ?? []) {
          // Subresources (pods/log, deployments/scale) share their parent's kind; they are not collections.
          if (!r.name || !r.kind || r.name.includes("/")) continue;
          byKind.set(r.kind, { plural: r.name, namespaced: r.namespaced === true });
        }
        return byKind;
      });
      this.discovered.set(apiVersion, pending);
      pending.catch(() => this.discovered.delete(apiVersion));
    }
    const found = (await pending).get(kind);
    if (!found) {
      const message = `the server does not serve ${kind} in ${apiVersion}`;
      throw new KubeApiError(404, JSON.stringify({ kind: "Status", status: "Failure", reason: "NotFound", code: 404, message }), {});
    }
    return found;
  }

  /** A kind's collection, in one namespace or (namespace omitted) across all of them. */
  private async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    return `${groupVersionPath(apiVersion)}${ns}/${r.plural}`;
  }

  /** One object; a namespaced kind without a namespace is addressed in "default", as kubectl does. */
  private async objectPath(ref: { apiVersion: string; kind: string; name: string; namespace?: string }): Promise<string> {
    const r = await this.resource(ref.apiVersion, ref.kind);
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(ref.namespace || "default")}` : "";
    return `${groupVersionPath(ref.apiVersion)}${ns}/${r.plural}/${encodeURIComponent(ref.name)}`;
  }

  /**
   * Validate, then server-side apply with this client's field manager and `force` (we own every
   * field we render). Applying the same manifest twice is a no-op on the server.
   * Throws `InvalidManifestError` before any request when the manifest is invalid.
   */
  async apply<T extends LiveObject = LiveObject>(manifest: KubeObject): Promise<T> {
    validateManifest(manifest);
    const ref = refOf(manifest);
    // JSON is YAML: the apply patch is the manifest as kubectl would send it, wire names and all.
    const body = JSON.stringify(manifest);
    return this.call("apply", manifest.kind, `apply ${describeRef(ref)}`, async () =>
      this.requestJson<T>("PATCH", await this.objectPath(ref), {
        query: { fieldManager: this.fieldManager, force: true },
        body,
        contentType: "application/apply-patch+yaml",
      }),
    );
  }

  /** Apply in order, stopping at the first failure (later objects usually depend on earlier ones). */
  async applyAll(manifests: readonly KubeObject[]): Promise<LiveObject[]> {
    const out: LiveObject[] = [];
    for (const m of manifests) out.push(await this.apply(m));
    return out;
  }

  /** Read one object. Throws `KubeNotFoundError` when it does not exist. */
  async get<T extends LiveObject = LiveObject>(ref: ObjectRef): Promise<T> {
    return this.call("get", ref.kind, `get ${describeRef(ref)}`, async () => this.requestJson<T>("GET", await this.objectPath(ref)));
  }

  /** Read one object, or `undefined` when it does not exist. */
  async find<T extends LiveObject = LiveObject>(ref: ObjectRef): Promise<T | undefined> {
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
    const body = JSON.stringify({ apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: opts.propagationPolicy ?? "Background" });
    try {
      await this.call("delete", ref.kind, `delete ${describeRef(ref)}`, async () =>
        this.requestJson("DELETE", await this.objectPath(ref), { body }),
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
   * Items are the server's JSON (timestamps as strings).
   */
  async listAll<T = LiveObject>(
    kind: KnownKind | KindRef,
    labelSelector?: string,
    opts: ListOptions = {},
    sink?: ListSink<T>,
  ): Promise<ListResult<T>> {
    return this.listPaged<T>(undefined, kind, labelSelector, opts, sink);
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
    return this.listPaged<ObjectMetadataOnly>(PARTIAL_METADATA_LIST, kind, labelSelector, opts, sink);
  }

  private async listPaged<T>(
    accept: string | undefined,
    kind: KnownKind | KindRef,
    labelSelector: string | undefined,
    opts: ListOptions,
    sink: ListSink<T> | undefined,
  ): Promise<ListResult<T>> {
    const { apiVersion, kind: k } = kindRef(kind);
    const pageSize = opts.pageSize ?? 500;
    const operation = `list ${apiVersion} ${k}${opts.namespace ? ` in ${opts.namespace}` : ""}`;
    let calls = 0;
    for (let restart = 0; ; restart++) {
      const items: T[] = [];
      let token: string | undefined;
      let resourceVersion: string | undefined;
      try {
        do {
          const query: Query = { labelSelector, fieldSelector: opts.fieldSelector, limit: pageSize || undefined, continue: token };
          const page = await this.call("list", k, operation, async () =>
            this.requestJson<{ items?: T[]; metadata?: { continue?: string; resourceVersion?: string } }>(
              "GET",
              await this.collectionPath(apiVersion, k, opts.namespace),
              { query, ...(accept ? { accept } : {}) },
            ),
          );
          calls++;
          if (sink) for (const item of page.items ?? []) sink.item(item);
          else for (const item of page.items ?? []) items.push(item);
          resourceVersion ??= page.metadata?.resourceVersion;
          token = page.metadata?.continue || undefined;
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
    onEvent: (type: WatchEventType, object: LiveObject) => void,
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
    const controller = new AbortController();
    const abort = () => controller.abort();
    let res: IncomingMessage;
    try {
      const path = await this.collectionPath(apiVersion, k);
      const query: Query = {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: opts.resourceVersion,
        timeoutSeconds: opts.timeoutSeconds,
        labelSelector: opts.labelSelector,
      };
      const accept = opts.metadataOnly ? PARTIAL_METADATA_WATCH : "application/json";
      res = await this.openStream(path, { query, accept }, controller);
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
          let event: { type?: WatchEventType; object?: LiveObject };
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
   * Pod logs. Without `follow`: the lines (tail/since applied by the server), the whole read bounded
   * by the request timeout. With `follow`: a Readable of raw log bytes, open once the server has
   * answered, that ends when the container stops; destroy it to stop following.
   */
  logs(namespace: string, podName: string, opts: LogsOptions & { follow: true }): Promise<Readable>;
  logs(namespace: string, podName: string, opts?: LogsOptions & { follow?: false }): Promise<string[]>;
  async logs(namespace: string, podName: string, opts: LogsOptions = {}): Promise<string[] | Readable> {
    const container = opts.container ?? (await this.firstContainer(namespace, podName));
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}/log`;
    const query: Query = {
      container,
      tailLines: opts.tailLines,
      sinceSeconds: opts.sinceSeconds,
      timestamps: opts.timestamps ? true : undefined,
      follow: opts.follow ? true : undefined,
    };
    const operation = `logs ${namespace}/${podName}/${container}`;
    const accept = "text/plain, */*";

    if (opts.follow) {
      return this.call("logs", "Pod", operation, () => this.openStream(path, { query, accept }, new AbortController()));
    }

    const text = await this.call("logs", "Pod", operation, () =>
      underDeadline(this.requestTimeoutMs, async (deadline) => readBody(await this.open("GET", path, { query, accept }, { deadline }))),
    );
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines;
  }

  private async firstContainer(namespace: string, podName: string): Promise<string> {
    const pod = await this.get<LivePod>({ ...KINDS.Pod, name: podName, namespace });
    const name = pod.spec?.containers?.[0]?.name;
    if (!name) throw new KubeNotFoundError(`pod ${namespace}/${podName} has no containers`, { statusCode: 404 });
    return name;
  }

  /**
   * CPU (millicores) and memory (MiB) per pod from metrics.k8s.io. A cluster without a metrics
   * server (404) or with one that is down (the API server answers 503) yields
   * `{available: false}` — "no usage data" is not an error. An unreachable API server still throws.
   */
  async podMetrics(namespace?: string, selector?: string, opts: { pageSize?: number } = {}): Promise<PodMetricsResult> {
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
    return this.call("version", "version", "GET /version", () => this.requestJson<VersionInfo>("GET", "/version"));
  }
}

/** The API server's `GET /version` answer. */
export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  platform?: string;
  [field: string]: unknown;
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

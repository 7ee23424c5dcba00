/**
 * An informer: one kind, one label selector, kept in memory by LIST then WATCH — what client-go's
 * (metadata) informers do, through the one cluster client (`KubeClient.listAll`/`listMetadata` and
 * `KubeClient.watch`, same kubeconfig, auth, TLS and timeouts):
 *
 *  1. LIST every matching object (paginated) and remember the list's resourceVersion;
 *  2. WATCH from that resourceVersion with bookmarks; ADDED/MODIFIED store the object, DELETED
 *     removes it, BOOKMARK (and every event) advances `resourceVersion`;
 *  3. when the server ends the watch (its timeout, a restart), watch again from the last
 *     resourceVersion — nothing is missed, the server replays what happened meanwhile;
 *  4. when the server no longer has that history (410 Gone/Expired, as an ERROR event or a status),
 *     LIST again and replace the cache;
 *  5. any other failure (network, 5xx, 403) marks the informer broken and retries with a capped
 *     exponential backoff.
 *
 * `synced` is true only after the first LIST while a watch is open: then the cache is the cluster as
 * of `resourceVersion`, behind it only by the watch's delivery delay. Readers must not trust an
 * unsynced informer (use a LIST instead). What is kept per object is `transform(object)`, so a cache
 * of 10,000 pods holds their summaries, not the pods.
 *
 * Timers and sockets: `stop()` closes the watch, cancels a pending backoff and waits for the loop;
 * nothing is left open (the watch has a server-side timeout and a client-side cut as well).
 */
import type { LiveObject, ObjectMeta } from "./objects.js";
import type { KnownKind, KubeClient, WatchStream } from "./client.js";
import { KubeConflictError } from "./kube-errors.js";
import { cachedMetadataStrings } from "./string-pool.js";

type Meta = LiveObject;

export interface InformerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface InformerOptions<T> {
  client: KubeClient;
  kind: KnownKind;
  labelSelector: string;
  /** Metadata only (PartialObjectMetadataList / PartialObjectMetadata watch events): never a Secret's data. */
  metadataOnly: boolean;
  /** What the cache keeps of each object (called once per ADDED/MODIFIED and per listed object). */
  transform: (obj: Meta) => T;
  logger: InformerLogger;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /** Server-side timeout of one watch; client-go picks 5-10 min at random. Default: random 300-600 s. */
  watchTimeoutSeconds?: () => number;
  /** Backoff after a failure: starts here, doubles, capped at `maxBackoffMs`. Defaults 500 / 30000. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** `reconnecting`: the server ended the watch cleanly and it is being opened again from `resourceVersion`. */
export type InformerState = "stopped" | "listing" | "watching" | "reconnecting" | "broken";

export interface InformerStats {
  lists: number;
  watches: number;
  /** LISTs again after 410 Gone/Expired. */
  relists: number;
  events: number;
  failures: number;
}

/** Reading an informer's objects: by namespace and name, or all of them. */
export interface CacheView<T> {
  get(namespace: string, name: string): T | undefined;
  values(): Iterable<T>;
}

/**
 * A namespace's objects of one kind while there are few of them: names and values alternating in an
 * array exactly as long as they need. A user's namespace holds a handful of each kind, and V8's
 * smallest Map table costs about three times such an array (capacity 4: ~180 bytes against ~60 for one
 * object; ~520 against ~210 for ten), once per kind and namespace.
 */
type Pairs = readonly unknown[];
/** Past this many objects a namespace's table becomes a Map (a scan of 16 names is still cheap). */
const MAX_PAIRS = 16;

function pairIndex(pairs: Pairs, name: string): number {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return i;
  return -1;
}

/**
 * The cache: objects by namespace, then by name — no "namespace/name" key string per object (with
 * 10,000 objects those keys cost more than a small projection). A namespace's few objects are kept
 * as pairs in one array, its many in a Map (see `Pairs`). A namespace left empty is dropped.
 * Also how a reader keeps a LIST's items when no informer is synced (kube-fleet-reader.ts).
 */
export class ObjectStore<T> implements CacheView<T> {
  private readonly byNamespace = new Map<string, Pairs | Map<string, T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(namespace: string, name: string): T | undefined {
    const names = this.byNamespace.get(namespace);
    if (names === undefined) return undefined;
    if (names instanceof Map) return names.get(name);
    const i = pairIndex(names, name);
    return i < 0 ? undefined : (names[i + 1] as T);
  }

  set(m: ObjectMeta | undefined, value: T): void {
    const namespace = m?.namespace ?? "";
    // The pool's copy when the projection pooled the name (a tenant baseline's, repeated in every namespace).
    const name = cachedMetadataStrings.shared(m?.name ?? "");
    const names = this.byNamespace.get(namespace);
    if (names === undefined) {
      // The pool's copy of the namespace: the one the cached projections hold too (string-pool.ts).
      this.byNamespace.set(cachedMetadataStrings.intern(namespace), [name, value]);
      this.count++;
      return;
    }
    if (names instanceof Map) {
      const before = names.size;
      names.set(name, value);
      this.count += names.size - before;
      return;
    }
    const i = pairIndex(names, name);
    if (i >= 0) {
      (names as unknown[])[i + 1] = value;
      return;
    }
    this.count++;
    if (names.length < 2 * MAX_PAIRS) {
      // concat allocates exactly the new length (push would leave spare capacity in every array).
      this.byNamespace.set(namespace, names.concat([name, value]));
      return;
    }
    const map = new Map<string, T>();
    for (let j = 0; j < names.length; j += 2) map.set(names[j] as string, names[j + 1] as T);
    map.set(name, value);
    this.byNamespace.set(namespace, map);
  }

  delete(m: ObjectMeta | undefined): void {
    const namespace = m?.namespace ?? "";
    const name = m?.name ?? "";
    const names = this.byNamespace.get(namespace);
    if (names === undefined) return;
    let left: number;
    if (names instanceof Map) {
      if (!names.delete(name)) return;
      left = names.size;
    } else {
      const i = pairIndex(names, name);
      if (i < 0) return;
      left = names.length / 2 - 1;
      if (left > 0) this.byNamespace.set(namespace, names.slice(0, i).concat(names.slice(i + 2)));
    }
    this.count--;
    if (left === 0) this.byNamespace.delete(namespace);
  }

  *values(): IterableIterator<T> {
    for (const names of this.byNamespace.values()) {
      if (names instanceof Map) yield* names.values();
      else for (let i = 1; i < names.length; i += 2) yield names[i] as T;
    }
  }
}

/** Whether a watch ERROR event / failure means "resourceVersion too old": LIST again. */
function isExpired(err: unknown): boolean {
  return err instanceof KubeConflictError && err.statusCode === 410;
}

class ExpiredError extends Error {}

export class Informer<T> {
  readonly kind: KnownKind;
  private cache = new ObjectStore<T>();
  private rv: string | undefined;
  private listed = false;
  private _state: InformerState = "stopped";
  private loop: Promise<void> | undefined;
  private stream: WatchStream | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private lastError: string | undefined;
  private readonly waiters = new Set<() => void>();
  readonly stats: InformerStats = { lists: 0, watches: 0, relists: 0, events: 0, failures: 0 };

  constructor(private readonly o: InformerOptions<T>) {
    this.kind = o.kind;
  }

  get state(): InformerState {
    return this._state;
  }

  /** Listed, and a watch is open: the cache is the cluster as of `resourceVersion` (plus the watch's delivery delay). */
  get synced(): boolean {
    return this.listed && this._state === "watching";
  }

  /** The newest resourceVersion the cache reflects (the LIST's, then every event's and bookmark's). */
  get resourceVersion(): string | undefined {
    return this.rv;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  get size(): number {
    return this.cache.size;
  }

  /** The cached objects (as `transform` made them). Read synchronously: the cache changes between ticks. */
  values(): IterableIterator<T> {
    return this.cache.values();
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(namespace, name);
  }

  /**
   * The cache as it is now and the resourceVersion it is current to, for a reader that reads it later
   * (across awaits) without copying it: the watch goes on updating it (only ever newer than that
   * resourceVersion), and a LIST again replaces the cache instead of changing the one handed out.
   */
  current(): { resourceVersion: string | undefined; objects: CacheView<T> } {
    return { resourceVersion: this.rv, objects: this.cache };
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run().finally(() => {
      this._state = "stopped";
      this.loop = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stream?.close();
    this.wake?.();
    await this.loop;
    this.listed = false;
    this.notify();
  }

  /**
   * Resolves once `predicate()` holds, checked now and after every change of the cache or state
   * (for tests and for callers that must see a given change). Rejects when the informer stops.
   */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          this.waiters.delete(check);
          resolve();
        } else if (this.stopping) {
          this.waiters.delete(check);
          reject(new Error(`informer ${this.kind} stopped`));
        }
      };
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private setState(s: InformerState): void {
    this._state = s;
    this.notify();
  }

  private async run(): Promise<void> {
    const { logger } = this.o;
    let backoff = this.o.minBackoffMs ?? 500;
    let watchesAtFailure = 0;
    while (!this.stopping) {
      try {
        if (this.rv === undefined || !this.listed) await this.list();
        if (this.stopping) break;
        await this.watchOnce();
      } catch (err) {
        if (this.stopping) break;
        // A watch that opened before failing starts the backoff again from the bottom.
        if (this.stats.watches > watchesAtFailure) backoff = this.o.minBackoffMs ?? 500;
        watchesAtFailure = this.stats.watches;
        if (err instanceof ExpiredError || isExpired(err)) {
          // The server's history no longer reaches our resourceVersion: LIST again.
          logger.info({ kind: this.kind, resourceVersion: this.rv }, "informer: resourceVersion expired (410); listing again");
          this.listed = false;
          this.rv = undefined;
          this.stats.relists++;
          continue;
        }
        this.stats.failures++;
        this.lastError = (err as Error).message;
        this.setState("broken");
        logger.warn({ kind: this.kind, err: this.lastError, retryInMs: backoff }, "informer: list/watch failed; retrying");
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.maxBackoffMs ?? 30_000);
      }
    }
    this.stream = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async list(): Promise<void> {
    this.setState("listing");
    this.listed = false;
    const { client, kind, labelSelector, pageSize = 500 } = this.o;
    // Each page's objects are projected as they arrive: the LIST is never held whole.
    let next = new ObjectStore<T>();
    const sink = {
      item: (obj: Meta) => next.set(obj.metadata, this.o.transform(obj)),
      restart: () => {
        next = new ObjectStore<T>();
      },
    };
    const result = this.o.metadataOnly
      ? await client.listMetadata(kind, labelSelector, { pageSize }, sink)
      : await client.listAll<Meta>(kind, labelSelector, { pageSize }, sink);
    if (!result.resourceVersion) throw new Error(`LIST ${kind} returned no resourceVersion`);
    this.cache = next;
    this.rv = result.resourceVersion;
    this.listed = true;
    this.stats.lists++;
  }

  private async watchOnce(): Promise<void> {
    const { client, kind, labelSelector, metadataOnly } = this.o;
    const timeoutSeconds = this.o.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
    let expired: unknown;
    let failure: unknown;
    const stream = await client.watch(
      kind,
      { labelSelector, metadataOnly, resourceVersion: this.rv ?? "", timeoutSeconds },
      (type, obj) => {
        if (expired || failure) return;
        const rv = obj.metadata?.resourceVersion;
        this.stats.events++;
        switch (type) {
          case "ADDED":
          case "MODIFIED":
            this.cache.set(obj.metadata, this.o.transform(obj));
            break;
          case "DELETED":
            this.cache.delete(obj.metadata);
            break;
          case "BOOKMARK":
            break;
          case "ERROR": {
            const status = obj as { code?: number; reason?: string; message?: string };
            if (status.code === 410 || status.reason === "Expired" || status.reason === "Gone") expired = new ExpiredError(status.message);
            else failure = new Error(`watch ${kind}: ERROR event ${status.code ?? "?"} ${status.reason ?? ""}: ${status.message ?? ""}`);
            this.stream?.close();
            return;
          }
        }
        if (rv) this.rv = rv;
        this.notify();
      },
    );
    this.stream = stream;
    this.stats.watches++;
    this.lastError = undefined;
    this.setState("watching");
    if (this.stopping) stream.close();
    try {
      await stream.ended;
    } finally {
      this.stream = undefined;
      // Not synced until a watch is open again (events meanwhile are replayed by the next watch).
      if (!this.stopping) this.setState("reconnecting");
    }
    if (expired) throw expired;
    if (failure) throw failure;
  }
}

/**
 * In-memory object store with one global, increasing resourceVersion and a bounded event history
 * for watches. Stored objects are never mutated after `write` (writers build a new object), so LIST
 * and watch can hand out references and the only per-item cost of a LIST is serialisation.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import type { Matcher } from "./selectors.js";
import type { KubeObject } from "./types.js";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  rv: number;
  resource: string;
  namespace: string;
  object: KubeObject;
  /** The object before a MODIFIED/DELETED event (watchers need it to turn a selector miss into DELETED). */
  previous?: KubeObject;
}

export interface ListOptions {
  namespace?: string;
  match?: Matcher;
  limit?: number;
  /** Exclusive start key (`<namespace>/<name>`), taken from a continue token. */
  after?: string;
}

export interface ListResult {
  items: KubeObject[];
  /** Key of the last returned item when more matching items may follow. */
  nextKey?: string;
  remainingItemCount?: number;
}

class Bucket {
  readonly byNamespace = new Map<string, Map<string, KubeObject>>();
  size = 0;
  private sorted: string[] | undefined;

  sortedKeys(): string[] {
    if (!this.sorted) {
      const keys: string[] = [];
      for (const [ns, objs] of this.byNamespace) for (const name of objs.keys()) keys.push(`${ns}/${name}`);
      keys.sort();
      this.sorted = keys;
    }
    return this.sorted;
  }

  invalidate(): void {
    this.sorted = undefined;
  }
}

/** First index whose key is strictly greater than `after`. */
function upperBound(keys: string[], after: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * EMULATOR_CHECK_STORED=1 (the test suites set it, vitest.config.ts): the JSON of every stored object is
 * kept, and replacing or removing an object that changed since it was stored throws. Lists, watches and
 * the values derived once per stored object (`derivedOnce`) rely on stored objects never changing.
 */
const storedJson = process.env.EMULATOR_CHECK_STORED ? new WeakMap<KubeObject, string>() : undefined;

function assertUnchanged(stored: KubeObject, resource: string): void {
  const then = storedJson?.get(stored);
  if (then === undefined || then === JSON.stringify(stored)) return;
  throw new Error(
    `emulator: the stored ${resource} ${stored.metadata.namespace ?? ""}/${stored.metadata.name} was mutated after it was stored`,
  );
}

export class Store {
  private rv = 0;
  private readonly buckets = new Map<string, Bucket>();
  private history: StoreEvent[] = [];
  /** Events with rv <= compactedRv are gone from history; older watches get 410 Expired. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  constructor(private readonly historySize: number) {}

  get resourceVersion(): number {
    return this.rv;
  }

  get oldestWatchableRv(): number {
    return this.compactedRv;
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private bucket(resource: string): Bucket {
    let b = this.buckets.get(resource);
    if (!b) {
      b = new Bucket();
      this.buckets.set(resource, b);
    }
    return b;
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.buckets.get(resource)?.byNamespace.get(namespace)?.get(name);
  }

  count(resource: string, namespace?: string): number {
    const b = this.buckets.get(resource);
    if (!b) return 0;
    return namespace === undefined ? b.size : (b.byNamespace.get(namespace)?.size ?? 0);
  }

  /** Every object of a resource type in one namespace (or all), unsorted; for controllers. */
  *iterate(resource: string, namespace?: string): Iterable<KubeObject> {
    const b = this.buckets.get(resource);
    if (!b) return;
    if (namespace !== undefined) {
      const objs = b.byNamespace.get(namespace);
      if (objs) yield* objs.values();
      return;
    }
    for (const objs of b.byNamespace.values()) yield* objs.values();
  }

  resources(): string[] {
    return [...this.buckets.keys()];
  }

  /**
   * Ordered, paginated list. Order is the etcd key order (`<namespace>/<name>`), which is what
   * makes continue tokens stable across pages.
   */
  list(resource: string, opts: ListOptions): ListResult {
    const b = this.buckets.get(resource);
    if (!b) return { items: [] };
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Number.POSITIVE_INFINITY;
    const items: KubeObject[] = [];
    let keys: string[];
    let lookup: (key: string) => KubeObject | undefined;
    if (opts.namespace !== undefined) {
      const objs = b.byNamespace.get(opts.namespace);
      if (!objs) return { items: [] };
      const prefix = `${opts.namespace}/`;
      keys = [...objs.keys()].sort().map((n) => prefix + n);
      lookup = (key) => objs.get(key.slice(prefix.length));
    } else {
      keys = b.sortedKeys();
      lookup = (key) => {
        const slash = key.indexOf("/");
        return b.byNamespace.get(key.slice(0, slash))?.get(key.slice(slash + 1));
      };
    }
    let i = opts.after === undefined ? 0 : upperBound(keys, opts.after);
    for (; i < keys.length; i++) {
      const obj = lookup(keys[i]);
      if (!obj || (opts.match && !opts.match(obj))) continue;
      if (items.length === limit) {
        // One more match exists: hand out a continue token. Like the real server, the remaining
        // count is only known (and only reported) when no selector filters the items.
        const res: ListResult = { items, nextKey: keys[i - 1] };
        // keys[i-1] may be a filtered-out key; resuming after it is still correct.
        if (!opts.match) res.remainingItemCount = keys.length - i;
        return res;
      }
      items.push(obj);
    }
    return { items };
  }

  /**
   * Stores `obj` (which the caller must not mutate afterwards), stamping a fresh resourceVersion.
   * `silent` skips history and listeners: used by bulk seeding, which then compacts the history.
   */
  write(resource: string, obj: KubeObject, opts: { silent?: boolean } = {}): StoreEvent {
    const ns = obj.metadata.namespace ?? "";
    const b = this.bucket(resource);
    let objs = b.byNamespace.get(ns);
    if (!objs) {
      objs = new Map();
      b.byNamespace.set(ns, objs);
    }
    const previous = objs.get(obj.metadata.name);
    if (previous) assertUnchanged(previous, resource);
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    objs.set(obj.metadata.name, obj);
    storedJson?.set(obj, JSON.stringify(obj));
    if (!previous) {
      b.size++;
      b.invalidate();
    }
    const event: StoreEvent = {
      type: previous ? "MODIFIED" : "ADDED",
      rv: this.rv,
      resource,
      namespace: ns,
      object: obj,
      previous,
    };
    if (opts.silent) this.compactedRv = this.rv;
    else this.emit(event);
    return event;
  }

  remove(resource: string, namespace: string, name: string): StoreEvent | undefined {
    const b = this.buckets.get(resource);
    const objs = b?.byNamespace.get(namespace);
    const previous = objs?.get(name);
    if (!b || !objs || !previous) return undefined;
    assertUnchanged(previous, resource);
    objs.delete(name);
    if (objs.size === 0) b.byNamespace.delete(namespace);
    b.size--;
    b.invalidate();
    this.rv++;
    // The DELETED event carries the last state with the deletion's resourceVersion, as etcd does.
    const object: KubeObject = {
      ...previous,
      metadata: { ...previous.metadata, resourceVersion: String(this.rv) },
    };
    const event: StoreEvent = {
      type: "DELETED",
      rv: this.rv,
      resource,
      namespace,
      object,
      previous,
    };
    this.emit(event);
    return event;
  }

  /** Events after `rv` for one resource type, or undefined when history no longer reaches back. */
  eventsSince(rv: number, resource: string): StoreEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    const out: StoreEvent[] = [];
    for (let i = lo; i < this.history.length; i++) if (this.history[i].resource === resource) out.push(this.history[i]);
    return out;
  }

  /** Drops all history, as an etcd compaction would (tests use it to provoke 410 Expired). */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.historySize * 2) {
      const dropped = this.history.length - this.historySize;
      this.compactedRv = this.history[dropped - 1].rv;
      this.history = this.history.slice(dropped);
    }
    for (const fn of this.listeners) fn(event);
  }
}

/**
 * The API server's semantics, independent of HTTP: create / get / list / update / patch / apply /
 * delete over the store, with validation, defaulting, field ownership and namespace lifecycle.
 * The router (router.ts) translates HTTP to these calls; tests and seeding may call them directly.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { randomUUID } from "node:crypto";
import { admit, quotaUsed, usageChanged, usageOfStored } from "./admission.js";
import { ApiError, errors, type Status } from "./errors.js";
import { serverSideApply, updateOwnership } from "./managed-fields.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { findByKind, groupVersion, mustFindByKind, NAMESPACES, PODS, type ResourceInfo, resourceKey } from "./resources.js";

const RESOURCEQUOTAS = mustFindByKind("v1", "ResourceQuota");
import { type Matcher, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { Store } from "./store.js";
import { deepEqual, isRecord, type KubeObject, k8sTime, type ObjectMeta, Rng } from "./types.js";
import { applyDefaults, validateObject } from "./validation.js";

/** Kinds whose metadata.generation the real server maintains. */
const GENERATION_KINDS = new Set(["Deployment", "StatefulSet", "ReplicaSet", "Ingress", "NetworkPolicy", "Certificate", "Pod"]);

export interface WriteOptions {
  fieldManager?: string;
  /** Set by the router when kubectl/client-node send dryRun=All: validate and answer, store nothing. */
  dryRun?: boolean;
  /** Admission warnings (PodSecurity warn) are pushed here; the router answers them as `Warning` headers. */
  warnings?: string[];
}

export interface ListQuery {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListObject {
  kind: string;
  apiVersion: string;
  metadata: {
    resourceVersion: string;
    continue?: string;
    remainingItemCount?: number;
  };
  items: unknown[];
}

export interface ClusterOptions {
  watchHistorySize: number;
  namespaceDeletionDelayMs: number;
  seed: number;
  clock: () => number;
}

/** Builds PodMetrics on demand (metrics.ts); injected to keep this module about storage semantics. */
export type VirtualLister = (info: ResourceInfo, namespace: string | undefined) => KubeObject[];

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

export function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start } satisfies ContinueToken)).toString("base64");
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as ContinueToken;
    if (parsed.v !== "meta.k8s.io/v1" || typeof parsed.start !== "string" || typeof parsed.rv !== "number") throw new Error("bad");
    return parsed;
  } catch {
    throw errors.badRequest(`continue key is not valid: illegal base64 data or unknown version`);
  }
}

export class Cluster {
  readonly store: Store;
  readonly rng: Rng;
  virtualLister: VirtualLister = () => [];
  private nextIp = 1;
  private readonly namespaceTimers = new Map<string, NodeJS.Timeout>();

  constructor(readonly opts: ClusterOptions) {
    this.store = new Store(opts.watchHistorySize);
    this.rng = new Rng(opts.seed);
  }

  now(): number {
    return this.opts.clock();
  }

  allocateClusterIp(): string {
    const n = this.nextIp++;
    return `10.96.${(n >> 8) & 255}.${n & 255}`;
  }

  get(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
    if (info.virtual) {
      const found = this.virtualLister(info, namespace).find((o) => o.metadata.name === name);
      if (!found) throw errors.notFound(info, name);
      return found;
    }
    const obj = this.store.get(resourceKey(info), namespace ?? "", name);
    if (!obj) throw errors.notFound(info, name);
    return obj;
  }

  tryGet(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(resourceKey(info), namespace ?? "", name);
  }

  matchers(info: ResourceInfo, q: Pick<ListQuery, "labelSelector" | "fieldSelector">): Matcher | undefined {
    const label = parseLabelSelector(q.labelSelector);
    const field = parseFieldSelector(q.fieldSelector, info.fieldSelectors);
    if (label && field) return (o) => label(o) && field(o);
    return label ?? field;
  }

  list(info: ResourceInfo, q: ListQuery): ListObject {
    const match = this.matchers(info, q);
    const token = q.continue ? decodeContinue(q.continue) : undefined;
    const rv = token?.rv ?? this.store.resourceVersion;
    const limit = q.limit && q.limit > 0 ? q.limit : undefined;
    let page: {
      items: KubeObject[];
      nextKey?: string;
      remainingItemCount?: number;
    };
    if (info.virtual) {
      const all = this.virtualLister(info, q.namespace)
        .filter((o) => !match || match(o))
        .map((o) => ({ key: `${o.metadata.namespace}/${o.metadata.name}`, o }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const start = token ? all.findIndex((e) => e.key > token.start) : 0;
      const rest = start < 0 ? [] : all.slice(start);
      const items = limit ? rest.slice(0, limit) : rest;
      page = { items: items.map((e) => e.o) };
      if (limit && rest.length > limit) page.nextKey = items[items.length - 1].key;
    } else {
      page = this.store.list(resourceKey(info), {
        namespace: q.namespace,
        match,
        limit,
        after: token?.start,
      });
    }
    const metadata: ListObject["metadata"] = { resourceVersion: String(rv) };
    if (page.nextKey !== undefined) {
      metadata.continue = encodeContinue(rv, page.nextKey);
      if (page.remainingItemCount !== undefined) metadata.remainingItemCount = page.remainingItemCount;
    }
    // Built-in kinds come back without apiVersion/kind on items (the real server encodes typed
    // lists that way); a shallow copy per item, never a deep one.
    const items = info.builtIn
      ? page.items.map((o) => {
          const { apiVersion: _a, kind: _k, ...rest } = o;
          return rest;
        })
      : page.items;
    return {
      kind: `${info.kind}List`,
      apiVersion: groupVersion(info),
      metadata,
      items,
    };
  }

  /** 404 when the namespace is missing, 403 when it is terminating (creates only). */
  private checkNamespace(info: ResourceInfo, namespace: string | undefined, name: string): void {
    if (!info.namespaced) return;
    const ns = this.store.get(resourceKey(NAMESPACES), "", namespace ?? "");
    if (!ns) throw errors.namespaceNotFound(namespace ?? "");
    if (ns.metadata.deletionTimestamp || (isRecord(ns.status) && ns.status.phase === "Terminating")) {
      throw errors.terminating(info, name, namespace ?? "");
    }
  }

  /** Checks that a request body is an object of the expected kind. */
  checkBody(info: ResourceInfo, body: unknown, namespace: string | undefined, name?: string): KubeObject {
    if (!isRecord(body)) throw errors.badRequest("the body of the request is not a JSON object");
    const gv = groupVersion(info);
    if (body.apiVersion !== undefined && body.apiVersion !== gv) {
      throw errors.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${gv})`);
    }
    if (body.kind !== undefined && body.kind !== info.kind) {
      throw errors.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${info.kind})`);
    }
    const meta = isRecord(body.metadata) ? { ...body.metadata } : {};
    if (name !== undefined && meta.name !== undefined && meta.name !== name) {
      throw errors.badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    if (info.namespaced && meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace) {
      throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    if (name !== undefined) meta.name = name;
    if (info.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    return {
      ...(body as object),
      apiVersion: gv,
      kind: info.kind,
      metadata: meta as unknown as ObjectMeta,
    };
  }

  private initialStatus(info: ResourceInfo): Record<string, unknown> | undefined {
    switch (info.kind) {
      case "Namespace":
        return { phase: "Active" };
      case "Service":
      case "Ingress":
        return { loadBalancer: {} };
      case "PersistentVolumeClaim":
        return { phase: "Pending" };
      default:
        return info.hasStatus ? {} : undefined;
    }
  }

  /**
   * Finishes and stores a write: defaults, validation, system metadata, generation, no-op detection.
   * `next` is a fresh object owned by this call.
   */
  private commit(
    info: ResourceInfo,
    old: KubeObject | undefined,
    next: KubeObject,
    opts: WriteOptions & { keepStatus?: boolean },
  ): KubeObject {
    applyDefaults(info, next, () => this.allocateClusterIp());
    const causes = validateObject(info, next, old);
    if (causes.length > 0) throw errors.invalid(info, next.metadata.name, causes);
    const warnings = admit(this.store, info, next, old);
    opts.warnings?.push(...warnings);
    const now = this.now();
    const meta = next.metadata;
    if (old) {
      meta.uid = old.metadata.uid;
      meta.creationTimestamp = old.metadata.creationTimestamp;
      if (old.metadata.deletionTimestamp) meta.deletionTimestamp = old.metadata.deletionTimestamp;
      else delete meta.deletionTimestamp;
      meta.resourceVersion = old.metadata.resourceVersion;
      if (info.hasStatus && opts.keepStatus !== false) {
        if (old.status === undefined) delete next.status;
        else next.status = old.status;
      }
      if (GENERATION_KINDS.has(info.kind)) {
        const gen = old.metadata.generation ?? 1;
        meta.generation = specChanged(old, next) ? gen + 1 : gen;
      } else delete meta.generation;
      if (deepEqual(old, next)) return old; // a no-op write keeps its resourceVersion
    } else {
      meta.uid = randomUUID();
      meta.creationTimestamp = k8sTime(now);
      if (GENERATION_KINDS.has(info.kind)) meta.generation = 1;
      else delete meta.generation;
      delete meta.deletionTimestamp;
      const status = info.hasStatus ? this.initialStatus(info) : undefined;
      if (status) next.status = status;
      else if (info.hasStatus) delete next.status;
    }
    if (opts.dryRun) return next;
    this.store.write(resourceKey(info), next);
    // The last finalizer of an object being deleted is gone: the object goes.
    let removed = false;
    if (old && meta.deletionTimestamp && !meta.finalizers?.length && info !== NAMESPACES && info !== PODS) {
      this.store.remove(resourceKey(info), meta.namespace ?? "", meta.name);
      removed = true;
    }
    this.refreshQuotas(info, old, removed ? undefined : next, next.metadata.namespace);
    return next;
  }

  /**
   * Quota admission records the new usage in `status.used` as part of the write (the quota
   * controller recomputes it after deletions). Only a quota whose tracked usage this write changed
   * (`old` → `next`, undefined for none) is recomputed: an Event or a status write that moves none of
   * its keys leaves it as it is, as the quota evaluators do.
   */
  refreshQuotas(info: ResourceInfo, old: KubeObject | undefined, next: KubeObject | undefined, namespace: string | undefined): void {
    if (!info.namespaced || !namespace || info.kind === "ResourceQuota") return;
    const key = resourceKey(RESOURCEQUOTAS);
    if (this.store.count(key, namespace) === 0) return;
    const before = old ? usageOfStored(info, old) : {};
    const after = next ? usageOfStored(info, next) : {};
    for (const quota of [...this.store.iterate(key, namespace)]) {
      const hard = isRecord(quota.spec) && isRecord(quota.spec.hard) ? quota.spec.hard : {};
      if (!usageChanged(before, after, hard)) continue;
      const status = { hard, used: quotaUsed(this.store, namespace, hard) };
      if (!deepEqual(quota.status, status)) this.store.write(key, { ...quota, metadata: { ...quota.metadata }, status });
    }
  }

  private assignName(meta: ObjectMeta): void {
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${this.rng.suffix(5)}`;
  }

  create(info: ResourceInfo, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): KubeObject {
    if (info.virtual) throw errors.methodNotSupported(info, "create");
    const obj = this.checkBody(info, body, namespace);
    this.assignName(obj.metadata);
    const name = obj.metadata.name ?? "";
    this.checkNamespace(info, namespace, name);
    if (name && this.tryGet(info, namespace, name)) throw errors.alreadyExists(info, name);
    obj.metadata.resourceVersion = "";
    obj.metadata.managedFields = [];
    applyDefaults(info, obj, () => this.allocateClusterIp());
    obj.metadata.managedFields = updateOwnership({
      old: undefined,
      next: obj,
      manager: opts.fieldManager ?? "unknown",
      apiVersion: groupVersion(info),
      now: k8sTime(this.now()),
    });
    return this.commit(info, undefined, obj, opts);
  }

  update(info: ResourceInfo, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions = {}): KubeObject {
    if (info.virtual) throw errors.methodNotSupported(info, "update");
    const obj = this.checkBody(info, body, namespace, name);
    const live = this.get(info, namespace, name);
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== live.metadata.resourceVersion) throw errors.conflict(info, name);
    obj.metadata.managedFields = live.metadata.managedFields;
    applyDefaults(info, obj, () => this.allocateClusterIp());
    obj.metadata.managedFields = updateOwnership({
      old: live,
      next: obj,
      manager: opts.fieldManager ?? "unknown",
      apiVersion: groupVersion(info),
      now: k8sTime(this.now()),
    });
    return this.commit(info, live, obj, opts);
  }

  /** PUT/PATCH .../status: only status changes; everything else is taken from the live object. */
  updateStatus(info: ResourceInfo, namespace: string | undefined, name: string, status: unknown, rv?: string): KubeObject {
    const live = this.get(info, namespace, name);
    if (rv !== undefined && rv !== "" && rv !== live.metadata.resourceVersion) throw errors.conflict(info, name);
    if (deepEqual(live.status, status)) return live;
    const next: KubeObject = {
      ...live,
      metadata: { ...live.metadata },
      status,
    };
    this.store.write(resourceKey(info), next);
    return next;
  }

  /**
   * PATCH. Returns the object and whether it was created (server-side apply of an absent object
   * answers 201).
   */
  patch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    contentType: string,
    body: unknown,
    opts: WriteOptions & { force?: boolean; subresource?: "status" },
  ): { object: KubeObject; created: boolean } {
    if (info.virtual) throw errors.methodNotSupported(info, "patch");
    const gv = groupVersion(info);
    const now = k8sTime(this.now());
    if (contentType === "application/apply-patch+yaml") {
      if (!opts.fieldManager) throw errors.badRequest("PATCH, application/apply-patch+yaml: fieldManager must be set for apply requests");
      if (!isRecord(body) || typeof body.apiVersion !== "string" || typeof body.kind !== "string") {
        throw errors.badRequest("Object 'Kind' is missing in the applied configuration (apiVersion and kind are required)");
      }
      const config = this.checkBody(info, body, namespace, name);
      const live = this.tryGet(info, namespace, name);
      if (opts.subresource === "status") {
        if (!live) throw errors.notFound(info, name);
        return {
          object: this.updateStatus(info, namespace, name, config.status),
          created: false,
        };
      }
      if (!live) this.checkNamespace(info, namespace, name);
      // As on a real server, a resourceVersion in the applied configuration is a precondition.
      const wantRv = (config.metadata as { resourceVersion?: unknown }).resourceVersion;
      if (typeof wantRv === "string" && wantRv !== "" && wantRv !== live?.metadata.resourceVersion) {
        throw live ? errors.conflict(info, name) : errors.notFound(info, name);
      }
      const merged = serverSideApply({
        live,
        config,
        manager: opts.fieldManager,
        force: opts.force === true,
        now,
      });
      merged.apiVersion = gv;
      merged.kind = info.kind;
      const object = this.commit(info, live, merged, opts);
      return { object, created: !live };
    }
    if (opts.force !== undefined && opts.force) throw errors.badRequest("force must be unset for non-apply patch requests");
    const live = this.get(info, namespace, name);
    let patched: unknown;
    switch (contentType) {
      case "application/json-patch+json":
        patched = jsonPatch(live, body);
        break;
      case "application/merge-patch+json":
        if (!isRecord(body)) throw errors.badRequest("json: cannot unmarshal into Go value of type map[string]interface {}");
        patched = mergePatch(live, body);
        break;
      case "application/strategic-merge-patch+json":
        // The real server refuses strategic merge patches on custom resources.
        if (!info.builtIn) {
          throw errors.unsupportedMediaType(contentType, [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
          ]);
        }
        if (!isRecord(body)) throw errors.badRequest("json: cannot unmarshal into Go value of type map[string]interface {}");
        patched = strategicMergePatch(live, body);
        break;
      default:
        throw errors.unsupportedMediaType(contentType, [
          "application/json-patch+json",
          "application/merge-patch+json",
          "application/apply-patch+yaml",
          "application/strategic-merge-patch+json",
        ]);
    }
    if (!isRecord(patched) || !isRecord(patched.metadata)) throw new ApiError(422, "Invalid", "patched object is not a valid object");
    const rv = (patched.metadata as Record<string, unknown>).resourceVersion;
    if (typeof rv === "string" && rv !== live.metadata.resourceVersion) throw errors.conflict(info, name);
    if (opts.subresource === "status") {
      return {
        object: this.updateStatus(info, namespace, name, patched.status),
        created: false,
      };
    }
    const next = this.checkBody(info, patched, namespace, name);
    next.metadata.managedFields = live.metadata.managedFields;
    applyDefaults(info, next, () => this.allocateClusterIp());
    next.metadata.managedFields = updateOwnership({
      old: live,
      next,
      manager: opts.fieldManager ?? "unknown",
      apiVersion: gv,
      now,
    });
    return { object: this.commit(info, live, next, opts), created: false };
  }

  /** DELETE. Returns the deleted object or a Success Status, as the real registry does per kind. */
  delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    opts: {
      propagationPolicy?: string;
      preconditions?: { uid?: string; resourceVersion?: string };
      dryRun?: boolean;
      gracePeriodSeconds?: number;
    } = {},
  ): KubeObject | Status {
    if (info.virtual) throw errors.methodNotSupported(info, "delete");
    const live = this.get(info, namespace, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== live.metadata.uid) {
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${info.plural} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${live.metadata.uid}`,
        { name, kind: info.plural },
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== live.metadata.resourceVersion) throw errors.conflict(info, name);
    if (opts.dryRun) return live;
    if (info === NAMESPACES) return this.beginNamespaceDeletion(live);
    const pending = this.beginGracefulDeletion(info, live, opts.gracePeriodSeconds);
    if (pending) return pending;
    if (opts.propagationPolicy === "Orphan") this.orphanDependents(live);
    const event = this.store.remove(resourceKey(info), namespace ?? "", name);
    const gone = event?.object ?? live;
    if (info.returnDeletedObject) {
      const ts = k8sTime(this.now());
      return {
        ...gone,
        metadata: {
          ...gone.metadata,
          deletionTimestamp: ts,
          deletionGracePeriodSeconds: info === PODS ? 0 : undefined,
        },
      };
    }
    const details: Status["details"] = {
      name,
      kind: info.plural,
      uid: live.metadata.uid,
    };
    if (info.group) details.group = info.group;
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details,
      code: 200,
    } as unknown as Status;
  }

  /**
   * A deletion that does not remove the object yet, as the registry does it: a scheduled, running
   * pod gets `deletionTimestamp` = now + its grace period (the request's `gracePeriodSeconds`, else
   * `terminationGracePeriodSeconds`, default 30) and the kubelet removes it once its containers
   * have stopped; an object with finalizers gets `deletionTimestamp` and stays until the last
   * finalizer is removed. A second delete may shorten a grace period, never lengthen it.
   */
  private beginGracefulDeletion(info: ResourceInfo, live: KubeObject, requested: number | undefined): KubeObject | undefined {
    let seconds = 0;
    if (info === PODS) {
      const spec = isRecord(live.spec) ? live.spec : {};
      const phase = isRecord(live.status) ? live.status.phase : undefined;
      const grace = requested ?? (typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30);
      if (spec.nodeName && phase !== "Succeeded" && phase !== "Failed" && grace > 0) seconds = grace;
    }
    const finalizers = live.metadata.finalizers ?? [];
    if (seconds === 0 && finalizers.length === 0) return undefined;
    if (live.metadata.deletionTimestamp && seconds >= (live.metadata.deletionGracePeriodSeconds ?? 0)) return live;
    const next: KubeObject = {
      ...live,
      metadata: {
        ...live.metadata,
        deletionTimestamp: k8sTime(this.now() + seconds * 1000),
        deletionGracePeriodSeconds: seconds,
      },
    };
    this.store.write(resourceKey(info), next);
    return next;
  }

  /** Internal delete for controllers and garbage collection (no checks, tolerant of absence). */
  remove(info: ResourceInfo, namespace: string | undefined, name: string): void {
    this.store.remove(resourceKey(info), namespace ?? "", name);
  }

  /** Internal write for controllers: stores as is (the caller built a fresh object). */
  put(info: ResourceInfo, obj: KubeObject): KubeObject {
    this.store.write(resourceKey(info), obj);
    return obj;
  }

  private orphanDependents(owner: KubeObject): void {
    const ns = owner.metadata.namespace ?? "";
    for (const res of this.store.resources()) {
      for (const obj of [...this.store.iterate(res, ns)]) {
        const refs = obj.metadata.ownerReferences;
        if (!refs?.some((r) => r.uid === owner.metadata.uid)) continue;
        const rest = refs.filter((r) => r.uid !== owner.metadata.uid);
        const metadata = {
          ...obj.metadata,
          ownerReferences: rest.length ? rest : undefined,
        };
        this.store.write(res, { ...obj, metadata });
      }
    }
  }

  private beginNamespaceDeletion(ns: KubeObject): KubeObject {
    if (ns.metadata.deletionTimestamp) return ns;
    const next: KubeObject = {
      ...ns,
      metadata: { ...ns.metadata, deletionTimestamp: k8sTime(this.now()) },
      status: {
        ...(isRecord(ns.status) ? ns.status : {}),
        phase: "Terminating",
      },
    };
    this.store.write(resourceKey(NAMESPACES), next);
    const name = ns.metadata.name;
    const timer = setTimeout(() => this.finalizeNamespace(name), this.opts.namespaceDeletionDelayMs);
    timer.unref();
    this.namespaceTimers.set(name, timer);
    return next;
  }

  /** Deletes everything in a terminating namespace, then the namespace (the namespace controller). */
  finalizeNamespace(name: string): boolean {
    const timer = this.namespaceTimers.get(name);
    if (timer) clearTimeout(timer);
    this.namespaceTimers.delete(name);
    const ns = this.store.get(resourceKey(NAMESPACES), "", name);
    if (!ns?.metadata.deletionTimestamp) return false;
    for (const res of this.store.resources()) {
      if (res === resourceKey(NAMESPACES)) continue;
      for (const obj of [...this.store.iterate(res, name)]) this.store.remove(res, name, obj.metadata.name);
    }
    this.store.remove(resourceKey(NAMESPACES), "", name);
    return true;
  }

  /** Finalizes every terminating namespace now; returns how many went away. */
  finalizeAllNamespaces(): number {
    let n = 0;
    for (const name of [...this.namespaceTimers.keys()]) if (this.finalizeNamespace(name)) n++;
    return n;
  }

  stop(): void {
    for (const t of this.namespaceTimers.values()) clearTimeout(t);
    this.namespaceTimers.clear();
  }

  /** Resolves the resource of an object by its apiVersion/kind (for seeding and helpers). */
  infoOf(obj: { apiVersion?: unknown; kind?: unknown }): ResourceInfo {
    const info = findByKind(String(obj.apiVersion), String(obj.kind));
    if (!info) throw errors.badRequest(`no matches for kind "${String(obj.kind)}" in version "${String(obj.apiVersion)}"`);
    return info;
  }
}

/** Whether anything but metadata and status changed (the real rule for bumping generation). */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (k === "metadata" || k === "status") continue;
    if (!deepEqual(a[k], b[k])) return true;
  }
  return false;
}

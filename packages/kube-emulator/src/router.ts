/**
 * HTTP front of the emulator: parses Kubernetes REST paths, applies injected faults, records
 * every call, and dispatches to Cluster (CRUD), streams watches and pod logs, serves discovery.
 * Unknown routes are a loud 404 (Status + `x-emulator-unknown-route` header + a warning), never a
 * silent success. TEST/DEMO FIXTURE — see index.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import type { Cluster } from "./cluster.js";
import type { Controllers } from "./controllers/index.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from "./discovery.js";
import { ApiError, errors, type Status, statusForCode } from "./errors.js";
import type { Faults, Recorder, Verb } from "./faults.js";
import { type LogQuery, LogSource, planLogs } from "./logs.js";
import { openApiV3Doc, openApiV3Root } from "./openapi.js";
import { decodeProtobuf, PROTOBUF } from "./protobuf.js";
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_RESPONSE, openApiV2, openApiV2Protobuf } from "./openapi-v2.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { checkFields, fieldValidationOf } from "./field-validation.js";
import { findByPlural, groupVersion, PODS, qualifiedResource, type ResourceInfo, resourceKey } from "./resources.js";
import type { StoreEvent } from "./store.js";
import { toPartialObjectMetadata, toPartialObjectMetadataList, wantsPartialMetadata } from "./partial-metadata.js";
import { toTable, wantsTable } from "./table.js";
import { isRecord, type KubeObject, type Logger } from "./types.js";

const MAX_BODY_BYTES = 3 * 1024 * 1024;
const METRICS_GROUP = "metrics.k8s.io";

export interface RouterDeps {
  cluster: Cluster;
  controllers: Controllers;
  faults: Faults;
  recorder: Recorder;
  logger: Logger;
  token: string;
  requireAuth: boolean;
  logIntervalMs: number;
  /** A watch with allowWatchBookmarks gets a BOOKMARK this often (the API server's watch cache: about a minute). */
  watchBookmarkIntervalMs: number;
  metricsEnabled: () => boolean;
  serverAddress: () => string;
}

type Route =
  | { type: "static"; verb: Verb; body: () => unknown; text?: boolean; protobuf?: () => Buffer }
  | {
      type: "resource";
      info: ResourceInfo;
      namespace?: string;
      name?: string;
      subresource?: string;
    }
  | { type: "unknown" }
  /** A known path the emulator deliberately does not serve (answered 404, not flagged as unknown). */
  | { type: "absent"; verb: Verb };

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  query: Record<string, string>;
  verb: Verb;
  faulted: boolean;
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function sendStatus(res: ServerResponse, status: Status, headers: Record<string, string> = {}): void {
  send(res, status.code, status, headers);
}

/** Admission warnings as the API server sends them: `Warning: 299 - "<text>"`, one header each. */
function warningHeaders(warnings: string[]): Record<string, string[]> {
  return warnings.length ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {};
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Router {
  private readonly open = new Set<ServerResponse>();
  /** Open watch streams (a subset of `open`): `closeWatches` ends them as an API server restart would. */
  private readonly watches = new Set<ServerResponse>();

  constructor(private readonly d: RouterDeps) {}

  /** Ends every streaming or hung response (on stop). */
  closeAll(): void {
    for (const res of this.open) {
      if (!res.writableEnded) res.end();
      res.socket?.destroy();
    }
    this.open.clear();
    this.watches.clear();
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Ends every open watch stream cleanly (what an API server's restart or a watch timeout does to clients). */
  closeWatches(): number {
    const n = this.watches.size;
    for (const res of this.watches) if (!res.writableEnded) res.end();
    this.watches.clear();
    return n;
  }

  route(pathname: string): Route {
    let segs: string[];
    try {
      segs = pathname.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return { type: "unknown" };
    }
    const [first] = segs;
    if (segs.length === 0) {
      return {
        type: "static",
        verb: "discovery",
        body: () => ({
          paths: ["/api", "/api/v1", "/apis", "/version", "/healthz"],
        }),
      };
    }
    if (segs.length === 1 && first === "version") return { type: "static", verb: "discovery", body: versionInfo };
    if (segs.length === 1 && (first === "healthz" || first === "livez" || first === "readyz")) {
      return { type: "static", verb: "other", body: () => "ok", text: true };
    }
    // OpenAPI v2, as JSON or (what client-go asks for) protobuf. The pre-1.10 path is gone, as on
    // a real 1.33 server.
    if (first === "openapi" && segs[1] === "v2" && segs.length === 2) {
      return { type: "static", verb: "discovery", body: openApiV2, protobuf: openApiV2Protobuf };
    }
    if (segs.length === 1 && first === "swagger-2.0.0.pb-v1") return { type: "absent", verb: "discovery" };
    if (first === "openapi" && segs[1] === "v3") {
      if (segs.length === 2) return { type: "static", verb: "discovery", body: openApiV3Root };
      const doc = openApiV3Doc(segs.slice(2).join("/"));
      return doc ? { type: "static", verb: "discovery", body: () => doc } : { type: "unknown" };
    }
    let gv: string;
    let rest: string[];
    if (first === "api") {
      if (segs.length === 1)
        return {
          type: "static",
          verb: "discovery",
          body: () => apiVersions(this.d.serverAddress()),
        };
      if (segs[1] !== "v1") return { type: "unknown" };
      gv = "v1";
      rest = segs.slice(2);
    } else if (first === "apis") {
      const metricsOk = this.d.metricsEnabled();
      if (segs.length >= 2 && segs[1] === METRICS_GROUP && !metricsOk) return { type: "unknown" };
      if (segs.length === 1) {
        return {
          type: "static",
          verb: "discovery",
          body: () => apiGroupList((g) => g !== METRICS_GROUP || this.d.metricsEnabled()),
        };
      }
      if (segs.length === 2) {
        const group = apiGroup(segs[1]);
        return group ? { type: "static", verb: "discovery", body: () => group } : { type: "unknown" };
      }
      gv = `${segs[1]}/${segs[2]}`;
      rest = segs.slice(3);
    } else return { type: "unknown" };

    if (rest.length === 0) {
      const list = apiResourceList(gv);
      return list ? { type: "static", verb: "discovery", body: () => list } : { type: "unknown" };
    }
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      const nsd = findByPlural(gv, rest[2]);
      if (nsd?.namespaced) {
        namespace = rest[1];
        rest = rest.slice(2);
      }
    }
    const info = findByPlural(gv, rest[0]);
    if (!info || rest.length > 3) return { type: "unknown" };
    const [, name, subresource] = rest;
    if (namespace === undefined && info.namespaced && name !== undefined) return { type: "unknown" };
    if (subresource !== undefined && !info.subresources.includes(subresource)) return { type: "unknown" };
    return { type: "resource", info, namespace, name, subresource };
  }

  private verbOf(method: string, route: Route, query: Record<string, string>, contentType: string): Verb {
    if (route.type === "static" || route.type === "absent") return route.verb;
    if (route.type === "unknown") return "unknown";
    const item = route.name !== undefined;
    switch (method) {
      case "GET":
        if (route.subresource === "log") return "log";
        if (!item) return query.watch === "true" || query.watch === "1" ? "watch" : "list";
        return "get";
      case "POST":
        return item ? "other" : "create";
      case "PUT":
        return item ? "update" : "other";
      case "PATCH":
        return contentType === "application/apply-patch+yaml" ? "apply" : "patch";
      case "DELETE":
        return item ? "delete" : "deletecollection";
      default:
        return "other";
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://emulator");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const method = (req.method ?? "GET").toUpperCase();
    const contentType = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    const route = this.route(url.pathname);
    const ctx: Ctx = {
      req,
      res,
      url,
      query,
      verb: this.verbOf(method, route, query, contentType),
      faulted: false,
    };
    res.on("close", () => {
      this.open.delete(res);
      this.d.recorder.record({
        method,
        path: url.pathname,
        query,
        status: res.headersSent ? res.statusCode : 0,
        verb: ctx.verb,
        resource: route.type === "resource" ? qualifiedResource(route.info) : undefined,
        namespace: route.type === "resource" ? route.namespace : undefined,
        name: route.type === "resource" ? route.name : undefined,
        subresource: route.type === "resource" ? route.subresource : undefined,
        faulted: ctx.faulted,
        durationMs: performance.now() - started,
        at: Date.now(),
      });
    });

    const fault = this.d.faults.decide(method, url.pathname);
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.reset) {
      ctx.faulted = true;
      req.socket.destroy();
      return;
    }
    if (fault.hang) {
      ctx.faulted = true;
      this.open.add(res);
      req.resume();
      return;
    }
    if (fault.status !== undefined) {
      ctx.faulted = true;
      req.resume();
      sendStatus(res, statusForCode(fault.status, `injected fault: ${fault.status}`).status);
      return;
    }

    try {
      // A wrong token is always 401. A missing one is accepted unless requireAuth is set: kubectl
      // (client-go) sends no bearer token to a plain-http server, so the demo must allow anonymous.
      const authz = req.headers.authorization;
      if (authz !== undefined ? authz !== `Bearer ${this.d.token}` : this.d.requireAuth) throw errors.unauthorized();
      if (route.type === "unknown") {
        this.d.logger.warn({ method, path: url.pathname }, "kube emulator: unknown route (404)");
        req.resume();
        sendStatus(res, errors.routeNotFound().status, {
          "x-emulator-unknown-route": "true",
        });
        return;
      }
      if (route.type === "absent") {
        req.resume();
        sendStatus(res, errors.routeNotFound().status);
        return;
      }
      if (route.type === "static") {
        req.resume();
        if (method !== "GET")
          throw new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
        if (route.protobuf && (req.headers.accept ?? "").includes(OPENAPI_V2_PROTOBUF)) {
          const pb = route.protobuf();
          res.writeHead(200, { "Content-Type": OPENAPI_V2_PROTOBUF_RESPONSE, "Content-Length": pb.length });
          res.end(pb);
          return;
        }
        const body = route.body();
        if (route.text) {
          res.writeHead(200, { "Content-Type": "text/plain" });
          res.end(String(body));
        } else send(res, 200, body);
        return;
      }
      await this.resource(ctx, method, contentType, route);
    } catch (err) {
      if (err instanceof ApiError) sendStatus(res, err.status);
      else {
        this.d.logger.warn({ err, path: url.pathname }, "kube emulator: internal error");
        sendStatus(res, errors.internal(err instanceof Error ? err.message : String(err)).status);
      }
    }
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** Decodes a create/update body (JSON or YAML, as the real server accepts). */
  private decode(body: Buffer, contentType: string, forApply = false): unknown {
    const json = contentType === "" || contentType === "application/json" || contentType.endsWith("+json");
    const yaml = contentType === "application/yaml" || forApply;
    if (contentType === PROTOBUF && !forApply) return decodeProtobuf(body);
    if (!json && !yaml) throw errors.unsupportedMediaType(contentType, ["application/json", "application/yaml", PROTOBUF]);
    const raw = body.toString("utf8");
    if (raw.trim() === "") throw errors.badRequest("the request body is empty");
    try {
      return JSON.parse(raw);
    } catch (jsonErr) {
      if (!yaml) throw errors.badRequest(`couldn't get version/kind; json parse error: ${(jsonErr as Error).message}`);
      try {
        return parseYaml(raw) as unknown;
      } catch (yamlErr) {
        throw errors.badRequest(`error decoding YAML: ${(yamlErr as Error).message}`);
      }
    }
  }

  private fieldManager(ctx: Ctx): string | undefined {
    if (ctx.query.fieldManager) return ctx.query.fieldManager;
    // The real server derives a manager from the user agent's program name.
    const ua = ctx.req.headers["user-agent"];
    return ua ? ua.split("/")[0] : undefined;
  }

  private async resource(ctx: Ctx, method: string, contentType: string, r: Extract<Route, { type: "resource" }>): Promise<void> {
    const { cluster } = this.d;
    const { info, namespace, name, subresource } = r;
    const { res, query } = ctx;
    // What a 1.33 server says on every use of v1 Endpoints.
    if (info.kind === "Endpoints" && info.group === "") {
      res.setHeader("Warning", '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"');
    }
    const dryRun = query.dryRun === "All";
    const limit = query.limit ? Number(query.limit) : undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw errors.badRequest(`invalid limit: ${query.limit}`);

    if (method === "GET") {
      ctx.req.resume();
      if (name === undefined) {
        if (ctx.verb === "watch") return this.watch(ctx, info, namespace);
        const list = cluster.list(info, {
          namespace,
          labelSelector: query.labelSelector,
          fieldSelector: query.fieldSelector,
          limit,
          continue: query.continue,
        });
        if (wantsTable(ctx.req.headers.accept))
          return send(res, 200, toTable(info, list.items as KubeObject[], list.metadata, cluster.now()));
        if (wantsPartialMetadata(ctx.req.headers.accept, true))
          return send(res, 200, toPartialObjectMetadataList(list.items as KubeObject[], list.metadata));
        return send(res, 200, list);
      }
      if (subresource === "log") return this.logs(ctx, namespace ?? "", name);
      const obj = cluster.get(info, namespace, name);
      if (subresource === "scale") return send(res, 200, scaleOf(obj));
      if (wantsTable(ctx.req.headers.accept) && subresource === undefined) {
        return send(res, 200, toTable(info, [obj], { resourceVersion: obj.metadata.resourceVersion }, cluster.now()));
      }
      if (subresource === undefined && wantsPartialMetadata(ctx.req.headers.accept, false))
        return send(res, 200, toPartialObjectMetadata(obj));
      return send(res, 200, obj);
    }

    const raw = await this.readBody(ctx.req);
    const fieldManager = this.fieldManager(ctx);

    const fieldValidation = method === "DELETE" ? "Ignore" : fieldValidationOf(query.fieldValidation);
    const jsonText = contentType === PROTOBUF ? undefined : raw.toString("utf8");
    if (method === "POST" && name === undefined) {
      const checked = checkFields({ info, body: this.decode(raw, contentType), json: jsonText, mode: fieldValidation });
      const warnings = [...checked.warnings];
      const obj = cluster.create(info, namespace, checked.body, { fieldManager, dryRun, warnings });
      return send(res, 201, obj, warningHeaders(warnings));
    }
    if (method === "PUT" && name !== undefined) {
      const body = this.decode(raw, contentType);
      if (subresource === "status") {
        const b = isRecord(body) ? body : {};
        const rv = isRecord(b.metadata) ? (b.metadata.resourceVersion as string | undefined) : undefined;
        return send(res, 200, cluster.updateStatus(info, namespace, name, b.status, rv));
      }
      if (subresource === "scale") return send(res, 200, this.setScale(info, namespace, name, body, fieldManager));
      if (subresource !== undefined) throw errors.methodNotSupported(info, `update ${subresource}`);
      const checked = checkFields({ info, body, json: jsonText, mode: fieldValidation });
      const warnings = [...checked.warnings];
      return send(
        res,
        200,
        cluster.update(info, namespace, name, checked.body, { fieldManager, dryRun, warnings }),
        warningHeaders(warnings),
      );
    }
    if (method === "PATCH" && name !== undefined) {
      const isApply = contentType === "application/apply-patch+yaml";
      const known = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
      ];
      if (!known.includes(contentType)) throw errors.unsupportedMediaType(contentType, known);
      const decoded = this.decode(raw, contentType, isApply);
      const checked =
        subresource !== undefined
          ? { body: decoded, warnings: [] }
          : contentType === "application/json-patch+json"
            ? this.checkJsonPatch(info, namespace, name, decoded, fieldValidation)
            : checkFields({
                info,
                body: decoded,
                json: isApply ? undefined : jsonText,
                mode: fieldValidation,
                apply: isApply ? { namespace, name } : undefined,
              });
      const body = checked.body;
      const force = query.force === undefined ? undefined : query.force === "true";
      if (subresource === "scale") {
        const live = cluster.get(info, namespace, name);
        const scale = scaleOf(live);
        const patched =
          contentType === "application/json-patch+json"
            ? jsonPatch(scale, body)
            : contentType === "application/merge-patch+json"
              ? mergePatch(scale, body)
              : strategicMergePatch(scale, body);
        return send(res, 200, this.setScale(info, namespace, name, patched, fieldManager));
      }
      if (subresource !== undefined && subresource !== "status") throw errors.methodNotSupported(info, `patch ${subresource}`);
      const warnings = [...checked.warnings];
      const { object, created } = cluster.patch(info, namespace, name, contentType, body, {
        fieldManager: isApply ? query.fieldManager : fieldManager,
        force,
        dryRun,
        warnings,
        subresource: subresource === "status" ? "status" : undefined,
      });
      return send(res, created ? 201 : 200, object, warningHeaders(warnings));
    }
    if (method === "DELETE") {
      let opts: Record<string, unknown> = {};
      if (raw.toString("utf8").trim()) {
        const body = this.decode(raw, contentType);
        if (isRecord(body)) opts = body;
      }
      const propagationPolicy = (query.propagationPolicy ?? opts.propagationPolicy) as string | undefined;
      const preconditions = isRecord(opts.preconditions) ? (opts.preconditions as { uid?: string; resourceVersion?: string }) : undefined;
      const graceRaw = query.gracePeriodSeconds ?? opts.gracePeriodSeconds;
      const gracePeriodSeconds = graceRaw === undefined ? undefined : Number(graceRaw);
      if (gracePeriodSeconds !== undefined && !Number.isInteger(gracePeriodSeconds)) {
        throw errors.badRequest(`invalid gracePeriodSeconds: ${String(graceRaw)}`);
      }
      if (name !== undefined) {
        if (subresource !== undefined) throw errors.methodNotSupported(info, `delete ${subresource}`);
        return send(
          res,
          200,
          cluster.delete(info, namespace, name, {
            propagationPolicy,
            preconditions,
            dryRun,
            gracePeriodSeconds: gracePeriodSeconds !== undefined && gracePeriodSeconds < 0 ? 0 : gracePeriodSeconds,
          }),
        );
      }
      if (!info.verbs.includes("deletecollection")) throw errors.methodNotSupported(info, "deletecollection");
      const list = cluster.list(info, {
        namespace,
        labelSelector: query.labelSelector,
        fieldSelector: query.fieldSelector,
      });
      const items: unknown[] = [];
      for (const item of list.items as KubeObject[]) {
        items.push(
          cluster.delete(info, item.metadata.namespace, item.metadata.name, {
            propagationPolicy,
            dryRun,
            gracePeriodSeconds,
          }),
        );
      }
      return send(res, 200, { ...list, items });
    }
    throw new ApiError(405, "MethodNotAllowed", `${method} is not supported on ${url(r)}`);
  }

  /**
   * A JSON patch is checked on the object it produces (as the server decodes the patched object);
   * unknown fields it would add are removed by appending `remove` operations (Warn, Ignore).
   */
  private checkJsonPatch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    mode: ReturnType<typeof fieldValidationOf>,
  ): { body: unknown; warnings: string[] } {
    const live = this.d.cluster.tryGet(info, namespace, name);
    if (!live || !Array.isArray(patch)) return { body: patch, warnings: [] };
    const checked = checkFields({ info, body: jsonPatch(live, patch), mode });
    return { body: [...patch, ...checked.unknown.map((path) => ({ op: "remove", path }))], warnings: checked.warnings };
  }

  private setScale(info: ResourceInfo, namespace: string | undefined, name: string, body: unknown, fieldManager?: string): unknown {
    const { cluster } = this.d;
    const live = cluster.get(info, namespace, name);
    const b = isRecord(body) ? body : {};
    const replicas = isRecord(b.spec) ? b.spec.replicas : undefined;
    if (typeof replicas !== "number" || replicas < 0 || !Number.isInteger(replicas)) {
      throw errors.invalid(info, name, [
        {
          reason: "FieldValueInvalid",
          message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
          field: "spec.replicas",
        },
      ]);
    }
    const rv = isRecord(b.metadata) ? b.metadata.resourceVersion : undefined;
    if (typeof rv === "string" && rv !== "" && rv !== live.metadata.resourceVersion) throw errors.conflict(info, name);
    const next = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: undefined },
      spec: { ...(live.spec as object), replicas },
    };
    return scaleOf(cluster.update(info, namespace, name, next, { fieldManager }));
  }

  private watch(ctx: Ctx, info: ResourceInfo, namespace: string | undefined): void {
    const { cluster } = this.d;
    if (info.virtual) throw errors.methodNotSupported(info, "watch");
    const match = cluster.matchers(info, {
      labelSelector: ctx.query.labelSelector,
      fieldSelector: ctx.query.fieldSelector,
    });
    // Metadata-only watch (client-go's metadata informers): every event's object as a
    // PartialObjectMetadata. The list form is not something a watch event can be: a real server
    // accepts the header and then fails the stream at its first event; refused here up front (406).
    const metadataOnly = wantsPartialMetadata(ctx.req.headers.accept, false) !== undefined;
    const key = resourceKey(info);
    const rvParam = ctx.query.resourceVersion;
    const { res } = ctx;
    let replay: StoreEvent[] | undefined = [];
    if (rvParam !== undefined && rvParam !== "" && rvParam !== "0") {
      const rv = Number(rvParam);
      if (!Number.isInteger(rv) || rv < 0) throw errors.badRequest(`invalid resource version: ${rvParam}`);
      replay = cluster.store.eventsSince(rv, key);
    }
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Transfer-Encoding": "chunked",
      "Cache-Control": "no-cache, private",
    });
    // Send headers now: clients (client-node's Watch) wait for them before the first event.
    res.flushHeaders();
    this.open.add(res);
    this.watches.add(res);
    const write = (type: string, object: unknown) => {
      if (res.writableEnded) return;
      const shown = metadataOnly && type !== "ERROR" ? toPartialObjectMetadata(object as KubeObject) : object;
      res.write(`${JSON.stringify({ type, object: shown })}\n`);
    };
    if (replay === undefined) {
      // What the watch cache does: a 200 stream carrying one ERROR event with 410 Expired.
      const oldest = cluster.store.oldestWatchableRv;
      write("ERROR", errors.expired(`too old resource version: ${rvParam} (${oldest})`).status);
      res.end();
      return;
    }
    const inScope = (e: StoreEvent) => e.resource === key && (namespace === undefined || e.namespace === namespace);
    const deliver = (e: StoreEvent) => {
      if (!inScope(e)) return;
      const now = !match || match(e.object);
      const before = e.previous !== undefined && (!match || match(e.previous));
      if (e.type === "ADDED" && now) write("ADDED", e.object);
      else if (e.type === "MODIFIED") {
        if (now && before) write("MODIFIED", e.object);
        else if (now) write("ADDED", e.object);
        else if (before) write("DELETED", e.object);
      } else if (e.type === "DELETED" && before) write("DELETED", e.object);
    };
    const unsubscribe = cluster.store.subscribe(deliver);
    if (rvParam === undefined || rvParam === "" || rvParam === "0") {
      // No resourceVersion: the current state first, as synthetic ADDED events.
      for (const obj of cluster.store.list(key, { namespace, match }).items) write("ADDED", obj);
    } else for (const e of replay) deliver(e);
    const timeoutSeconds = Number(ctx.query.timeoutSeconds ?? 1800);
    const timeoutMs = Math.max(1, timeoutSeconds) * 1000;
    const timer = setTimeout(() => res.end(), timeoutMs);
    timer.unref();
    // Bookmarks (allowWatchBookmarks=true): like the watch cache, an object of the watched kind
    // carrying only the current resourceVersion, about every interval and once 2 s before the
    // watch's timeout — never on demand. A client may resume from it instead of its last event.
    const timers: NodeJS.Timeout[] = [];
    if (ctx.query.allowWatchBookmarks === "true" || ctx.query.allowWatchBookmarks === "1") {
      const bookmark = () =>
        write("BOOKMARK", {
          kind: info.kind,
          apiVersion: groupVersion(info),
          metadata: { resourceVersion: String(cluster.store.resourceVersion) },
        });
      const every = setInterval(bookmark, this.d.watchBookmarkIntervalMs);
      every.unref();
      timers.push(every);
      if (timeoutMs > 2000) {
        const last = setTimeout(bookmark, timeoutMs - 2000);
        last.unref();
        timers.push(last);
      }
    }
    res.on("close", () => {
      clearTimeout(timer);
      for (const t of timers) clearTimeout(t);
      this.watches.delete(res);
      unsubscribe();
    });
  }

  private logs(ctx: Ctx, namespace: string, name: string): void {
    const { cluster } = this.d;
    const q = ctx.query;
    const num = (v: string | undefined, what: string): number | undefined => {
      if (v === undefined || v === "" || v === "false") return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) throw errors.badRequest(`invalid ${what}: ${v}`);
      return n;
    };
    const lq: LogQuery = {
      container: q.container || undefined,
      tailLines: num(q.tailLines, "tailLines"),
      sinceSeconds: num(q.sinceSeconds, "sinceSeconds"),
      sinceTime: q.sinceTime || undefined,
      timestamps: q.timestamps === "true",
      follow: q.follow === "true",
      previous: q.previous === "true",
      limitBytes: num(q.limitBytes, "limitBytes"),
    };
    if (lq.sinceSeconds !== undefined && lq.sinceTime) throw errors.badRequest("at most one of sinceTime or sinceSeconds may be specified");
    const pod = cluster.get(PODS, namespace, name);
    const plan = planLogs(pod, lq);
    const source = new LogSource(plan, name, this.d.logIntervalMs);
    const { res } = ctx;
    let budget = lq.limitBytes ?? Number.POSITIVE_INFINITY;
    const emit = (text: string): boolean => {
      if (budget <= 0) return false;
      const chunk = Buffer.byteLength(text) > budget ? Buffer.from(text).subarray(0, budget).toString() : text;
      budget -= Buffer.byteLength(chunk);
      res.write(chunk);
      return budget > 0;
    };
    const lines = source.initial(cluster.now(), lq);
    res.writeHead(200, {
      "Content-Type": "text/plain",
      "Transfer-Encoding": "chunked",
    });
    res.flushHeaders();
    for (const l of lines) if (!emit(source.format(l, lq.timestamps))) break;
    if (!lq.follow || plan.crashed || budget <= 0) {
      res.end();
      return;
    }
    this.open.add(res);
    let next = source.lastIndex(cluster.now()) + 1;
    const uid = pod.metadata.uid;
    const timer = setInterval(
      () => {
        const live = cluster.tryGet(PODS, namespace, name);
        if (!live || live.metadata.uid !== uid) {
          clearInterval(timer);
          res.end();
          return;
        }
        const last = source.lastIndex(cluster.now());
        for (; next <= last; next++) {
          if (!emit(source.format(source.line(next), lq.timestamps))) {
            clearInterval(timer);
            res.end();
            return;
          }
        }
      },
      Math.max(10, Math.min(this.d.logIntervalMs, 250)),
    );
    timer.unref();
    res.on("close", () => clearInterval(timer));
  }
}

function url(r: Extract<Route, { type: "resource" }>): string {
  return `${groupVersion(r.info)}/${r.info.plural}${r.name ? `/${r.name}` : ""}`;
}

function scaleOf(obj: KubeObject): Record<string, unknown> {
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const status = isRecord(obj.status) ? obj.status : {};
  const matchLabels = isRecord(spec.selector) && isRecord(spec.selector.matchLabels) ? spec.selector.matchLabels : {};
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 1 },
    status: {
      replicas: status.replicas ?? 0,
      selector: Object.entries(matchLabels)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(","),
    },
  };
}

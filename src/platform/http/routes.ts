/**
 * The routes an Express app serves, read off the mounted routers (Express 5 / router 2: each layer
 * keeps its `rawPath`), with the metadata its middleware carries (route-meta.ts). One walk feeds
 * the OpenAPI document and the metrics' route labels, so a new route is picked up by both without
 * being registered anywhere else.
 */
import type { Express } from "express";
import { type RouteMeta, routeMetaOf } from "./route-meta.js";
import type { RequestSchemas } from "./route-meta.js";

export interface AppRoute {
  /** Upper-case HTTP method. */
  method: string;
  /** Express path pattern, e.g. `/api/instances/:id/logs`. */
  path: string;
  /** Everything the route's middleware chain (mounts included) declares, merged in order. */
  meta: Required<Pick<RouteMeta, "auth">> & Omit<RouteMeta, "auth"> & { schemas: RequestSchemas };
}

interface Layer {
  rawPath?: string | string[];
  route?: { path: string | string[]; stack: Layer[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] } & ((...args: never[]) => unknown);
  method?: string;
}

function join(prefix: string, path: string): string {
  const joined = `${prefix}/${path}`.replace(/\/{2,}/g, "/");
  return joined.length > 1 ? joined.replace(/\/$/, "") : joined;
}

function applies(mountPath: string, routePath: string): boolean {
  return mountPath === "/" || routePath === mountPath || routePath.startsWith(`${mountPath}/`);
}

function merge(metas: RouteMeta[]): AppRoute["meta"] {
  const out: AppRoute["meta"] = { auth: false, schemas: {} };
  for (const m of metas) {
    if (m.auth) out.auth = true;
    if (m.roles) out.roles = m.roles;
    if (m.doc) out.doc = { ...out.doc, ...m.doc };
    if (m.schemas) out.schemas = { ...out.schemas, ...m.schemas };
  }
  return out;
}

function paths(p: string | string[] | undefined): string[] {
  if (p === undefined) return ["/"];
  return (Array.isArray(p) ? p : [p]).filter((x): x is string => typeof x === "string");
}

function walk(stack: Layer[], prefix: string, inherited: Array<{ path: string; meta: RouteMeta }>, out: AppRoute[]): void {
  const mounted = [...inherited];
  for (const layer of stack) {
    if (layer.route) {
      for (const p of paths(layer.route.path)) {
        const path = join(prefix, p);
        const methods = Object.keys(layer.route.methods).filter((m) => m !== "_all");
        for (const method of methods) {
          const chain = layer.route.stack.filter((l) => !l.method || l.method === method).map((l) => routeMetaOf(l.handle));
          const metas = [...mounted.filter((m) => applies(m.path, path)).map((m) => m.meta), ...chain.filter((m): m is RouteMeta => !!m)];
          out.push({ method: method.toUpperCase(), path, meta: merge(metas) });
        }
      }
    } else if (layer.handle && Array.isArray(layer.handle.stack)) {
      for (const p of paths(layer.rawPath)) {
        const path = join(prefix, p);
        walk(
          layer.handle.stack,
          path,
          mounted.filter((m) => applies(m.path, path) || m.path.startsWith(`${path}/`)),
          out,
        );
      }
    } else {
      const meta = routeMetaOf(layer.handle);
      if (meta) for (const p of paths(layer.rawPath)) mounted.push({ path: join(prefix, p), meta });
    }
  }
}

/** Every route the app serves, in mount order. */
export function listAppRoutes(app: Express): AppRoute[] {
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  const out: AppRoute[] = [];
  walk(router.stack, "", [], out);
  return out;
}

/** `/api/instances/:id` -> `/api/instances/{id}` */
export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/**
 * Maps a request to the pattern of the route that serves it (for metric labels: never raw ids).
 * Built once from the app's routes; unknown paths map to undefined.
 */
export function routePatternMatcher(routes: AppRoute[]): (method: string, path: string) => string | undefined {
  const compiled = routes.map((r) => ({
    method: r.method,
    pattern: r.path,
    re: new RegExp(`^${r.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z0-9_]+/g, "[^/]+")}/?$`),
  }));
  return (method, path) => {
    const m = method === "HEAD" ? "GET" : method;
    return compiled.find((c) => c.method === m && c.re.test(path))?.pattern ?? compiled.find((c) => c.re.test(path))?.pattern;
  };
}

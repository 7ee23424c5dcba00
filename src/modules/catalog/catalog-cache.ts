/**
 * The catalog (services, their plans, their default versions) kept in memory: every subscription and
 * every reconciler pass needs its plan and service, and read them from the database each time (two
 * to three statements per use, several uses per provisioned instance). The catalog is a few dozen
 * rows that only admins change.
 *
 * Freshness: the whole catalog is loaded at once and kept for `ttlMs` (CATALOG_CACHE_TTL). This
 * process's admin writes (catalog.service.ts, service-versions.service.ts) invalidate it when they
 * commit, so they are seen at once here; another replica's are seen within `ttlMs`. A TTL (rather
 * than a version check on every use) because a check would cost a statement per use again, and a
 * plan changed a few seconds late is what any request racing the admin's write sees anyway: the
 * plan was never read under a lock. An id that is not in the cache (a plan created since) reloads
 * it once. `ttlMs` 0 turns the cache off (every lookup loads).
 *
 * A lookup may load, on pool connections of its own: never look up while holding a transaction
 * (many transactions waiting on a load that waits for a free connection starve the pool).
 */
import type { Plan, Service, ServiceVersion } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../platform/db/index.js";

export type CatalogPlan = Plan & { service: Service };
export type DefaultVersion = Pick<ServiceVersion, "version" | "image">;

interface Snapshot {
  plans: Map<string, CatalogPlan>;
  services: Map<string, Service>;
  defaultVersions: Map<string, DefaultVersion>;
  loadedAt: number;
}

export class CatalogCache {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  /** Bumped by every invalidation: a load that started before one is not kept. */
  private epoch = 0;

  constructor(private readonly o: { prisma: PrismaClient; ttlMs: number; now?: () => number }) {}

  /** The plan with its service (undefined: no such plan). */
  async plan(id: string): Promise<CatalogPlan | undefined> {
    const s = await this.current();
    const hit = s.plans.get(id);
    if (hit) return hit;
    return (await this.current(true)).plans.get(id);
  }

  async service(id: string): Promise<Service | undefined> {
    const s = await this.current();
    const hit = s.services.get(id);
    if (hit) return hit;
    return (await this.current(true)).services.get(id);
  }

  /** The service's default version (what new instances run), or null when it has none. */
  async defaultVersion(serviceId: string): Promise<DefaultVersion | null> {
    const s = await this.current();
    if (!s.services.has(serviceId)) return (await this.current(true)).defaultVersions.get(serviceId) ?? null;
    return s.defaultVersions.get(serviceId) ?? null;
  }

  /** The catalog changed (an admin write committed): the next lookup loads it again. */
  invalidate(): void {
    this.epoch += 1;
    this.snapshot = undefined;
    this.loading = undefined;
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private async current(force = false): Promise<Snapshot> {
    const s = this.snapshot;
    if (!force && s && this.now() - s.loadedAt < this.o.ttlMs) return s;
    if (force && s) this.snapshot = undefined;
    if (!this.loading) {
      const epoch = this.epoch;
      const p = this.load().then(
        (loaded) => {
          if (this.loading === p) this.loading = undefined;
          if (epoch === this.epoch && this.o.ttlMs > 0) this.snapshot = loaded;
          return loaded;
        },
        (err: unknown) => {
          if (this.loading === p) this.loading = undefined;
          throw err;
        },
      );
      this.loading = p;
    }
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const startedAt = this.now();
    const [services, plans, versions] = await Promise.all([
      this.o.prisma.service.findMany(),
      this.o.prisma.plan.findMany(),
      this.o.prisma.serviceVersion.findMany({ where: { isDefault: true }, select: { serviceId: true, version: true, image: true } }),
    ]);
    const byId = new Map(services.map((s) => [s.id, s]));
    const planMap = new Map<string, CatalogPlan>();
    for (const p of plans) {
      const service = byId.get(p.serviceId);
      if (service) planMap.set(p.id, { ...p, service });
    }
    return {
      services: byId,
      plans: planMap,
      defaultVersions: new Map(versions.map((v) => [v.serviceId, { version: v.version, image: v.image }])),
      loadedAt: startedAt,
    };
  }
}

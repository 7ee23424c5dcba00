import type { RequestContext } from "../../platform/request-context.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Plan, Service } from "../../generated/prisma/client.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, NotFoundError, found } from "../../platform/domain-errors.js";
import { inTransaction, isUniqueViolation } from "../../platform/transaction.js";
import type {
  PlanCreateReq,
  PlanUpdateReq,
  PlanView,
  ServiceCreateReq,
  ServiceTemplate,
  ServiceUpdateReq,
  ServiceView,
} from "./catalog.schema.js";

export type { PlanView, ServiceView };

export function toPlanView(p: Plan): PlanView {
  return {
    id: p.id,
    serviceId: p.serviceId,
    slug: p.slug,
    name: p.name,
    cpuMilli: p.cpuMilli,
    memoryMb: p.memoryMb,
    storageGb: p.storageGb,
    monthlyPriceCredits: p.monthlyPriceCredits,
    isActive: p.isActive,
    backupRetention: p.backupRetention,
    backupHourUtc: p.backupHourUtc,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export function toServiceView(s: Service & { plans: Plan[] }): ServiceView {
  return {
    id: s.id,
    slug: s.slug,
    name: s.name,
    description: s.description,
    template: s.template as ServiceTemplate,
    image: s.image,
    version: s.version,
    port: s.port,
    isActive: s.isActive,
    plans: s.plans.map(toPlanView),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

const planOrder = [{ monthlyPriceCredits: "asc" as const }, { slug: "asc" as const }];

export class CatalogService {
  constructor(
    private readonly opts: {
      prisma: PrismaClient;
      audit?: AuditService /** Told after each admin write (the catalog cache). */;
      onChange?: () => void;
    },
  ) {}

  /** Active services with their active plans (the public catalog). */
  async listActive(): Promise<ServiceView[]> {
    const rows = await this.opts.prisma.service.findMany({
      where: { isActive: true },
      include: { plans: { where: { isActive: true }, orderBy: planOrder } },
      orderBy: { slug: "asc" },
    });
    return rows.map(toServiceView);
  }

  async getActiveBySlug(slug: string): Promise<ServiceView> {
    const row = await this.opts.prisma.service.findFirst({
      where: { slug, isActive: true },
      include: { plans: { where: { isActive: true }, orderBy: planOrder } },
    });
    return toServiceView(found(row, `Service '${slug}'`));
  }

  /** Every service and plan, active or not (admin view). */
  async listAll(): Promise<ServiceView[]> {
    const rows = await this.opts.prisma.service.findMany({ include: { plans: { orderBy: planOrder } }, orderBy: { slug: "asc" } });
    return rows.map(toServiceView);
  }

  /** Admin writes: the catalog cache (catalog-cache.ts) is told once each has committed (or failed). */
  createService(input: ServiceCreateReq, request: RequestContext | undefined): Promise<ServiceView> {
    return this.changing(() => this.createServiceNow(input, request));
  }

  updateService(id: string, input: ServiceUpdateReq, request: RequestContext | undefined): Promise<ServiceView> {
    return this.changing(() => this.updateServiceNow(id, input, request));
  }

  createPlan(serviceId: string, input: PlanCreateReq, request: RequestContext | undefined): Promise<PlanView> {
    return this.changing(() => this.createPlanNow(serviceId, input, request));
  }

  updatePlan(id: string, input: PlanUpdateReq, request: RequestContext | undefined): Promise<PlanView> {
    return this.changing(() => this.updatePlanNow(id, input, request));
  }

  private async changing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.opts.onChange?.();
    }
  }

  private async createServiceNow(input: ServiceCreateReq, request: RequestContext | undefined): Promise<ServiceView> {
    try {
      // Its image and version are its first (default) version: new instances run it, upgrades start from it.
      const row = await this.opts.prisma.service.create({
        data: { ...input, versions: { create: { version: input.version, image: input.image, isDefault: true } } },
        include: { plans: true },
      });
      await this.opts.audit?.record(this.opts.prisma, {
        request,
        action: "admin.catalog.service.create",
        objectType: "service",
        objectId: row.id,
        details: { ...input },
      });
      return toServiceView(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`A service with slug '${input.slug}' already exists`, { cause: err });
      throw err;
    }
  }

  private async updateServiceNow(id: string, input: ServiceUpdateReq, request: RequestContext | undefined): Promise<ServiceView> {
    const existing = found(await this.opts.prisma.service.findUnique({ where: { id } }), "Service");
    const row = await inTransaction(this.opts.prisma, async (tx) => {
      const updated = await tx.service.update({ where: { id }, data: input, include: { plans: { orderBy: planOrder } } });
      // The service's image and version are its default version's (new instances run it): keep them one.
      if (updated.image !== existing.image || updated.version !== existing.version) {
        await tx.serviceVersion.updateMany({
          where: { serviceId: id, isDefault: true, version: { not: updated.version } },
          data: { isDefault: false },
        });
        await tx.serviceVersion.upsert({
          where: { serviceId_version: { serviceId: id, version: updated.version } },
          create: { serviceId: id, version: updated.version, image: updated.image, isDefault: true },
          update: { image: updated.image, isDefault: true, isActive: true },
        });
      }
      return updated;
    });
    await this.opts.audit?.record(this.opts.prisma, {
      request,
      action: "admin.catalog.service.update",
      objectType: "service",
      objectId: id,
      details: { ...input },
    });
    return toServiceView(row);
  }

  private async createPlanNow(serviceId: string, input: PlanCreateReq, request: RequestContext | undefined): Promise<PlanView> {
    found(await this.opts.prisma.service.findUnique({ where: { id: serviceId } }), "Service");
    try {
      const plan = await this.opts.prisma.plan.create({ data: { ...input, serviceId } });
      await this.opts.audit?.record(this.opts.prisma, {
        request,
        action: "admin.catalog.plan.create",
        objectType: "plan",
        objectId: plan.id,
        details: { serviceId, ...input },
      });
      return toPlanView(plan);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`This service already has a plan with slug '${input.slug}'`, { cause: err });
      throw err;
    }
  }

  private async updatePlanNow(id: string, input: PlanUpdateReq, request: RequestContext | undefined): Promise<PlanView> {
    const existing = await this.opts.prisma.plan.findUnique({ where: { id } });
    if (!existing) throw new NotFoundError("Plan not found");
    const plan = await this.opts.prisma.plan.update({ where: { id }, data: input });
    await this.opts.audit?.record(this.opts.prisma, {
      request,
      action: "admin.catalog.plan.update",
      objectType: "plan",
      objectId: id,
      details: { ...input },
    });
    return toPlanView(plan);
  }
}

/**
 * Image versions per service and their upgrade paths (admin-managed catalog data). The default
 * version is what new instances run; services.image/version mirror it, so the public catalog shows it.
 * Rules no data may break (a PostgreSQL major version in place, an image running as another uid) are
 * refused here (400) and again when an instance asks (modules/upgrades/upgrade-paths.ts).
 */
import type { RequestContext } from "../../platform/request-context.js";
import type { ServiceVersion } from "../../generated/prisma/client.js";
import type { ServiceTemplate } from "../../kube/templates/template-spec.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, found, InvalidStateError, ValidationError } from "../../platform/domain-errors.js";
import { inTransaction, isUniqueViolation } from "../../platform/transaction.js";
import type { AuditService } from "../audit/audit.service.js";
import { upgradeRefusal } from "../upgrades/upgrade-paths.js";
import type { ServiceVersionCreateReq, ServiceVersionUpdateReq, ServiceVersionView } from "./service-versions.schema.js";

export function toServiceVersionView(v: ServiceVersion): ServiceVersionView {
  return {
    id: v.id,
    serviceId: v.serviceId,
    version: v.version,
    image: v.image,
    isActive: v.isActive,
    isDefault: v.isDefault,
    upgradeFrom: v.upgradeFrom,
    notes: v.notes,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  };
}

/** Newest first by creation (ties by version). */
const ORDER = [{ createdAt: "desc" as const }, { version: "desc" as const }];

export class ServiceVersionsService {
  constructor(
    private readonly o: {
      prisma: PrismaClient;
      audit?: AuditService /** Told after each write (the catalog cache). */;
      onChange?: () => void;
    },
  ) {}

  async list(serviceId: string): Promise<ServiceVersionView[]> {
    found(await this.o.prisma.service.findUnique({ where: { id: serviceId } }), "Service");
    const rows = await this.o.prisma.serviceVersion.findMany({ where: { serviceId }, orderBy: ORDER });
    return rows.map(toServiceVersionView);
  }

  async create(serviceId: string, input: ServiceVersionCreateReq, request: RequestContext | undefined): Promise<ServiceVersionView> {
    try {
      return await this.createNow(serviceId, input, request);
    } finally {
      this.o.onChange?.();
    }
  }

  private async createNow(
    serviceId: string,
    input: ServiceVersionCreateReq,
    request: RequestContext | undefined,
  ): Promise<ServiceVersionView> {
    const service = found(await this.o.prisma.service.findUnique({ where: { id: serviceId } }), "Service");
    const image = input.image ?? service.image;
    this.checkPaths(service.template as ServiceTemplate, { image, version: input.version }, input.upgradeFrom);
    if (input.isDefault && !input.isActive) throw defaultMustBeActive();
    try {
      const row = await inTransaction(this.o.prisma, async (tx) => {
        if (input.isDefault) await tx.serviceVersion.updateMany({ where: { serviceId, isDefault: true }, data: { isDefault: false } });
        const created = await tx.serviceVersion.create({ data: { ...input, image, serviceId } });
        if (input.isDefault) await tx.service.update({ where: { id: serviceId }, data: { image, version: input.version } });
        await this.o.audit?.record(tx, {
          request,
          action: "admin.catalog.version.create",
          objectType: "service_version",
          objectId: created.id,
          details: { serviceId, ...input, image },
        });
        return created;
      });
      return toServiceVersionView(row);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError(`Service '${service.slug}' already has version '${input.version}'`, { cause: err });
      }
      throw err;
    }
  }

  async update(id: string, input: ServiceVersionUpdateReq, request: RequestContext | undefined): Promise<ServiceVersionView> {
    try {
      return await this.updateNow(id, input, request);
    } finally {
      this.o.onChange?.();
    }
  }

  private async updateNow(id: string, input: ServiceVersionUpdateReq, request: RequestContext | undefined): Promise<ServiceVersionView> {
    const existing = found(await this.o.prisma.serviceVersion.findUnique({ where: { id }, include: { service: true } }), "Version");
    const next = { ...existing, ...input };
    if (input.upgradeFrom !== undefined || input.image !== undefined) {
      this.checkPaths(existing.service.template as ServiceTemplate, next, next.upgradeFrom);
    }
    if (existing.isDefault && input.isDefault === false) {
      throw new InvalidStateError("A service always has a default version: make another version the default instead", {
        details: { versionId: id },
      });
    }
    if (next.isDefault && !next.isActive) throw defaultMustBeActive();
    const row = await inTransaction(this.o.prisma, async (tx) => {
      if (input.isDefault && !existing.isDefault) {
        await tx.serviceVersion.updateMany({ where: { serviceId: existing.serviceId, isDefault: true }, data: { isDefault: false } });
      }
      const updated = await tx.serviceVersion.update({ where: { id }, data: input });
      if (updated.isDefault)
        await tx.service.update({ where: { id: existing.serviceId }, data: { image: updated.image, version: updated.version } });
      await this.o.audit?.record(tx, {
        request,
        action: "admin.catalog.version.update",
        objectType: "service_version",
        objectId: id,
        details: { serviceId: existing.serviceId, ...input },
      });
      return updated;
    });
    return toServiceVersionView(row);
  }

  /** Each declared path must be one the image can do in place (400 with the offending entries). */
  private checkPaths(template: ServiceTemplate, to: { image: string; version: string }, upgradeFrom: string[]): void {
    const details = [];
    for (const [i, from] of upgradeFrom.entries()) {
      if (from === to.version) {
        details.push({ path: `upgradeFrom.${i}`, message: "a version cannot upgrade to itself" });
        continue;
      }
      const refusal = upgradeRefusal(template, { image: to.image, version: from }, to);
      if (refusal) details.push({ path: `upgradeFrom.${i}`, message: refusal });
    }
    if (details.length) throw new ValidationError("Some upgrade paths cannot be done in place", { details });
  }
}

function defaultMustBeActive(): InvalidStateError {
  return new InvalidStateError("The default version must be active (new instances run it)");
}

/**
 * Credit packages: what is for sale. Admins list, create, rename, deactivate and reactivate them;
 * credits and price never change once created (purchases copy them anyway), so a new price is a new
 * package. Seeded once with sensible defaults; seeding never undoes an admin's edits.
 */
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, found } from "../../platform/domain-errors.js";
import { isUniqueViolation } from "../../platform/transaction.js";
import type { CreditPackageCreateReq, CreditPackageUpdateReq, CreditPackageView } from "./payments.schema.js";
import { toCreditPackageView } from "./payments.views.js";

export const SEED_CREDIT_PACKAGES: CreditPackageCreateReq[] = [
  { slug: "credits-500", name: "500 credits", credits: 500, amount: 500, currency: "usd", isActive: true },
  { slug: "credits-2000", name: "2,000 credits", credits: 2000, amount: 1800, currency: "usd", isActive: true },
  { slug: "credits-5000", name: "5,000 credits", credits: 5000, amount: 4000, currency: "usd", isActive: true },
];

const order = [{ amount: "asc" as const }, { slug: "asc" as const }];

export class CreditPackagesService {
  constructor(private readonly opts: { prisma: PrismaClient }) {}

  /** Missing seeded packages are created; existing ones (possibly edited or deactivated) are left alone. */
  async seed(): Promise<void> {
    for (const p of SEED_CREDIT_PACKAGES) {
      await this.opts.prisma.creditPackage.upsert({ where: { slug: p.slug }, create: p, update: {} });
    }
  }

  /** What users can buy. */
  async listActive(): Promise<CreditPackageView[]> {
    const rows = await this.opts.prisma.creditPackage.findMany({ where: { isActive: true }, orderBy: order });
    return rows.map(toCreditPackageView);
  }

  /** Admin view: inactive ones included. */
  async listAll(): Promise<CreditPackageView[]> {
    return (await this.opts.prisma.creditPackage.findMany({ orderBy: order })).map(toCreditPackageView);
  }

  async create(input: CreditPackageCreateReq): Promise<CreditPackageView> {
    try {
      return toCreditPackageView(await this.opts.prisma.creditPackage.create({ data: input }));
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`A credit package with slug '${input.slug}' already exists`, { cause: err });
      throw err;
    }
  }

  async update(id: string, input: CreditPackageUpdateReq): Promise<CreditPackageView> {
    found(await this.opts.prisma.creditPackage.findUnique({ where: { id } }), "Credit package");
    return toCreditPackageView(await this.opts.prisma.creditPackage.update({ where: { id }, data: input }));
  }
}

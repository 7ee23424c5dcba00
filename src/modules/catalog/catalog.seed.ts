/**
 * The seeded catalog. Seeding is idempotent: missing services and plans are created, existing ones
 * (possibly edited by an admin since) are left as they are.
 *
 * Backups: every seeded plan has a volume and a daily scheduled backup — the starter/small plans keep 7,
 * the larger ones 14. The windows start at night in Europe (PostgreSQL 01:00 UTC, n8n 02:00, Ghost
 * 03:00 UTC), each spread over BACKUP_SCHEDULE_SPREAD by instance id, so the services' fleets do not
 * snapshot in the same hour.
 */
import type { PrismaClient } from "../../platform/db/index.js";
import type { PlanCreateReq, ServiceCreateReq } from "./catalog.schema.js";

export const SEED_CATALOG: Array<ServiceCreateReq & { plans: PlanCreateReq[] }> = [
  {
    slug: "n8n",
    name: "n8n",
    description: "Workflow automation with 400+ integrations.",
    template: "n8n",
    image: "docker.n8n.io/n8nio/n8n",
    version: "1.103.2",
    port: 5678,
    isActive: true,
    plans: [
      {
        slug: "starter",
        name: "Starter",
        cpuMilli: 500,
        memoryMb: 512,
        storageGb: 5,
        monthlyPriceCredits: 500,
        isActive: true,
        backupRetention: 7,
        backupHourUtc: 2,
      },
      {
        slug: "pro",
        name: "Pro",
        cpuMilli: 1000,
        memoryMb: 1024,
        storageGb: 10,
        monthlyPriceCredits: 1000,
        isActive: true,
        backupRetention: 14,
        backupHourUtc: 2,
      },
    ],
  },
  {
    slug: "ghost",
    name: "Ghost",
    description: "Publishing platform for blogs and newsletters.",
    template: "ghost",
    image: "ghost",
    version: "5.130.2-alpine",
    port: 2368,
    isActive: true,
    plans: [
      {
        slug: "starter",
        name: "Starter",
        cpuMilli: 250,
        memoryMb: 512,
        storageGb: 5,
        monthlyPriceCredits: 400,
        isActive: true,
        backupRetention: 7,
        backupHourUtc: 3,
      },
      {
        slug: "pro",
        name: "Pro",
        cpuMilli: 500,
        memoryMb: 1024,
        storageGb: 10,
        monthlyPriceCredits: 800,
        isActive: true,
        backupRetention: 14,
        backupHourUtc: 3,
      },
    ],
  },
  {
    slug: "postgresql",
    name: "PostgreSQL",
    description: "Managed PostgreSQL database.",
    template: "postgresql",
    image: "postgres",
    version: "16.9-alpine",
    port: 5432,
    isActive: true,
    plans: [
      {
        slug: "small",
        name: "Small",
        cpuMilli: 250,
        memoryMb: 256,
        storageGb: 5,
        monthlyPriceCredits: 300,
        isActive: true,
        backupRetention: 7,
        backupHourUtc: 1,
      },
      {
        slug: "medium",
        name: "Medium",
        cpuMilli: 500,
        memoryMb: 1024,
        storageGb: 20,
        monthlyPriceCredits: 700,
        isActive: true,
        backupRetention: 14,
        backupHourUtc: 1,
      },
    ],
  },
];

export async function seedCatalog(prisma: PrismaClient): Promise<void> {
  for (const { plans, ...service } of SEED_CATALOG) {
    const s = await prisma.service.upsert({ where: { slug: service.slug }, create: service, update: {} });
    for (const plan of plans) {
      await prisma.plan.upsert({
        where: { serviceId_slug: { serviceId: s.id, slug: plan.slug } },
        create: { ...plan, serviceId: s.id },
        update: {},
      });
    }
  }
}

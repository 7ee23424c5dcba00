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

/**
 * Seeded image versions and upgrade paths (real tags of the images above; the service's own version
 * is its default). Patch releases upgrade within their line; PostgreSQL 17 is offered to no 16.x
 * instance — a major version cannot be upgraded in place — and every PostgreSQL tag stays on Alpine
 * (its postgres user is uid 70, Debian's is 999: the volume's files would not be readable).
 */
export const SEED_VERSIONS: Record<string, Array<{ version: string; upgradeFrom: string[]; notes: string; isActive?: boolean }>> = {
  n8n: [
    { version: "1.103.1", upgradeFrom: [], notes: "Previous patch release" },
    { version: "1.103.2", upgradeFrom: ["1.103.1"], notes: "Patch release" },
    { version: "1.104.0", upgradeFrom: ["1.103.1", "1.103.2"], notes: "Minor release: new nodes and fixes" },
  ],
  ghost: [
    { version: "5.130.1-alpine", upgradeFrom: [], notes: "Previous patch release" },
    { version: "5.130.2-alpine", upgradeFrom: ["5.130.1-alpine"], notes: "Patch release" },
  ],
  postgresql: [
    { version: "16.9-alpine", upgradeFrom: [], notes: "PostgreSQL 16" },
    { version: "16.10-alpine", upgradeFrom: ["16.9-alpine"], notes: "PostgreSQL 16 minor release: bug and security fixes" },
    {
      version: "17.6-alpine",
      upgradeFrom: [],
      notes: "PostgreSQL 17: not an in-place upgrade from 16 (create a new instance and move the data with pg_dump/pg_restore)",
    },
  ],
};

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
    await seedVersions(prisma, s);
  }
}

/** Missing versions are created (existing ones left as an admin may have edited them); the service's version is the default. */
async function seedVersions(prisma: PrismaClient, s: { id: string; slug: string; image: string; version: string }): Promise<void> {
  for (const v of SEED_VERSIONS[s.slug] ?? []) {
    await prisma.serviceVersion.upsert({
      where: { serviceId_version: { serviceId: s.id, version: v.version } },
      create: {
        serviceId: s.id,
        version: v.version,
        image: s.image,
        upgradeFrom: v.upgradeFrom,
        notes: v.notes,
        isActive: v.isActive ?? true,
      },
      update: {},
    });
  }
  if (!(await prisma.serviceVersion.findFirst({ where: { serviceId: s.id, isDefault: true } }))) {
    await prisma.serviceVersion.upsert({
      where: { serviceId_version: { serviceId: s.id, version: s.version } },
      create: { serviceId: s.id, version: s.version, image: s.image, isDefault: true },
      update: { isDefault: true, isActive: true },
    });
  }
}

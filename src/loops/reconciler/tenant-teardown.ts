/**
 * The one place a tenant namespace is deleted: when nothing in it is needed any more — no live
 * instance of the user (other than the one being removed) and no backup retained after its instance
 * was deleted (a VolumeSnapshot is namespaced, and a PVC can be restored only from a snapshot in its
 * own namespace, so the namespace stays while one is kept). Used by the reconciler when an instance
 * is terminated or rolled back, and by the backup loop when the last retained backup goes.
 */
import type { InstanceCluster } from "../../modules/instances/instance-cluster.js";
import { hasRetainedBackups } from "../../modules/backups/backup-retention.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { forgetTenant } from "./tenant-sync.js";

export type TeardownResult = { deleted: boolean; kept?: "instances" | "retained-backups" };

export class TenantTeardown {
  constructor(private readonly o: { prisma: PrismaClient; cluster: Pick<InstanceCluster, "deleteNamespace"> }) {}

  /** Deletes `namespace` (and everything in it) unless something in it is still needed. */
  async removeIfUnused(userId: string, namespace: string, exceptInstanceId?: string): Promise<TeardownResult> {
    const others = await this.o.prisma.instance.count({
      where: { userId, status: { notIn: ["TERMINATED", "FAILED"] }, ...(exceptInstanceId ? { id: { not: exceptInstanceId } } : {}) },
    });
    if (others > 0) return { deleted: false, kept: "instances" };
    if (await hasRetainedBackups(this.o.prisma, userId)) return { deleted: false, kept: "retained-backups" };
    const deleted = await this.o.cluster.deleteNamespace(namespace);
    await forgetTenant(this.o.prisma, userId);
    return { deleted };
  }
}

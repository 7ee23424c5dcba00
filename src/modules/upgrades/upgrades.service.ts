/**
 * Version upgrades of an instance (the API's side): GET /versions (what it runs, where it may go) and
 * PUT /version (start an upgrade). The request records the upgrade and its pre-upgrade backup (through
 * the backup service: the same quota rule, row and loop as POST /backups, trigger "upgrade"); the
 * backup loop starts the rollout once the snapshot is READY, and the reconciler rolls it out or back
 * (modules/upgrades/upgrade-steps.ts). Scoped like the instance API: the owner acts, admins may read.
 */
import type { Instance, Plan, Service, ServiceVersion } from "../../generated/prisma/client.js";
import type { ServiceTemplate } from "../../kube/templates/template-spec.js";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, InvalidStateError, NotFoundError, UpgradeNotAllowedError } from "../../platform/domain-errors.js";
import type { AuthIdentity } from "../../platform/http/auth.js";
import type { InstanceSignal } from "../../platform/signals.js";
import { inTransaction } from "../../platform/transaction.js";
import type { AuditService } from "../audit/audit.service.js";
import type { BackupsService } from "../backups/backups.service.js";
import { lockUser } from "../credits/ledger.service.js";
import * as state from "../instances/instance-state.js";
import type { QuotaService } from "../quotas/quotas.service.js";
import { startUpgradeWithoutSnapshot } from "./upgrade-steps.js";
import { upgradeRefusal } from "./upgrade-paths.js";
import type { InstanceVersions, UpgradeProgress, VersionRef } from "./upgrades.schema.js";

export interface UpgradesServiceOptions {
  prisma: PrismaClient;
  clock: Clock;
  signal: InstanceSignal;
  quotas: QuotaService;
  backups: Pick<BackupsService, "requestInTx" | "wake">;
  audit?: AuditService;
}

type Loaded = Instance & { plan: Plan; service: Service };

export class UpgradesService {
  constructor(private readonly o: UpgradesServiceOptions) {}

  private async load(caller: AuthIdentity, id: string, ownerOnly: boolean): Promise<Loaded> {
    const scope = ownerOnly || caller.role !== "ADMIN" ? { userId: caller.userId } : {};
    const inst = await this.o.prisma.instance.findFirst({ where: { id, ...scope }, include: { plan: true, service: true } });
    if (!inst) throw new NotFoundError("Instance not found");
    return inst;
  }

  async versions(caller: AuthIdentity, id: string): Promise<InstanceVersions> {
    return this.view(await this.load(caller, id, false));
  }

  /**
   * Starts an upgrade to `version`: 409 INVALID_STATE unless the instance is RUNNING with nothing else in
   * progress; 404 for a version the service does not have; 409 CONFLICT for the version it runs or an
   * inactive one; 409 UPGRADE_NOT_ALLOWED for one whose upgrade paths do not include the current version
   * (or that its image cannot do in place, e.g. a PostgreSQL major version). 422 QUOTA_EXCEEDED without
   * room for the pre-upgrade backup and a rollback's volume.
   */
  async upgrade(caller: AuthIdentity, id: string, body: { version: string }): Promise<InstanceVersions> {
    const inst = await this.load(caller, id, true);
    const current = currentOf(inst);
    if (inst.status !== "RUNNING" || inst.desiredState !== "RUNNING" || inst.upgradeToVersion || inst.restoreClaim) {
      throw new InvalidStateError(
        inst.upgradeToVersion
          ? `An upgrade to ${inst.upgradeToVersion} is already in progress`
          : `Instance is ${inst.status}; only a RUNNING instance can be upgraded`,
        { details: { status: inst.status, desiredState: inst.desiredState, upgradeToVersion: inst.upgradeToVersion } },
      );
    }
    const target = await this.o.prisma.serviceVersion.findUnique({
      where: { serviceId_version: { serviceId: inst.serviceId, version: body.version } },
    });
    if (!target) throw new NotFoundError(`Version '${body.version}' of ${inst.service.name} not found`);
    if (target.version === current.version) {
      throw new ConflictError(`The instance already runs ${current.version}`, { details: { currentVersion: current.version } });
    }
    if (!target.isActive) throw new ConflictError(`Version '${target.version}' is not available`, { details: { version: target.version } });
    const refusal = upgradeRefusal(inst.service.template as ServiceTemplate, current, target);
    if (refusal || !target.upgradeFrom.includes(current.version)) {
      const allowed = (await this.candidates(inst)).map((v) => v.version);
      throw new UpgradeNotAllowedError(
        refusal ??
          `${current.version} -> ${target.version} is not an allowed upgrade path (allowed from ${current.version}: ${allowed.join(", ") || "none"})`,
        { details: { currentVersion: current.version, requestedVersion: target.version, allowed } },
      );
    }
    const pending = await this.o.prisma.backup.findFirst({ where: { instanceId: id, status: "PENDING", deleteRequestedAt: null } });
    if (pending) {
      throw new InvalidStateError("A backup of this instance is in progress; upgrade once it is done", {
        details: { status: inst.status, backupId: pending.id },
      });
    }
    const hasVolume = inst.plan.storageGb > 0;
    const started = await inTransaction(this.o.prisma, async (tx) => {
      await lockUser(tx, inst.userId);
      return state.requestUpgrade(
        tx,
        { ...inst, version: current.version },
        {
          toVersion: target.version,
          takeBackup: async () => {
            if (!hasVolume) return null;
            const backup = await this.o.backups.requestInTx(tx, inst, "upgrade");
            // A rollback restores that backup onto a new volume beside the current one: room for it too.
            await this.o.quotas.assertWithinQuota(tx, inst.userId, {
              instances: 0,
              cpuMilli: 0,
              memoryMb: 0,
              storageGb: inst.plan.storageGb,
            });
            return backup;
          },
        },
      );
    });
    if (!started) throw new InvalidStateError("Instance changed state meanwhile; try again");
    await this.o.audit?.record(this.o.prisma, {
      request: caller.request,
      action: "instance.upgrade",
      objectType: "instance",
      objectId: id,
      details: { fromVersion: current.version, toVersion: target.version, backupId: started.backupId },
    });
    if (started.backupId) this.o.backups.wake();
    else if ((await startUpgradeWithoutSnapshot(this.o.prisma, id, this.o.clock.now())) === "started") this.o.signal.instanceChanged(id);
    return this.versions(caller, id);
  }

  /** The catalog's active versions whose upgrade paths include the instance's version (and its image can take). */
  private async candidates(inst: Loaded): Promise<ServiceVersion[]> {
    const current = currentOf(inst);
    const rows = await this.o.prisma.serviceVersion.findMany({
      where: { serviceId: inst.serviceId, isActive: true, upgradeFrom: { has: current.version } },
      orderBy: [{ createdAt: "asc" }, { version: "asc" }],
    });
    return rows.filter((v) => v.version !== current.version && !upgradeRefusal(inst.service.template as ServiceTemplate, current, v));
  }

  private async view(inst: Loaded): Promise<InstanceVersions> {
    const current = currentOf(inst);
    const row = await this.o.prisma.serviceVersion.findUnique({
      where: { serviceId_version: { serviceId: inst.serviceId, version: current.version } },
    });
    const available = await this.candidates(inst);
    return {
      instanceId: inst.id,
      service: inst.service.slug,
      current: { ...current, notes: row?.notes ?? "" },
      available: available.map(refOf),
      upgrade: progressOf(inst),
    };
  }
}

/** The version an instance runs (rows from before versions existed run their service's). */
function currentOf(inst: Loaded): { version: string; image: string } {
  return { version: inst.version ?? inst.service.version, image: inst.image ?? inst.service.image };
}

function refOf(v: ServiceVersion): VersionRef {
  return { version: v.version, image: v.image, notes: v.notes };
}

function progressOf(inst: Loaded): UpgradeProgress | null {
  if (!inst.upgradeToVersion) return null;
  const current = currentOf(inst);
  if (!inst.upgradeFromVersion) {
    return { fromVersion: current.version, toVersion: inst.upgradeToVersion, phase: "SNAPSHOT", backupId: inst.upgradeBackupId };
  }
  return {
    fromVersion: inst.upgradeFromVersion,
    toVersion: inst.upgradeToVersion,
    phase: inst.status === "UPGRADING" ? "ROLLING_OUT" : "ROLLING_BACK",
    backupId: inst.upgradeBackupId,
  };
}

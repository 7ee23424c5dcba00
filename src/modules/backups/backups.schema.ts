import { z } from "zod";
import { BackupStatus } from "../../generated/prisma/enums.js";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";

export const BackupParamsSchema = z.strictObject({ id: z.string().min(1).max(64), backupId: z.string().min(1).max(64) });
export const BackupListQuerySchema = PageQuerySchema;
export type BackupListQuery = z.infer<typeof BackupListQuerySchema>;

export const BackupViewSchema = z.object({
  id: z.string(),
  instanceId: z.string(),
  status: z.enum(BackupStatus).describe("PENDING until the VolumeSnapshot is readyToUse (READY) or fails (FAILED, see reason)"),
  reason: z.string().nullable().describe("Why it FAILED: the snapshot controller's or CSI driver's message, or a timeout"),
  trigger: z
    .string()
    .describe("manual (POST /backups) or scheduled (the plan's daily backup; its retention deletes the oldest READY scheduled ones)"),
  snapshotName: z.string().describe("The VolumeSnapshot in the instance's namespace"),
  snapshotClass: z.string().describe("Its VolumeSnapshotClass (BACKUP_SNAPSHOT_CLASS)"),
  sizeBytes: z.number().int().nullable().describe("The volume size a restore needs (restoreSize), once READY"),
  createdAt: IsoDateTime,
  readyAt: IsoDateTime.nullable(),
  failedAt: IsoDateTime.nullable(),
  deleteRequestedAt: IsoDateTime.nullable().describe("Set by DELETE: the snapshot and then the backup are removed shortly"),
});
export type BackupView = z.infer<typeof BackupViewSchema>;
export const BackupResponseSchema = z.object({ backup: BackupViewSchema });
export const BackupListResponseSchema = pageOf(BackupViewSchema);

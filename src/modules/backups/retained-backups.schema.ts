import { z } from "zod";
import { PageQuerySchema } from "../../platform/http/pagination.js";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";
import { PlanSummarySchema, ServiceSummarySchema } from "../instances/instances.schema.js";
import { BackupViewSchema } from "./backups.schema.js";

export const RetainedBackupListQuerySchema = PageQuerySchema;
export type RetainedBackupListQuery = z.infer<typeof RetainedBackupListQuerySchema>;
export const RetainedBackupParamsSchema = z.strictObject({ backupId: z.string().min(1).max(64) });

/** A backup kept after its instance was deleted: restorable into a new instance of `service` until `retainedUntil`. */
export const RetainedBackupViewSchema = BackupViewSchema.extend({
  retainedUntil: IsoDateTime.describe("Restorable until then (BACKUP_RETENTION_AFTER_DELETE after the deletion); deleted after"),
  instance: z
    .object({ id: z.string(), name: z.string(), terminatedAt: IsoDateTime.nullable() })
    .describe("The deleted instance it was taken from"),
  service: ServiceSummarySchema.describe("Its service: POST /api/subscriptions {planId, instanceName, restoreBackupId} takes a plan of it"),
  plan: PlanSummarySchema.describe("The deleted instance's plan (the new one needs at least the backup's size in storage)"),
});
export type RetainedBackupView = z.infer<typeof RetainedBackupViewSchema>;
export const RetainedBackupResponseSchema = z.object({ backup: RetainedBackupViewSchema });
export const RetainedBackupListResponseSchema = pageOf(RetainedBackupViewSchema);

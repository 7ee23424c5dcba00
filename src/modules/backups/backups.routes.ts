import { type Request, type RequestHandler, type Response, Router } from "express";
import { caller } from "../../platform/http/auth.js";
import { input } from "../../platform/http/request-validation.js";
import { doc } from "../../platform/http/route-meta.js";
import { validate } from "../../platform/http/request-validation.js";
import { InstanceIdParamsSchema } from "../instances/instances.schema.js";
import {
  type BackupListQuery,
  BackupListQuerySchema,
  BackupListResponseSchema,
  BackupParamsSchema,
  BackupResponseSchema,
} from "./backups.schema.js";
import type { BackupsService } from "./backups.service.js";

/** How a backup is taken, and why so for PostgreSQL: the one statement of it in the OpenAPI document (README says the same). */
const BACKUP_DESCRIPTION =
  "A backup is a CSI VolumeSnapshot (snapshot.storage.k8s.io/v1, class BACKUP_SNAPSHOT_CLASS) of the instance's volume, " +
  "in the instance's namespace. 202 {backup} with status PENDING; the backup loop cuts the snapshot and sets READY (with " +
  "sizeBytes) or FAILED (with reason: the snapshot controller's or CSI driver's error, or BACKUP_TIMEOUT) — never silently. " +
  "Only a RUNNING or STOPPED instance can be backed up (409 otherwise), one pending backup at a time (409). " +
  "Backups count against the storage quota (each its restore size in whole GiB; the plan's storage while pending): " +
  "422 QUOTA_EXCEEDED when there is no room. " +
  "Consistency: n8n and Ghost volumes are snapshotted live (crash-consistent: one volume, cut atomically). A RUNNING " +
  "PostgreSQL instance is stopped briefly for the cut (scaled to 0: a clean shutdown, so the image needs no WAL replay), " +
  "then started again by itself, whether the backup succeeds or fails; its owner cannot start it in between (409). " +
  "A CHECKPOINT through the pod was not chosen: it needs pods/exec, which would let the control plane run any command " +
  "in every tenant's pods, and it still leaves a live, crash-recovery image.";

/**
 * On the router of /api/instances (`r`, shared with the instance routes, which come after; only
 * `/:id/backups…` paths), behind `authenticate`.
 */
export function backupsRoutes(deps: { backups: BackupsService; authenticate: RequestHandler }, r: Router = Router()): Router {
  r.use("/:id/backups", deps.authenticate);
  r.get(
    "/:id/backups",
    doc({
      summary: "The instance's backups, newest first (owner; admins may read)",
      tags: ["backups"],
      response: { description: "{data: [backup], page}", schema: BackupListResponseSchema },
    }),
    validate({ params: InstanceIdParamsSchema, query: BackupListQuerySchema }),
    async (_req: Request, res: Response) => {
      const { params, query } = input<unknown, BackupListQuery, { id: string }>(res);
      res.json(await deps.backups.list(caller(res), params.id, query));
    },
  );
  r.post(
    "/:id/backups",
    doc({
      summary: "Back up the instance's volume now (a VolumeSnapshot): PENDING, then READY or FAILED",
      description: BACKUP_DESCRIPTION,
      tags: ["backups"],
      status: 202,
      response: { description: "{backup}", schema: BackupResponseSchema },
      errors: [409, 422],
    }),
    validate({ params: InstanceIdParamsSchema }),
    async (_req: Request, res: Response) => {
      const { params } = input<unknown, unknown, { id: string }>(res);
      res.status(202).json({ backup: await deps.backups.create(caller(res), params.id) });
    },
  );
  r.delete(
    "/:id/backups/:backupId",
    doc({
      summary: "Delete a backup: its VolumeSnapshot is removed, then the backup disappears from the list",
      description: "409 while the instance is being restored from this backup.",
      tags: ["backups"],
      status: 202,
      response: { description: "{backup} with deleteRequestedAt", schema: BackupResponseSchema },
      errors: [409],
    }),
    validate({ params: BackupParamsSchema }),
    async (_req: Request, res: Response) => {
      const { params } = input<unknown, unknown, { id: string; backupId: string }>(res);
      res.status(202).json({ backup: await deps.backups.delete(caller(res), params.id, params.backupId) });
    },
  );
  return r;
}

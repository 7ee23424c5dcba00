import { type Request, type Response, Router } from "express";
import { caller } from "../../platform/http/auth.js";
import { input, validate } from "../../platform/http/request-validation.js";
import { doc } from "../../platform/http/route-meta.js";
import {
  type RetainedBackupListQuery,
  RetainedBackupListQuerySchema,
  RetainedBackupListResponseSchema,
  RetainedBackupParamsSchema,
  RetainedBackupResponseSchema,
} from "./retained-backups.schema.js";
import type { RetainedBackupsService } from "./retained-backups.service.js";

/** What happens to a deleted instance's backups: the one statement of it in the OpenAPI document (README says the same). */
const RETAINED_DESCRIPTION =
  "When an instance is deleted, its newest READY backup is kept for BACKUP_RETENTION_AFTER_DELETE (default 7 days; its " +
  "other backups are deleted with it). Until then it is listed here and can be restored into a new instance of the same " +
  "service: POST /api/subscriptions {planId, instanceName, restoreBackupId} (charged, quota-checked and idempotent like " +
  "any purchase; the plan needs at least the backup's size in storage). The new instance's volume is made from the " +
  "backup's VolumeSnapshot, and the backup becomes the new instance's backup (listed under it, deleted by its owner or with " +
  "it). A retained backup counts against the storage quota, and keeps the user's namespace (which holds the snapshot) " +
  "after their last instance is gone; when its retention is over it is deleted (a restore then answers 404), and the " +
  "namespace with it if nothing else is left.";

/** Mounted at /api/backups behind authenticate. */
export function retainedBackupsRoutes(deps: { retained: RetainedBackupsService }): Router {
  const r = Router();
  r.get(
    "/retained",
    doc({
      summary: "The caller's backups kept after their instance was deleted (restorable ones), newest first",
      description: RETAINED_DESCRIPTION,
      tags: ["backups"],
      response: { description: "{data: [backup], page}", schema: RetainedBackupListResponseSchema },
    }),
    validate({ query: RetainedBackupListQuerySchema }),
    async (_req: Request, res: Response) => {
      const { query } = input<unknown, RetainedBackupListQuery>(res);
      res.json(await deps.retained.list(caller(res), query));
    },
  );
  r.delete(
    "/retained/:backupId",
    doc({
      summary:
        "Give up a retained backup before its retention ends: its snapshot is deleted (and the namespace if it was the last thing in it)",
      tags: ["backups"],
      status: 202,
      response: { description: "{backup} with deleteRequestedAt", schema: RetainedBackupResponseSchema },
    }),
    validate({ params: RetainedBackupParamsSchema }),
    async (_req: Request, res: Response) => {
      const { params } = input<unknown, unknown, { backupId: string }>(res);
      res.status(202).json({ backup: await deps.retained.release(caller(res), params.backupId) });
    },
  );
  return r;
}

import { type Request, type RequestHandler, type Response, Router } from "express";
import { caller } from "../../platform/http/auth.js";
import { input, validate } from "../../platform/http/request-validation.js";
import { doc } from "../../platform/http/route-meta.js";
import { InstanceIdParamsSchema } from "../instances/instances.schema.js";
import { type InstanceVersionUpdateReq, InstanceVersionUpdateSchema, InstanceVersionsResponseSchema } from "./upgrades.schema.js";
import type { UpgradesService } from "./upgrades.service.js";

/** How an upgrade runs: the one statement of it in the OpenAPI document (README says the same). */
const UPGRADE_DESCRIPTION =
  "Owner only. Starts an upgrade of a RUNNING instance to one of the versions GET /versions lists as `available` " +
  "(the catalog's upgrade paths, admin-managed). Steps, each an instance event: UPGRADE_REQUESTED; a pre-upgrade backup " +
  "(a VolumeSnapshot, trigger `upgrade`, as POST /backups: PostgreSQL is stopped briefly for the cut); once it is READY, " +
  "UPGRADE_SNAPSHOT_READY and UPGRADE_STARTED: status UPGRADING while the new image rolls out; UPGRADE_ROLLED_OUT when it " +
  "runs (RUNNING on the new version). If the new version does not become ready within ROLLOUT_TIMEOUT (or its pods are " +
  "stuck in ImagePullBackOff/CrashLoopBackOff for STUCK_POD_GRACE, or the cluster refuses it): UPGRADE_FAILED, the previous " +
  "version and image come back on a new volume restored from the pre-upgrade snapshot (RESTORING), then " +
  "UPGRADE_ROLLED_BACK and RUNNING — the data as it was before the upgrade. If the pre-upgrade backup fails, the upgrade " +
  "does not start (UPGRADE_FAILED; the instance stays RUNNING on its version). 202 {versions} with `upgrade` in progress. " +
  "Errors: 404 for a version the service does not have; 409 CONFLICT for the version it runs or an inactive one; " +
  "409 UPGRADE_NOT_ALLOWED for a version the upgrade paths do not allow from the current one (e.g. PostgreSQL 16.x -> 17.x: " +
  "a major version cannot be upgraded in place); 409 INVALID_STATE unless the instance is RUNNING with no upgrade, " +
  "restore or backup in progress; 422 QUOTA_EXCEEDED without storage quota for the backup and a rollback's volume.";

/**
 * On the router of /api/instances (`r`, shared with the instance routes, which come after; only
 * `/:id/version(s)` paths), behind `authenticate`.
 */
export function upgradesRoutes(deps: { upgrades: UpgradesService; authenticate: RequestHandler }, r: Router = Router()): Router {
  r.use("/:id/versions", deps.authenticate);
  r.use("/:id/version", deps.authenticate);
  r.get(
    "/:id/versions",
    doc({
      summary: "The version the instance runs, the versions it may upgrade to, and the upgrade in progress (owner; admins may read)",
      tags: ["upgrades"],
      response: { description: "{versions}", schema: InstanceVersionsResponseSchema },
    }),
    validate({ params: InstanceIdParamsSchema }),
    async (_req: Request, res: Response) => {
      const { params } = input<unknown, unknown, { id: string }>(res);
      res.json({ versions: await deps.upgrades.versions(caller(res), params.id) });
    },
  );
  r.put(
    "/:id/version",
    doc({
      summary: "Upgrade the instance to another version: a snapshot first, then the rollout; rolled back by itself if it never runs",
      description: UPGRADE_DESCRIPTION,
      tags: ["upgrades"],
      status: 202,
      response: { description: "{versions} with the upgrade in progress", schema: InstanceVersionsResponseSchema },
      errors: [409, 422],
    }),
    validate({ params: InstanceIdParamsSchema, body: InstanceVersionUpdateSchema }),
    async (_req: Request, res: Response) => {
      const { params, body } = input<InstanceVersionUpdateReq, unknown, { id: string }>(res);
      res.status(202).json({ versions: await deps.upgrades.upgrade(caller(res), params.id, body) });
    },
  );
  return r;
}

import { z } from "zod";
import { VersionTag } from "../catalog/service-versions.schema.js";

export const InstanceVersionUpdateSchema = z.strictObject({
  version: VersionTag.describe("The version to move to: one of GET /api/instances/{id}/versions `available`"),
});
export type InstanceVersionUpdateReq = z.infer<typeof InstanceVersionUpdateSchema>;

export const VersionRefSchema = z.object({
  version: z.string().describe("The image tag"),
  image: z.string().describe("The image repository"),
  notes: z.string().describe("The catalog's notes on this version (empty when it is not in the catalog)"),
});
export type VersionRef = z.infer<typeof VersionRefSchema>;

export const UPGRADE_PHASES = ["SNAPSHOT", "ROLLING_OUT", "ROLLING_BACK"] as const;

export const UpgradeProgressSchema = z.object({
  fromVersion: z.string(),
  toVersion: z.string(),
  phase: z
    .enum(UPGRADE_PHASES)
    .describe(
      "SNAPSHOT: the pre-upgrade backup is being taken (the old version still runs); ROLLING_OUT: the new version " +
        "rolls out (UPGRADING); ROLLING_BACK: it did not become ready, the previous version returns with the snapshot's data",
    ),
  backupId: z.string().nullable().describe("The pre-upgrade backup (null: the instance has no volume)"),
});
export type UpgradeProgress = z.infer<typeof UpgradeProgressSchema>;

export const InstanceVersionsSchema = z.object({
  instanceId: z.string(),
  service: z.string().describe("The service's slug"),
  current: VersionRefSchema.describe("The version the instance runs"),
  available: z
    .array(VersionRefSchema)
    .describe("The versions it may upgrade to (the catalog's active versions whose upgrade paths include the current one)"),
  upgrade: UpgradeProgressSchema.nullable().describe("The upgrade in progress, if any"),
});
export type InstanceVersions = z.infer<typeof InstanceVersionsSchema>;
export const InstanceVersionsResponseSchema = z.object({ versions: InstanceVersionsSchema });

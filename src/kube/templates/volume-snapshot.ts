/**
 * A backup's VolumeSnapshot (snapshot.storage.k8s.io/v1, the external-snapshotter CRD): a pure
 * function of the backup, and a small schema model for it (kubernetes-models has no snapshot types),
 * registered with the manifest validation so it is checked before every apply like every other kind.
 */
import { LABELS, MANAGED_BY } from "./labels.js";

export const SNAPSHOT_API_VERSION = "snapshot.storage.k8s.io/v1";
/** Label carrying the backup row's id on its VolumeSnapshot. */
export const BACKUP_ID_LABEL = "minispod.io/backup-id";

export interface VolumeSnapshotManifest {
  apiVersion: typeof SNAPSHOT_API_VERSION;
  kind: "VolumeSnapshot";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { volumeSnapshotClassName: string; source: { persistentVolumeClaimName: string } };
}

export function renderVolumeSnapshot(b: {
  backupId: string;
  instanceId: string;
  userId: string;
  namespace: string;
  snapshotName: string;
  pvcName: string;
  snapshotClass: string;
}): VolumeSnapshotManifest {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: "VolumeSnapshot",
    metadata: {
      name: b.snapshotName,
      namespace: b.namespace,
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.instanceId]: b.instanceId,
        [LABELS.userId]: b.userId,
        [BACKUP_ID_LABEL]: b.backupId,
      },
    },
    spec: { volumeSnapshotClassName: b.snapshotClass, source: { persistentVolumeClaimName: b.pvcName } },
  };
}

type Problem = { instancePath: string; message: string };

/** The CRD's structural schema and CEL rules for what the product writes (a ModelCtor for manifest-validation.ts). */
export class VolumeSnapshotModel {
  constructor(private readonly data: Record<string, unknown>) {}

  validate(): void {
    const errors: Problem[] = [];
    const spec = this.data.spec as Record<string, unknown> | undefined;
    const allowedTop = new Set(["apiVersion", "kind", "metadata", "spec"]);
    for (const k of Object.keys(this.data)) if (!allowedTop.has(k)) errors.push({ instancePath: `/${k}`, message: "unknown field" });
    if (typeof spec !== "object" || spec === null) errors.push({ instancePath: "/spec", message: "must have required property 'spec'" });
    else {
      for (const k of Object.keys(spec)) {
        if (k !== "source" && k !== "volumeSnapshotClassName") errors.push({ instancePath: `/spec/${k}`, message: "unknown field" });
      }
      const source = spec.source as Record<string, unknown> | undefined;
      const pvc = typeof source?.persistentVolumeClaimName === "string" && source.persistentVolumeClaimName !== "";
      const content = typeof source?.volumeSnapshotContentName === "string" && source.volumeSnapshotContentName !== "";
      if (pvc === content) {
        errors.push({
          instancePath: "/spec/source",
          message: "exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set",
        });
      }
      if (
        spec.volumeSnapshotClassName !== undefined &&
        (typeof spec.volumeSnapshotClassName !== "string" || !spec.volumeSnapshotClassName)
      ) {
        errors.push({ instancePath: "/spec/volumeSnapshotClassName", message: "must not be the empty string when set" });
      }
    }
    if (errors.length) throw Object.assign(new Error("VolumeSnapshot is invalid"), { errors });
  }
}

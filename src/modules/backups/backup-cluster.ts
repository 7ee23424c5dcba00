/**
 * What the backup loop needs from the cluster: apply a VolumeSnapshot, read its state, delete it.
 * Over the one cluster client (src/kube/client.ts); tests may substitute it.
 */
import { KINDS, type KubeClient } from "../../kube/client.js";
import { parseQuantity } from "../../kube/quantity.js";
import type { VolumeSnapshotManifest } from "../../kube/templates/volume-snapshot.js";

export interface SnapshotState {
  /** False when the VolumeSnapshot does not exist. */
  exists: boolean;
  readyToUse: boolean;
  /** status.restoreSize in bytes, once known. */
  restoreSizeBytes?: number;
  /** status.error.message: why the snapshot controller or the CSI driver could not cut it. */
  error?: string;
}

export interface BackupCluster {
  applySnapshot(manifest: VolumeSnapshotManifest): Promise<void>;
  snapshotState(namespace: string, name: string): Promise<SnapshotState>;
  /** Whether it existed. */
  deleteSnapshot(namespace: string, name: string): Promise<boolean>;
}

interface VolumeSnapshotObject {
  status?: { readyToUse?: boolean; restoreSize?: string; error?: { message?: string } };
}

export class KubeBackupCluster implements BackupCluster {
  constructor(private readonly client: KubeClient) {}

  async applySnapshot(manifest: VolumeSnapshotManifest): Promise<void> {
    await this.client.apply(manifest);
  }

  async snapshotState(namespace: string, name: string): Promise<SnapshotState> {
    const vs = await this.client.find<VolumeSnapshotObject & { apiVersion?: string; kind?: string }>({
      ...KINDS.VolumeSnapshot,
      name,
      namespace,
    });
    if (!vs) return { exists: false, readyToUse: false };
    const size = vs.status?.restoreSize !== undefined ? parseQuantity(vs.status.restoreSize) : undefined;
    return {
      exists: true,
      readyToUse: vs.status?.readyToUse === true,
      ...(size !== undefined ? { restoreSizeBytes: size } : {}),
      ...(vs.status?.error?.message ? { error: vs.status.error.message } : {}),
    };
  }

  deleteSnapshot(namespace: string, name: string): Promise<boolean> {
    return this.client.delete({ ...KINDS.VolumeSnapshot, name, namespace });
  }
}

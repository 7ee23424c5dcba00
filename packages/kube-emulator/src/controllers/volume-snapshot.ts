/**
 * CSI volume snapshots (snapshot.storage.k8s.io/v1), as the external snapshot-controller, the
 * csi-snapshotter sidecar and the external-provisioner of a CSI driver handle them:
 *
 * - A VolumeSnapshot of a PVC (`spec.source.persistentVolumeClaimName`) with a VolumeSnapshotClass
 *   (`spec.volumeSnapshotClassName`, or the class annotated as the default) gets a bound
 *   VolumeSnapshotContent `snapcontent-<snapshot uid>` at once (status.boundVolumeSnapshotContentName,
 *   readyToUse false, event CreatingSnapshot); the volume's contents are captured at that moment.
 *   After `snapshotReadyDelayMs` the content and the snapshot become readyToUse with a restoreSize
 *   (events SnapshotCreated, SnapshotReady). A missing class, a class of another driver, or a source
 *   PVC that is missing or not Bound leaves the snapshot not ready with `status.error` and a Warning
 *   event, as the real controller does (it retries when the PVC or class appears).
 * - Deleting a VolumeSnapshot deletes its content (and the captured data) when the content's
 *   deletionPolicy is Delete; Retain keeps the content. (The real controller's protection finalizers
 *   are not modelled: the objects go at once.)
 * - A PVC with `spec.dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name}` is
 *   provisioned only from a ready snapshot in its namespace whose restoreSize fits its request: until
 *   then it stays Pending with a ProvisioningFailed Warning event (the external-provisioner's
 *   behaviour), and is retried when the snapshot changes. Once bound, its volume holds the snapshot's
 *   contents.
 *
 * Volume contents are simulated: a small key/value map per volume, written and read only through the
 * emulator's test handle (`KubeEmulator.writeVolumeData` / `readVolumeData`), so a test can prove that
 * a restore brings back the snapshot's data, not today's.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import type { Cluster } from "../cluster.js";
import { parseQuantity } from "../quantity.js";
import { mustFindByKind, PVCS, resourceKey } from "../resources.js";
import { type KubeObject, k8sTime } from "../types.js";
import { recordEvent } from "./events.js";
import { type ControllerContext, type Obj, rec } from "./shared.js";

export const SNAPSHOT_GROUP = "snapshot.storage.k8s.io";
export const VOLUMESNAPSHOTS = mustFindByKind(`${SNAPSHOT_GROUP}/v1`, "VolumeSnapshot");
export const VOLUMESNAPSHOTCLASSES = mustFindByKind(`${SNAPSHOT_GROUP}/v1`, "VolumeSnapshotClass");
export const VOLUMESNAPSHOTCONTENTS = mustFindByKind(`${SNAPSHOT_GROUP}/v1`, "VolumeSnapshotContent");
/** The CSI driver behind the emulator's `standard` storage class (and its snapshot class). */
export const EMULATOR_CSI_DRIVER = "csi.emulator.minispod.io";
export const DEFAULT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class";
const CONTROLLER = "snapshot-controller";
const PROVISIONER = `${EMULATOR_CSI_DRIVER}_csi-provisioner`;

type Contents = Record<string, string>;

/** Simulated bytes: the contents of each volume (by PV name) and of each snapshot (by handle). */
export class VolumeContents {
  readonly volumes = new Map<string, Contents>();
  readonly snapshots = new Map<string, Contents>();
  /** `<namespace>/<pvc>` whose snapshots fail, with the driver's message (a test fault). */
  readonly failing = new Map<string, string>();
}

const contentsByCluster = new WeakMap<Cluster, VolumeContents>();

export function volumeContents(cluster: Cluster): VolumeContents {
  let c = contentsByCluster.get(cluster);
  if (!c) {
    c = new VolumeContents();
    contentsByCluster.set(cluster, c);
  }
  return c;
}

/** The PV name the volume binder gives a claim (pvc.ts). */
export function volumeNameOf(pvc: KubeObject): string {
  return `pvc-${pvc.metadata.uid}`;
}

function contentName(vs: KubeObject): string {
  return `snapcontent-${vs.metadata.uid}`;
}

function findClass(ctx: ControllerContext, name: unknown): KubeObject | string {
  if (typeof name === "string" && name) {
    return ctx.cluster.tryGet(VOLUMESNAPSHOTCLASSES, undefined, name) ?? `volumesnapshotclass.${SNAPSHOT_GROUP} "${name}" not found`;
  }
  const defaults = ctx.cluster.store
    .list(resourceKey(VOLUMESNAPSHOTCLASSES), {})
    .items.filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true" && c.driver === EMULATOR_CSI_DRIVER);
  if (defaults.length === 1) return defaults[0];
  return defaults.length === 0
    ? `cannot find default snapshot class for driver ${EMULATOR_CSI_DRIVER}`
    : `default snapshot class: too many default classes for driver ${EMULATOR_CSI_DRIVER}`;
}

function notReady(ctx: ControllerContext, vs: KubeObject, reason: string, message: string): void {
  const status = rec(vs.status);
  if (rec(status.error).message === message) return;
  ctx.writeStatus(VOLUMESNAPSHOTS, vs, { ...status, readyToUse: false, error: { message, time: k8sTime(ctx.cluster.now()) } });
  recordEvent(ctx.cluster, vs, "Warning", reason, message, CONTROLLER);
}

/** snapshot-controller + csi-snapshotter for one VolumeSnapshot. */
export function reconcileVolumeSnapshot(ctx: ControllerContext, ns: string, name: string): void {
  const vs = ctx.cluster.tryGet(VOLUMESNAPSHOTS, ns, name);
  if (!vs) return;
  const status = rec(vs.status);
  if (status.readyToUse === true || status.boundVolumeSnapshotContentName) return;
  const spec = rec(vs.spec);
  const source = rec(spec.source);
  if (typeof source.volumeSnapshotContentName === "string") return; // pre-provisioned: not used by the product
  const cls = findClass(ctx, spec.volumeSnapshotClassName);
  if (typeof cls === "string") {
    notReady(ctx, vs, "GetSnapshotClassFailed", `Failed to get snapshot class with error ${cls}`);
    return;
  }
  const pvcName = String(source.persistentVolumeClaimName ?? "");
  const pvc = ctx.cluster.tryGet(PVCS, ns, pvcName);
  if (!pvc) {
    notReady(
      ctx,
      vs,
      "SnapshotContentCreationFailed",
      `Failed to create snapshot content with error failed to get input parameters to create snapshot ${name}: "failed to retrieve PVC ${pvcName} from the lister: \\"persistentvolumeclaim \\\\\\"${pvcName}\\\\\\" not found\\""`,
    );
    return;
  }
  if (rec(pvc.status).phase !== "Bound") {
    notReady(
      ctx,
      vs,
      "SnapshotContentCreationFailed",
      `Failed to create snapshot content with error failed to get input parameters to create snapshot ${name}: "the PVC ${pvcName} is not yet bound to a PV, will not attempt to take a snapshot"`,
    );
    return;
  }
  if (cls.driver !== EMULATOR_CSI_DRIVER) {
    notReady(
      ctx,
      vs,
      "SnapshotContentCreationFailed",
      `Failed to create snapshot content with error snapshot controller failed to update ${ns}/${name}: the driver ${String(cls.driver)} of class ${cls.metadata.name} does not match the volume's driver ${EMULATOR_CSI_DRIVER}`,
    );
    return;
  }
  const store = volumeContents(ctx.cluster);
  const failure = store.failing.get(`${ns}/${pvcName}`);
  const cname = contentName(vs);
  const handle = `snapshot-${vs.metadata.uid}`;
  const volume = String(rec(pvc.spec).volumeName ?? volumeNameOf(pvc));
  const capacity = String(rec(rec(pvc.status).capacity).storage ?? rec(rec(rec(pvc.spec).resources).requests).storage ?? "0");
  if (!ctx.cluster.tryGet(VOLUMESNAPSHOTCONTENTS, undefined, cname)) {
    ctx.cluster.create(
      VOLUMESNAPSHOTCONTENTS,
      undefined,
      {
        apiVersion: `${SNAPSHOT_GROUP}/v1`,
        kind: "VolumeSnapshotContent",
        metadata: { name: cname, uid: "", resourceVersion: "", creationTimestamp: "" },
        spec: {
          deletionPolicy: String(cls.deletionPolicy ?? "Delete"),
          driver: EMULATOR_CSI_DRIVER,
          source: { volumeHandle: volume },
          volumeSnapshotClassName: cls.metadata.name,
          volumeSnapshotRef: { apiVersion: `${SNAPSHOT_GROUP}/v1`, kind: "VolumeSnapshot", name, namespace: ns, uid: vs.metadata.uid },
        },
      },
      { fieldManager: CONTROLLER },
    );
    // The cut is taken now: later writes to the volume are not in the snapshot.
    if (!failure) store.snapshots.set(handle, { ...(store.volumes.get(volume) ?? {}) });
  }
  ctx.writeStatus(VOLUMESNAPSHOTS, vs, { boundVolumeSnapshotContentName: cname, readyToUse: false });
  recordEvent(
    ctx.cluster,
    vs,
    "Normal",
    "CreatingSnapshot",
    `Waiting for a snapshot ${ns}/${name} to be created by the CSI driver.`,
    CONTROLLER,
  );
  ctx.scheduler.schedule(`snapshot|${ns}|${name}`, ctx.cluster.now() + (ctx.opts.snapshotReadyDelayMs ?? 0), () => {
    const cur = ctx.cluster.tryGet(VOLUMESNAPSHOTS, ns, name);
    const content = ctx.cluster.tryGet(VOLUMESNAPSHOTCONTENTS, undefined, cname);
    if (!cur || !content) return;
    const at = ctx.cluster.now();
    if (failure) {
      const error = { message: `Failed to check and update snapshot content: ${failure}`, time: k8sTime(at) };
      ctx.writeStatus(VOLUMESNAPSHOTCONTENTS, content, { readyToUse: false, error });
      ctx.writeStatus(VOLUMESNAPSHOTS, cur, { boundVolumeSnapshotContentName: cname, readyToUse: false, error });
      recordEvent(ctx.cluster, cur, "Warning", "SnapshotFinalizerError", error.message, CONTROLLER);
      return;
    }
    const bytes = parseQuantity(capacity) ?? 0;
    ctx.writeStatus(VOLUMESNAPSHOTCONTENTS, content, {
      creationTime: at * 1_000_000,
      readyToUse: true,
      restoreSize: bytes,
      snapshotHandle: handle,
    });
    ctx.writeStatus(VOLUMESNAPSHOTS, cur, {
      boundVolumeSnapshotContentName: cname,
      creationTime: k8sTime(at),
      readyToUse: true,
      restoreSize: capacity,
    });
    recordEvent(
      ctx.cluster,
      cur,
      "Normal",
      "SnapshotCreated",
      `Snapshot ${ns}/${name} was successfully created by the CSI driver.`,
      CONTROLLER,
    );
    recordEvent(ctx.cluster, cur, "Normal", "SnapshotReady", `Snapshot ${ns}/${name} is ready to use.`, CONTROLLER);
  });
}

/** A VolumeSnapshot was deleted: its content goes too when its deletionPolicy is Delete. */
export function volumeSnapshotDeleted(ctx: ControllerContext, vs: KubeObject): void {
  const ns = vs.metadata.namespace ?? "";
  ctx.scheduler.cancel(`snapshot|${ns}|${vs.metadata.name}`);
  const cname = String(rec(vs.status).boundVolumeSnapshotContentName ?? contentName(vs));
  const content = ctx.cluster.tryGet(VOLUMESNAPSHOTCONTENTS, undefined, cname);
  if (!content || rec(content.spec).deletionPolicy !== "Delete") return;
  ctx.cluster.delete(VOLUMESNAPSHOTCONTENTS, undefined, cname);
  volumeContents(ctx.cluster).snapshots.delete(`snapshot-${vs.metadata.uid}`);
}

/** Claims of `ns` waiting on this snapshot are looked at again. */
export function enqueueClaimsOfSnapshot(ctx: ControllerContext, ns: string, name: string): void {
  for (const pvc of ctx.cluster.store.iterate(resourceKey(PVCS), ns)) {
    const ds = rec(rec(pvc.spec).dataSource);
    if (ds.kind === "VolumeSnapshot" && ds.name === name && rec(pvc.status).phase !== "Bound") {
      ctx.enqueue("PersistentVolumeClaim", ns, pvc.metadata.name);
    }
  }
}

/**
 * The external-provisioner's check before a claim with a snapshot `dataSource` is provisioned: true
 * when it may bind (no snapshot source, or a ready one that fits; the new volume then holds the
 * snapshot's contents); false when it stays Pending (status and a ProvisioningFailed event written).
 */
export function provisionFromDataSource(ctx: ControllerContext, pvc: KubeObject): boolean {
  const spec = rec(pvc.spec);
  const ds = rec(spec.dataSource);
  if (ds.kind !== "VolumeSnapshot" || ds.apiGroup !== SNAPSHOT_GROUP) return true;
  const ns = pvc.metadata.namespace ?? "";
  const name = String(ds.name ?? "");
  const prefix = `failed to provision volume with StorageClass "${String(spec.storageClassName ?? "standard")}": error getting handle for DataSource Type VolumeSnapshot by Name ${name}`;
  const pending = (message: string): false => {
    ctx.writeStatus(PVCS, pvc, { phase: "Pending" });
    recordEvent(ctx.cluster, pvc, "Warning", "ProvisioningFailed", message, PROVISIONER);
    return false;
  };
  const vs = ctx.cluster.tryGet(VOLUMESNAPSHOTS, ns, name);
  if (!vs)
    return pending(`${prefix}: error getting snapshot ${name} from api server: volumesnapshots.${SNAPSHOT_GROUP} "${name}" not found`);
  const status = rec(vs.status);
  const content = ctx.cluster.tryGet(VOLUMESNAPSHOTCONTENTS, undefined, String(status.boundVolumeSnapshotContentName ?? ""));
  const cstatus: Obj = rec(content?.status);
  if (status.readyToUse !== true || cstatus.readyToUse !== true) return pending(`${prefix}: snapshot ${name} is not Ready`);
  const requested = parseQuantity(rec(rec(spec.resources).requests).storage) ?? 0;
  const restoreSize = Number(cstatus.restoreSize ?? 0);
  if (requested < restoreSize) {
    return pending(
      `failed to provision volume with StorageClass "${String(spec.storageClassName ?? "standard")}": requested volume size ${requested} is less than the size ${restoreSize} for the source snapshot ${name}`,
    );
  }
  const store = volumeContents(ctx.cluster);
  const volume = volumeNameOf(pvc);
  if (!store.volumes.has(volume)) store.volumes.set(volume, { ...(store.snapshots.get(String(cstatus.snapshotHandle)) ?? {}) });
  return true;
}

/** A claim was deleted: its dynamically provisioned volume (reclaim policy Delete) and its contents go. */
export function claimDeleted(cluster: Cluster, pvc: KubeObject): void {
  volumeContents(cluster).volumes.delete(String(rec(pvc.spec).volumeName ?? volumeNameOf(pvc)));
}

/**
 * The installed snapshot class every emulated cluster starts with (`csi-snapshots`, the default for
 * the emulator's CSI driver, deletionPolicy Delete), as a cluster with the snapshot CRDs, the
 * snapshot-controller and a CSI driver's class installed has.
 */
export function defaultSnapshotClass(name = "csi-snapshots"): KubeObject {
  return {
    apiVersion: `${SNAPSHOT_GROUP}/v1`,
    kind: "VolumeSnapshotClass",
    metadata: {
      name,
      uid: "",
      resourceVersion: "",
      creationTimestamp: "",
      annotations: { [DEFAULT_CLASS_ANNOTATION]: "true" },
    },
    driver: EMULATOR_CSI_DRIVER,
    deletionPolicy: "Delete",
  };
}

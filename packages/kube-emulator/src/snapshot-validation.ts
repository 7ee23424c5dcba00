/**
 * Validation of the snapshot.storage.k8s.io/v1 kinds, as their CRDs' OpenAPI schemas and CEL rules
 * (external-snapshotter v8) refuse objects, and of a PVC's snapshot `dataSource` (apiserver rules).
 * Called from validation.ts; kept apart so the snapshot model stays in its own files.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import type { StatusCause } from "./errors.js";
import { deepEqual, isRecord, type KubeObject } from "./types.js";

const cause = (reason: string, field: string, message: string): StatusCause => ({ reason, field, message });
const required = (field: string) => cause("FieldValueRequired", field, "Required value");
const invalid = (field: string, message: string) => cause("FieldValueInvalid", field, `Invalid value: "object": ${message}`);

export function validateSnapshotKind(kind: string, obj: KubeObject, old: KubeObject | undefined, out: StatusCause[]): void {
  if (kind === "VolumeSnapshotClass") {
    if (typeof obj.driver !== "string" || !obj.driver) out.push(required("driver"));
    if (obj.deletionPolicy === undefined) out.push(required("deletionPolicy"));
    else if (obj.deletionPolicy !== "Delete" && obj.deletionPolicy !== "Retain") {
      out.push(
        cause(
          "FieldValueNotSupported",
          "deletionPolicy",
          `Unsupported value: ${JSON.stringify(obj.deletionPolicy)}: supported values: "Delete", "Retain"`,
        ),
      );
    }
    return;
  }
  if (!isRecord(obj.spec)) {
    out.push(required("spec"));
    return;
  }
  const spec = obj.spec;
  const oldSpec = old && isRecord(old.spec) ? old.spec : undefined;
  if (kind === "VolumeSnapshot") {
    if (!isRecord(spec.source)) out.push(required("spec.source"));
    else {
      const pvc = spec.source.persistentVolumeClaimName !== undefined;
      const content = spec.source.volumeSnapshotContentName !== undefined;
      if (pvc === content) {
        out.push(invalid("spec.source", "Exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set"));
      }
      if (oldSpec && !deepEqual(oldSpec.source, spec.source)) out.push(invalid("spec.source", "source is immutable"));
    }
    if (spec.volumeSnapshotClassName === "") {
      out.push(
        cause(
          "FieldValueInvalid",
          "spec.volumeSnapshotClassName",
          'Invalid value: "": volumeSnapshotClassName must not be the empty string when set',
        ),
      );
    }
    return;
  }
  if (kind === "VolumeSnapshotContent") {
    for (const f of ["deletionPolicy", "driver", "source", "volumeSnapshotRef"]) if (spec[f] === undefined) out.push(required(`spec.${f}`));
    if (isRecord(spec.source)) {
      const vol = spec.source.volumeHandle !== undefined;
      const snap = spec.source.snapshotHandle !== undefined;
      if (vol === snap) out.push(invalid("spec.source", "exactly one of volumeHandle and snapshotHandle must be set"));
      if (oldSpec && !deepEqual(oldSpec.source, spec.source)) out.push(invalid("spec.source", "source is immutable"));
    }
    if (isRecord(spec.volumeSnapshotRef) && oldSpec && isRecord(oldSpec.volumeSnapshotRef)) {
      const { uid: _u, ...ref } = spec.volumeSnapshotRef;
      const { uid: _o, ...oldRef } = oldSpec.volumeSnapshotRef;
      if (!deepEqual(ref, oldRef))
        out.push(invalid("spec.volumeSnapshotRef", "both spec.volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace must be set"));
    }
  }
}

/** A PVC's `dataSource` (apiserver ValidatePersistentVolumeClaimSpec): a typed reference, named. */
export function validatePvcDataSource(spec: Record<string, unknown>, out: StatusCause[]): void {
  for (const field of ["dataSource", "dataSourceRef"] as const) {
    const ds = spec[field];
    if (ds === undefined || ds === null) continue;
    if (!isRecord(ds)) {
      out.push(cause("FieldValueInvalid", `spec.${field}`, "Invalid value: must be an object"));
      continue;
    }
    if (typeof ds.name !== "string" || !ds.name) out.push(required(`spec.${field}.name`));
    if (typeof ds.kind !== "string" || !ds.kind) out.push(required(`spec.${field}.kind`));
    const group = typeof ds.apiGroup === "string" ? ds.apiGroup : "";
    if (!group && ds.kind !== "PersistentVolumeClaim") {
      out.push(
        cause(
          "FieldValueNotSupported",
          `spec.${field}`,
          `Unsupported value: ${JSON.stringify(ds.kind)}: supported values: "PersistentVolumeClaim"`,
        ),
      );
    }
  }
  if (isRecord(spec.dataSource) && isRecord(spec.dataSourceRef)) {
    const a = spec.dataSource;
    const b = spec.dataSourceRef;
    if (a.apiGroup !== b.apiGroup || a.kind !== b.kind || a.name !== b.name || b.namespace !== undefined) {
      out.push(cause("FieldValueInvalid", "spec.dataSource", "Invalid value: must match dataSourceRef"));
    }
  }
}

/** The apiserver copies `dataSource` into `dataSourceRef` when only the former is set (and back). */
export function defaultPvcDataSource(spec: Record<string, unknown>): void {
  if (isRecord(spec.dataSource) && spec.dataSourceRef === undefined) spec.dataSourceRef = { ...spec.dataSource };
  else if (isRecord(spec.dataSourceRef) && spec.dataSource === undefined && spec.dataSourceRef.namespace === undefined) {
    spec.dataSource = { ...spec.dataSourceRef };
  }
}

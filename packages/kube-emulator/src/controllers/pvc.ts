/**
 * The volume binder: a PersistentVolumeClaim binds to a volume at once and grows to its request
 * (it never shrinks).
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { parseQuantity } from "../quantity.js";
import { PVCS } from "../resources.js";
import { type ControllerContext, rec } from "./shared.js";
import { provisionFromDataSource } from "./volume-snapshot.js";

export function reconcilePvc(ctx: ControllerContext, ns: string, name: string): void {
  const pvc = ctx.cluster.tryGet(PVCS, ns, name);
  if (!pvc) return;
  const spec = rec(pvc.spec);
  const requested = rec(rec(spec.resources).requests).storage;
  const status = rec(pvc.status);
  const current = rec(status.capacity).storage;
  // The volume grows to the request; it never shrinks (validation forbids smaller requests).
  const capacity = current !== undefined && (parseQuantity(current) ?? 0) >= (parseQuantity(requested) ?? 0) ? current : requested;
  let obj = pvc;
  // A claim restored from a snapshot is provisioned only once the snapshot is ready (else it stays Pending).
  if (!spec.volumeName && !provisionFromDataSource(ctx, pvc)) return;
  if (!spec.volumeName) {
    obj = ctx.cluster.put(PVCS, {
      ...pvc,
      metadata: {
        ...pvc.metadata,
        annotations: {
          ...pvc.metadata.annotations,
          "pv.kubernetes.io/bind-completed": "yes",
          "pv.kubernetes.io/bound-by-controller": "yes",
        },
      },
      spec: { ...spec, volumeName: `pvc-${pvc.metadata.uid}` },
    });
  }
  ctx.writeStatus(PVCS, obj, {
    phase: "Bound",
    accessModes: spec.accessModes,
    capacity: { storage: capacity },
  });
}

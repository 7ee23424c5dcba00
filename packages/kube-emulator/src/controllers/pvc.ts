/**
 * The volume binder: a PersistentVolumeClaim binds to a volume at once and grows to its request
 * (it never shrinks); and the pvc-protection controller, which lets a deleted claim go only once no
 * running pod mounts it.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { parseQuantity } from "../quantity.js";
import { PODS, PVCS, resourceKey } from "../resources.js";
import { arr, type ControllerContext, rec } from "./shared.js";
import { provisionFromDataSource } from "./volume-snapshot.js";

export const PVC_PROTECTION = "kubernetes.io/pvc-protection";

/** Whether a pod that has not finished mounts the claim. */
function claimInUse(ctx: ControllerContext, ns: string, claim: string): boolean {
  for (const pod of ctx.cluster.store.iterate(resourceKey(PODS), ns)) {
    const phase = rec(pod.status).phase;
    if (phase === "Succeeded" || phase === "Failed") continue;
    if (arr(rec(pod.spec).volumes).some((v) => rec(v.persistentVolumeClaim).claimName === claim)) return true;
  }
  return false;
}

export function reconcilePvc(ctx: ControllerContext, ns: string, name: string): void {
  const pvc = ctx.cluster.tryGet(PVCS, ns, name);
  if (!pvc) return;
  if (pvc.metadata.deletionTimestamp) {
    // The pvc-protection controller: the claim stays Terminating while a pod uses it.
    const finalizers = pvc.metadata.finalizers ?? [];
    if (!finalizers.includes(PVC_PROTECTION) || claimInUse(ctx, ns, name)) return;
    const rest = finalizers.filter((f) => f !== PVC_PROTECTION);
    if (rest.length === 0) ctx.cluster.remove(PVCS, ns, name);
    else ctx.cluster.put(PVCS, { ...pvc, metadata: { ...pvc.metadata, finalizers: rest } });
    return;
  }
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

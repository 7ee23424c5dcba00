/**
 * The garbage collector: background cascading deletion, dependents of a deleted owner go too
 * (pods gracefully, as the API deletes them).
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { PODS, resourceKey } from "../resources.js";
import { type ControllerContext, deletePodGracefully } from "./shared.js";

/** Background cascading deletion: dependents of a deleted owner go too. */
export function collectGarbage(ctx: ControllerContext, ns: string, ownerUid: string): void {
  for (const res of ctx.cluster.store.resources()) {
    for (const obj of [...ctx.cluster.store.iterate(res, ns)]) {
      if (!obj.metadata.ownerReferences?.some((r) => r.uid === ownerUid)) continue;
      // Pods are deleted as through the API: gracefully.
      if (res === resourceKey(PODS)) deletePodGracefully(ctx, obj);
      else ctx.cluster.store.remove(res, ns, obj.metadata.name);
    }
  }
}

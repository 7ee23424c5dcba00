/**
 * The garbage collector: background cascading deletion, dependents of a deleted owner go too.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import type { ControllerContext } from "./shared.js";

/** Background cascading deletion: dependents of a deleted owner go too. */
export function collectGarbage(ctx: ControllerContext, ns: string, ownerUid: string): void {
  for (const res of ctx.cluster.store.resources()) {
    for (const obj of [...ctx.cluster.store.iterate(res, ns)]) {
      if (obj.metadata.ownerReferences?.some((r) => r.uid === ownerUid)) ctx.cluster.store.remove(res, ns, obj.metadata.name);
    }
  }
}

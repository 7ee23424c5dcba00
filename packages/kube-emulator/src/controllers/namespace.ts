/**
 * The service account controller: every new namespace gets its `default` ServiceAccount.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { randomUUID } from "node:crypto";
import { NAMESPACES, SERVICEACCOUNTS } from "../resources.js";
import { k8sTime } from "../types.js";
import type { ControllerContext } from "./shared.js";

export function reconcileNamespace(ctx: ControllerContext, name: string): void {
  const ns = ctx.cluster.tryGet(NAMESPACES, undefined, name);
  if (!ns || ns.metadata.deletionTimestamp) return;
  if (ctx.cluster.tryGet(SERVICEACCOUNTS, name, "default")) return;
  ctx.cluster.put(SERVICEACCOUNTS, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: "default",
      namespace: name,
      uid: randomUUID(),
      resourceVersion: "",
      creationTimestamp: k8sTime(ctx.cluster.now()),
    },
  });
}

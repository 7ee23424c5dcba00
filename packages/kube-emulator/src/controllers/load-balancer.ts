/**
 * The load balancer / ingress controller: LoadBalancer Services and Ingresses get an address.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import type { ResourceInfo } from "../resources.js";
import { type ControllerContext, INGRESSES, rec } from "./shared.js";

export function reconcileLoadBalancer(ctx: ControllerContext, info: ResourceInfo, ns: string, name: string): void {
  const obj = ctx.cluster.tryGet(info, ns, name);
  if (!obj) return;
  const wantsIp = info === INGRESSES || rec(obj.spec).type === "LoadBalancer";
  ctx.writeStatus(info, obj, {
    loadBalancer: wantsIp ? { ingress: [{ ip: "127.0.0.1" }] } : {},
  });
}

/**
 * cert-manager: a Certificate becomes Ready at once, valid for 90 days, renewed after 60.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { CERTIFICATES } from "./shared.js";
import { k8sTime } from "../types.js";
import { arr, type ControllerContext, rec } from "./shared.js";

export function reconcileCertificate(ctx: ControllerContext, ns: string, name: string): void {
  const cert = ctx.cluster.tryGet(CERTIFICATES, ns, name);
  if (!cert) return;
  const prev = arr(rec(cert.status).conditions).find((c) => c.type === "Ready");
  const now = ctx.cluster.now();
  const notBefore = prev ? rec(cert.status).notBefore : k8sTime(now);
  const nb = Date.parse(String(notBefore));
  ctx.writeStatus(CERTIFICATES, cert, {
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Ready",
        message: "Certificate is up to date and has not expired",
        lastTransitionTime: prev?.lastTransitionTime ?? k8sTime(now),
        observedGeneration: cert.metadata.generation,
      },
    ],
    notBefore,
    notAfter: k8sTime(nb + 90 * 86_400_000),
    renewalTime: k8sTime(nb + 60 * 86_400_000),
    revision: 1,
  });
}

/**
 * The StatefulSet controller: Pods `<name>-<ordinal>` (OrderedReady unless Parallel; a template
 * change replaces a pod under the same name) and PVCs from volumeClaimTemplates.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { randomUUID } from "node:crypto";
import { PODS, PVCS, STATEFULSETS } from "../resources.js";
import { type KubeObject, k8sTime, safeHash, stableStringify } from "../types.js";
import { newPod, podsOwnedBy } from "./pods.js";
import { arr, type ControllerContext, isPodReady, type Obj, omitZero, rec } from "./shared.js";

export function reconcileStatefulSet(ctx: ControllerContext, ns: string, name: string): void {
  const sts = ctx.cluster.tryGet(STATEFULSETS, ns, name);
  if (!sts || sts.metadata.deletionTimestamp) return;
  const spec = rec(sts.spec);
  const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
  const template = rec(spec.template);
  const revision = `${name}-${safeHash(stableStringify(template), 10)}`;
  const ordered = spec.podManagementPolicy !== "Parallel";
  const selectorLabels = rec(rec(spec.selector).matchLabels) as Record<string, string>;

  for (const pvcTemplate of arr(spec.volumeClaimTemplates)) {
    for (let i = 0; i < replicas; i++) {
      const pvcName = `${String(rec(pvcTemplate.metadata).name)}-${name}-${i}`;
      if (ctx.cluster.tryGet(PVCS, ns, pvcName)) continue;
      const tmeta = rec(pvcTemplate.metadata);
      ctx.cluster.put(PVCS, {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: {
          name: pvcName,
          namespace: ns,
          uid: randomUUID(),
          resourceVersion: "",
          creationTimestamp: k8sTime(ctx.cluster.now()),
          labels: {
            ...(rec(tmeta.labels) as Record<string, string>),
            ...selectorLabels,
          },
        },
        spec: {
          volumeMode: "Filesystem",
          storageClassName: "standard",
          ...rec(pvcTemplate.spec),
        },
        status: { phase: "Pending" },
      });
    }
  }

  const pods = podsOwnedBy(ctx, ns, new Set([sts.metadata.uid]));
  const byOrdinal = new Map<number, KubeObject>();
  for (const p of pods) {
    const ord = Number(p.metadata.name.slice(name.length + 1));
    if (ord >= replicas) ctx.cluster.remove(PODS, ns, p.metadata.name);
    else byOrdinal.set(ord, p);
  }
  for (let i = 0; i < replicas; i++) {
    const existing = byOrdinal.get(i);
    if (existing && existing.metadata.labels?.["controller-revision-hash"] !== revision) {
      // A template change replaces the pod under the same name (new uid), as the real controller does.
      ctx.cluster.remove(PODS, ns, existing.metadata.name);
      byOrdinal.delete(i);
    }
    if (!byOrdinal.has(i)) {
      const earlierReady = [...Array(i).keys()].every((j) => {
        const p = byOrdinal.get(j);
        return p !== undefined && isPodReady(p);
      });
      if (ordered && !earlierReady) break;
      const podName = `${name}-${i}`;
      const pod = newPod(
        ctx,
        sts,
        podName,
        template,
        {
          "controller-revision-hash": revision,
          "statefulset.kubernetes.io/pod-name": podName,
          "apps.kubernetes.io/pod-index": String(i),
        },
        sts,
      );
      pod.spec = {
        ...rec(pod.spec),
        hostname: podName,
        ...(spec.serviceName ? { subdomain: spec.serviceName } : {}),
      };
      const volumes = arr(rec(pod.spec).volumes);
      for (const t of arr(spec.volumeClaimTemplates)) {
        const vname = String(rec(t.metadata).name);
        if (!volumes.some((v) => v.name === vname))
          volumes.push({
            name: vname,
            persistentVolumeClaim: { claimName: `${vname}-${name}-${i}` },
          });
      }
      if (volumes.length) (pod.spec as Obj).volumes = volumes;
      byOrdinal.set(i, ctx.cluster.put(PODS, pod));
    }
  }
  const live = [...byOrdinal.values()];
  const ready = live.filter(isPodReady).length;
  const updated = live.filter((p) => p.metadata.labels?.["controller-revision-hash"] === revision).length;
  const status: Obj = {
    observedGeneration: sts.metadata.generation,
    replicas: live.length,
    ...omitZero({
      readyReplicas: ready,
      currentReplicas: updated,
      updatedReplicas: updated,
      availableReplicas: ready,
    }),
    currentRevision: revision,
    updateRevision: revision,
    collisionCount: 0,
  };
  ctx.writeStatus(STATEFULSETS, sts, status);
}

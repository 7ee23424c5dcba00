/**
 * The StatefulSet controller: Pods `<name>-<ordinal>` (OrderedReady unless Parallel; a template
 * change replaces pods under the same name, highest ordinal first, one Ready pod at a time) and
 * PVCs from volumeClaimTemplates, all created through the API so admission applies.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { PODS, PVCS, STATEFULSETS } from "../resources.js";
import { type KubeObject, safeHash, stableStringify } from "../types.js";
import { recordEvent } from "./events.js";
import { newPod, podsOwnedBy } from "./pods.js";
import { arr, type ControllerContext, createThroughApi, deletePodGracefully, isPodReady, type Obj, omitZero, rec } from "./shared.js";

export function reconcileStatefulSet(ctx: ControllerContext, ns: string, name: string): void {
  const sts = ctx.cluster.tryGet(STATEFULSETS, ns, name);
  if (!sts || sts.metadata.deletionTimestamp) return;
  const spec = rec(sts.spec);
  const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
  const template = rec(spec.template);
  const revision = `${name}-${safeHash(stableStringify(template), 10)}`;
  const monotonic = spec.podManagementPolicy !== "Parallel";
  const selectorLabels = rec(rec(spec.selector).matchLabels) as Record<string, string>;
  const event = (type: "Normal" | "Warning", reason: string, message: string) =>
    recordEvent(ctx.cluster, sts, type, reason, message, "statefulset-controller");

  /** The claims of ordinal i, created through the API (quota and LimitRange apply) before its pod. */
  const createClaims = (i: number, podName: string): boolean => {
    for (const pvcTemplate of arr(spec.volumeClaimTemplates)) {
      const tmeta = rec(pvcTemplate.metadata);
      const pvcName = `${String(tmeta.name)}-${name}-${i}`;
      if (ctx.cluster.tryGet(PVCS, ns, pvcName)) continue;
      const created = createThroughApi(ctx, PVCS, {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: {
          name: pvcName,
          namespace: ns,
          uid: "",
          resourceVersion: "",
          creationTimestamp: "",
          labels: { ...(rec(tmeta.labels) as Record<string, string>), ...selectorLabels },
        },
        spec: { volumeMode: "Filesystem", storageClassName: "standard", ...rec(pvcTemplate.spec) },
      });
      if (created.error) {
        event(
          "Warning",
          "FailedCreate",
          `create Claim ${pvcName} for Pod ${podName} in StatefulSet ${name} failed error: ${created.error.message}`,
        );
        ctx.noteFailedCreate("StatefulSet", ns, name);
        return false;
      }
      event("Normal", "SuccessfulCreate", `create Claim ${pvcName} Pod ${podName} in StatefulSet ${name} success`);
    }
    return true;
  };

  const createPod = (i: number): KubeObject | undefined => {
    const podName = `${name}-${i}`;
    if (!createClaims(i, podName)) return undefined;
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
    pod.spec = { ...rec(pod.spec), hostname: podName, ...(spec.serviceName ? { subdomain: spec.serviceName } : {}) };
    const volumes = arr(rec(pod.spec).volumes);
    for (const t of arr(spec.volumeClaimTemplates)) {
      const vname = String(rec(t.metadata).name);
      if (!volumes.some((v) => v.name === vname))
        volumes.push({ name: vname, persistentVolumeClaim: { claimName: `${vname}-${name}-${i}` } });
    }
    if (volumes.length) (pod.spec as Obj).volumes = volumes;
    const created = createThroughApi(ctx, PODS, pod);
    if (created.error) {
      event("Warning", "FailedCreate", `create Pod ${podName} in StatefulSet ${name} failed error: ${created.error.message}`);
      ctx.noteFailedCreate("StatefulSet", ns, name);
      return undefined;
    }
    event("Normal", "SuccessfulCreate", `create Pod ${podName} in StatefulSet ${name} successful`);
    return created.object;
  };
  const deletePod = (pod: KubeObject) => {
    deletePodGracefully(ctx, pod);
    event("Normal", "SuccessfulDelete", `delete Pod ${pod.metadata.name} in StatefulSet ${name} successful`);
  };

  const byOrdinal = new Map<number, KubeObject>();
  const condemned: KubeObject[] = [];
  for (const p of podsOwnedBy(ctx, ns, new Set([sts.metadata.uid]))) {
    const ord = Number(p.metadata.name.slice(name.length + 1));
    if (ord >= replicas) condemned.push(p);
    else byOrdinal.set(ord, p);
  }

  // The real controller's order (stateful_set_control.go): first make every ordinal exist and be
  // Running and Ready — with OrderedReady it creates one pod at a time and stops at the first pod
  // that is not Ready — then remove condemned pods, then roll pods to the update revision from the
  // highest ordinal down. A pod broken by a bad template therefore blocks everything, including
  // the rolling update that would replace it after the template is reverted (kubernetes#67250):
  // someone has to delete the broken pod.
  let blocked = false;
  for (let i = 0; i < replicas && !blocked; i++) {
    const existing = byOrdinal.get(i);
    if (!existing && ctx.cluster.tryGet(PODS, ns, `${name}-${i}`)?.metadata.deletionTimestamp) {
      // The previous pod of this ordinal is still terminating: wait for it to go.
      if (monotonic) blocked = true;
      continue;
    }
    if (!existing) {
      const pod = createPod(i);
      if (pod) byOrdinal.set(i, pod);
      if (monotonic || !pod) blocked = true;
      continue;
    }
    if (monotonic && !isPodReady(existing)) blocked = true;
  }
  if (!blocked) {
    condemned.sort((a, b) => b.metadata.name.localeCompare(a.metadata.name, undefined, { numeric: true }));
    for (const p of condemned) {
      deletePod(p);
      if (monotonic) {
        blocked = true;
        break;
      }
    }
  }
  const updateStrategy = rec(spec.updateStrategy);
  if (!blocked && updateStrategy.type !== "OnDelete") {
    const partition = Number(rec(updateStrategy.rollingUpdate).partition ?? 0);
    for (let i = replicas - 1; i >= partition; i--) {
      const pod = byOrdinal.get(i);
      if (!pod) break;
      if (pod.metadata.labels?.["controller-revision-hash"] !== revision) {
        // Replaced under the same name (new uid) on the next pass, as the real controller does.
        deletePod(pod);
        byOrdinal.delete(i);
        ctx.enqueue("StatefulSet", ns, name);
        break;
      }
      if (!isPodReady(pod)) break;
    }
  }

  const live = [...byOrdinal.values()];
  const ready = live.filter(isPodReady).length;
  const updated = live.filter((p) => p.metadata.labels?.["controller-revision-hash"] === revision).length;
  const prevStatus = rec(sts.status);
  const currentRevision = updated === replicas && live.length === replicas ? revision : String(prevStatus.currentRevision ?? revision);
  const current = live.filter((p) => p.metadata.labels?.["controller-revision-hash"] === currentRevision).length;
  const status: Obj = {
    observedGeneration: sts.metadata.generation,
    replicas: live.length,
    ...omitZero({
      readyReplicas: ready,
      currentReplicas: current,
      updatedReplicas: updated,
      availableReplicas: ready,
    }),
    currentRevision,
    updateRevision: revision,
    collisionCount: 0,
  };
  ctx.writeStatus(STATEFULSETS, sts, status);
}

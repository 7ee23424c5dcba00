/**
 * Deployment revisions, as the deployment controller keeps them (what `kubectl rollout history`
 * and `rollout undo` read): every ReplicaSet carries `deployment.kubernetes.io/revision`; the one
 * that becomes current again (a rollback: kubectl patches the template back from an old
 * ReplicaSet) gets the next revision and lists its earlier ones in
 * `deployment.kubernetes.io/revision-history`; the Deployment carries its current revision;
 * the current ReplicaSet carries the Deployment's annotations (so `kubernetes.io/change-cause`
 * shows as CHANGE-CAUSE); old ReplicaSets scaled to zero beyond `revisionHistoryLimit` (default 10)
 * are deleted, oldest revision first. TEST/DEMO FIXTURE — see ../index.ts.
 */
import { DEPLOYMENTS, REPLICASETS } from "../resources.js";
import type { KubeObject } from "../types.js";
import type { ControllerContext } from "./shared.js";
import { rec } from "./shared.js";

export const REVISION = "deployment.kubernetes.io/revision";
const REVISION_HISTORY = "deployment.kubernetes.io/revision-history";
/** Deployment annotations the controller does not copy to its ReplicaSets. */
const NOT_COPIED = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION,
  REVISION_HISTORY,
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
]);

export function revisionOf(rs: KubeObject): number {
  const n = Number(rs.metadata.annotations?.[REVISION] ?? 0);
  return Number.isFinite(n) ? n : 0;
}

/** The annotations a new or re-activated ReplicaSet takes from its Deployment. */
export function copiedAnnotations(d: KubeObject): Record<string, string> {
  return Object.fromEntries(Object.entries(d.metadata.annotations ?? {}).filter(([k]) => !NOT_COPIED.has(k)));
}

/**
 * Makes `current` the newest revision (bumping it when an older ReplicaSet becomes current again)
 * and writes the revision onto the Deployment. Returns both as now stored.
 */
export function syncRevision(
  ctx: ControllerContext,
  d: KubeObject,
  rsets: KubeObject[],
  current: KubeObject,
): { rs: KubeObject; deployment: KubeObject } {
  const others = rsets.filter((rs) => rs.metadata.uid !== current.metadata.uid);
  const max = Math.max(0, ...others.map(revisionOf));
  let rs = current;
  const own = revisionOf(current);
  const copied = copiedAnnotations(d);
  if (own > max && Object.entries(copied).some(([k, v]) => current.metadata.annotations?.[k] !== v)) {
    // The new ReplicaSet follows the Deployment's annotations (e.g. a later change-cause).
    rs = ctx.cluster.put(REPLICASETS, {
      ...current,
      metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, ...copied } },
    });
  } else if (own <= max) {
    const history = [...(current.metadata.annotations?.[REVISION_HISTORY]?.split(",") ?? []), String(own)].filter((r) => r && r !== "0");
    rs = ctx.cluster.put(REPLICASETS, {
      ...current,
      metadata: {
        ...current.metadata,
        annotations: {
          ...current.metadata.annotations,
          ...copied,
          [REVISION]: String(max + 1),
          ...(history.length ? { [REVISION_HISTORY]: history.join(",") } : {}),
        },
      },
    });
  }
  const revision = String(revisionOf(rs));
  let deployment = d;
  if (d.metadata.annotations?.[REVISION] !== revision) {
    const annotations = { ...d.metadata.annotations, [REVISION]: revision };
    deployment = ctx.cluster.put(DEPLOYMENTS, { ...d, metadata: { ...d.metadata, annotations } });
  }
  return { rs, deployment };
}

/** Deletes old, empty ReplicaSets beyond the Deployment's revisionHistoryLimit. */
export function cleanupOldReplicaSets(ctx: ControllerContext, d: KubeObject, rsets: KubeObject[], currentUid: string): void {
  const limit = typeof rec(d.spec).revisionHistoryLimit === "number" ? (rec(d.spec).revisionHistoryLimit as number) : 10;
  const old = rsets
    .filter((rs) => rs.metadata.uid !== currentUid)
    .map((rs) => ctx.cluster.tryGet(REPLICASETS, rs.metadata.namespace, rs.metadata.name))
    .filter((rs): rs is KubeObject => !!rs && rec(rs.spec).replicas === 0 && !rec(rs.status).replicas)
    .sort((a, b) => revisionOf(a) - revisionOf(b));
  for (const rs of old.slice(0, Math.max(0, old.length - limit))) ctx.cluster.remove(REPLICASETS, rs.metadata.namespace, rs.metadata.name);
}

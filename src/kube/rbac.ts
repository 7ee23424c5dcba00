/**
 * The Kubernetes permissions the control plane needs: exactly the API calls `KubeClient` makes for
 * provisioning (reconciler), instance actions (logs, credentials, restart) and the health sweep.
 * `k8s/rbac.yaml`'s ClusterRole grants this table and nothing more (test/deploy/rbac.test.ts checks
 * the manifest against it, and checks it against the calls the code really makes on the emulator).
 *
 * How client methods map to RBAC verbs:
 *  - `apply` (server-side apply = PATCH that creates a missing object): `patch` and `create`;
 *  - `get`/`find`: `get` (the product always names the container for `logs`, so
 *    the pod itself is never read: `pods` needs only `list`);
 *  - `listAll`/`listMetadata`/`podMetrics`: `list` (cluster-wide for the health sweep; a
 *    metadata-only list of Secrets is still `list` on secrets, but never carries their data);
 *  - `watch` (the health sweep's informers, HEALTH_CACHE): `watch` on each kind they keep — RBAC
 *    cannot tell a metadata-only watch from a full one, so `watch` on secrets grants what `list`
 *    on secrets already does; the product only ever asks for metadata;
 *  - `delete`/`deleteNamespace`: `delete`;
 *  - `logs`: `get` on `pods/log`; `ping` (GET /version) and API discovery are non-resource URLs every
 *    authenticated client may read (the built-in `system:discovery` role).
 * Update this table together with the client (and k8s/rbac.yaml) when the code needs a new call.
 */

export type RbacVerb = "get" | "list" | "watch" | "create" | "patch" | "update" | "delete";

export interface RbacRule {
  /** "" is the core group. */
  apiGroup: string;
  /** Plural resource, or `resource/subresource`. */
  resource: string;
  verbs: RbacVerb[];
  /** What needs it. */
  why: string;
}

export const REQUIRED_RBAC: readonly RbacRule[] = [
  {
    apiGroup: "",
    resource: "namespaces",
    verbs: ["get", "create", "patch", "delete"],
    why: "tenant namespace per user (apply; a GET confirms it is still there before an unchanged baseline is skipped), removed with the user's last instance",
  },
  {
    apiGroup: "",
    resource: "serviceaccounts",
    verbs: ["list", "watch", "create", "patch"],
    why: "tenant baseline: default service account without token automount; drift check (metadata-only list); informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "resourcequotas",
    verbs: ["list", "watch", "create", "patch"],
    why: "tenant baseline: the user's quota; drift check (metadata-only list); informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "limitranges",
    verbs: ["list", "watch", "create", "patch"],
    why: "tenant baseline: container defaults; drift check (metadata-only list); informer of the health sweep (watch)",
  },
  {
    apiGroup: "networking.k8s.io",
    resource: "networkpolicies",
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "tenant default-deny; per-instance policy of exposed PostgreSQL (NodePort/LoadBalancer); drift check; informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "configmaps",
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "instance configuration; drift check (metadata-only list); informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "secrets",
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "instance credentials, rendered from the database (`get`: read once to adopt those of instances provisioned before they were stored); TLS secret removed on delete; drift check lists metadata only (never data); informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "persistentvolumeclaims",
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "instance data volume (expanded on plan upgrades); drift and data-loss check (metadata-only list); informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "services",
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "instance Service; listed by the health sweep; informer of the health sweep (watch)",
  },
  {
    apiGroup: "apps",
    resource: "deployments",
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "n8n/Ghost workloads: rollout status, restart/scale patches, health sweep; informer of the health sweep (watch)",
  },
  {
    apiGroup: "apps",
    resource: "statefulsets",
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "PostgreSQL workloads: rollout status, restart/scale patches, health sweep; informer of the health sweep (watch)",
  },
  {
    apiGroup: "networking.k8s.io",
    resource: "ingresses",
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "HTTPS front door of n8n/Ghost (cert-manager annotation); drift check (metadata-only list); informer of the health sweep (watch)",
  },
  {
    apiGroup: "",
    resource: "pods",
    verbs: ["list", "watch", "delete"],
    why: "rollout problems, the running pod for logs, health sweep; delete: a StatefulSet pod stuck at an old revision (tenant namespaces only: k8s/admission-policy.yaml); informer of the health sweep (watch)",
  },
  { apiGroup: "", resource: "pods/log", verbs: ["get"], why: "GET /api/instances/:id/logs" },
  { apiGroup: "metrics.k8s.io", resource: "pods", verbs: ["list"], why: "health sweep CPU/memory usage (metrics-server)" },
  {
    apiGroup: "snapshot.storage.k8s.io",
    resource: "volumesnapshots",
    verbs: ["get", "create", "patch", "delete"],
    why: "instance backups: the snapshot of the PVC (apply), its readiness (get), DELETE /backups/:id",
  },
];

/** `group/resource:verb` keys of the table, e.g. `apps/deployments:patch`, `/pods/log:get`. */
export function rbacKeys(rules: readonly Pick<RbacRule, "apiGroup" | "resource" | "verbs">[]): string[] {
  return [...new Set(rules.flatMap((r) => r.verbs.map((v) => `${r.apiGroup}/${r.resource}:${v}`)))].sort();
}

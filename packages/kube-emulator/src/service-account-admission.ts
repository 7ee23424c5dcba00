/**
 * The ServiceAccount admission plugin, on pod creation: the pod runs as `default` unless it names
 * a service account; the account must exist (403 `error looking up service account <ns>/<sa>:
 * serviceaccount "<sa>" not found`, as before the token controller has created it); and unless the
 * pod or the account sets `automountServiceAccountToken: false`, a projected token volume
 * `kube-api-access-<5>` is added and mounted read-only into every container at
 * /var/run/secrets/kubernetes.io/serviceaccount. TEST/DEMO FIXTURE — see index.ts.
 */
import { forbidden } from "./admission.js";
import { PODS, resourceKey, SERVICEACCOUNTS } from "./resources.js";
import type { Store } from "./store.js";
import { isRecord, type KubeObject, Rng } from "./types.js";

const MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
const rng = new Rng(Date.now() % 2 ** 31);

type Obj = Record<string, unknown>;
const containersOf = (spec: Obj): Obj[] =>
  [spec.initContainers, spec.containers].flatMap((l) => (Array.isArray(l) ? l.filter(isRecord) : []));

/** Mutates `pod.spec` by replacing it (never the objects it shares with a workload's template). */
export function admitServiceAccount(store: Store, pod: KubeObject): void {
  const spec: Obj = { ...(isRecord(pod.spec) ? pod.spec : {}) };
  const ns = pod.metadata.namespace ?? "default";
  const saName = typeof spec.serviceAccountName === "string" && spec.serviceAccountName ? spec.serviceAccountName : "default";
  spec.serviceAccountName = saName;
  spec.serviceAccount = saName;
  pod.spec = spec;
  const sa = store.get(resourceKey(SERVICEACCOUNTS), ns, saName);
  if (!sa) {
    throw forbidden(PODS, pod.metadata.name, `error looking up service account ${ns}/${saName}: serviceaccount "${saName}" not found`);
  }
  const automount =
    typeof spec.automountServiceAccountToken === "boolean" ? spec.automountServiceAccountToken : sa.automountServiceAccountToken !== false;
  if (!automount) return;
  const mounted = containersOf(spec).some(
    (c) => Array.isArray(c.volumeMounts) && c.volumeMounts.some((m) => isRecord(m) && m.mountPath === MOUNT_PATH),
  );
  if (mounted) return;
  const name = `kube-api-access-${rng.suffix(5)}`;
  spec.volumes = [
    ...(Array.isArray(spec.volumes) ? spec.volumes : []),
    {
      name,
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
        ],
      },
    },
  ];
  const mount = { name, readOnly: true, mountPath: MOUNT_PATH };
  for (const list of ["initContainers", "containers"]) {
    if (!Array.isArray(spec[list])) continue;
    spec[list] = (spec[list] as unknown[]).map((c) =>
      isRecord(c) ? { ...c, volumeMounts: [...(Array.isArray(c.volumeMounts) ? c.volumeMounts : []), mount] } : c,
    );
  }
}

import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type { ILimitRange, INamespace, IResourceQuota, IServiceAccount } from "kubernetes-models/v1";
import { InvalidNameError } from "../kube-errors.js";
import type { Manifest } from "../objects.js";
import { LABELS, tenantLabels } from "./labels.js";
import { isDns1123Label } from "./names.js";
import type { TenantSpec } from "./template-spec.js";

export const TENANT_OBJECT_NAMES = {
  quota: "tenant-quota",
  limits: "tenant-limits",
  defaultDeny: "default-deny",
  allowSameNamespace: "allow-same-namespace",
  allowIngressController: "allow-ingress-controller",
  allowDns: "allow-dns",
  allowInternetEgress: "allow-internet-egress",
  allowAcmeSolver: "allow-acme-http01-solver",
} as const;

/**
 * cert-manager's HTTP-01 solver: while a certificate is issued it runs a pod (this label, port 8089)
 * with a Service and an Ingress in the tenant namespace, and the ACME server reaches it through the
 * ingress controller. The tenant's policies and quota must leave room for it, or issuance stalls.
 */
export const ACME_HTTP01_SOLVER = {
  labelKey: "acme.cert-manager.io/http01-solver",
  port: 8089,
  /** cert-manager's default solver pod resources (limits; requests are lower). */
  cpuMilli: 100,
  memoryMb: 64,
} as const;

/**
 * Pod Security level enforced on tenant namespaces. Every pod the templates render meets
 * `restricted` (non-root numeric ids, no privilege escalation, drop ALL, RuntimeDefault seccomp,
 * only configMap/secret/emptyDir/PVC volumes), so we enforce the strictest level rather than
 * `baseline`: a template regression is then refused by the API server, not silently deployed.
 */
export const POD_SECURITY_LEVEL = "restricted";

/** Container defaults for pods that omit resources (ours never do; this backs up the quota). */
const DEFAULT_REQUEST = { cpu: "50m", memory: "64Mi" };
const DEFAULT_LIMIT = { cpu: "500m", memory: "512Mi" };

/** Private, link-local and metadata ranges: "internet egress" must not reach the cluster or cloud APIs. */
const PRIVATE_V4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"];
const PRIVATE_V6 = ["fc00::/7", "fe80::/10"];

function assertTenant(spec: TenantSpec): void {
  for (const ns of [spec.namespace, spec.ingressControllerNamespace, spec.dnsNamespace ?? "kube-system"]) {
    if (!isDns1123Label(ns)) throw new InvalidNameError(ns, "namespace must be a DNS-1123 label");
  }
  for (const [field, value] of Object.entries(spec.quota)) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`quota.${field} must be a non-negative integer, got ${value}`);
  }
}

/**
 * The baseline of one user's namespace, in apply order (the Namespace first). Everything is
 * denied by default; the allows admit the ingress controller to HTTP pods, traffic inside the
 * namespace, DNS, and internet egress for pods labelled for it (n8n, Ghost — not PostgreSQL).
 */
export function renderTenant(spec: TenantSpec): Manifest[] {
  assertTenant(spec);
  const labels = tenantLabels(spec.userId);
  const namespace = spec.namespace;
  const meta = (name: string) => ({ name, namespace, labels: { ...labels } });
  const { quota } = spec;
  // No instances, no certificates: a tenant whose limit is 0 gets no solver headroom either.
  const solverCpu = quota.maxInstances > 0 ? ACME_HTTP01_SOLVER.cpuMilli : 0;
  const solverMemory = quota.maxInstances > 0 ? ACME_HTTP01_SOLVER.memoryMb : 0;

  const ns: INamespace = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: {
        ...labels,
        "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
      },
    },
  };

  // The namespace controller creates "default" itself; applying it only takes ownership of the
  // automount field, so no pod in the tenant gets an API token by accident.
  const serviceAccount: IServiceAccount = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: meta("default"),
    automountServiceAccountToken: false,
  };

  const resourceQuota: IResourceQuota = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: meta(TENANT_OBJECT_NAMES.quota),
    spec: {
      // The user's own limits are enforced by the API (422 QUOTA_EXCEEDED) before anything is
      // created; this quota backs them up in the cluster and leaves room for what the cluster runs
      // on an instance's behalf: one ACME solver pod at a time (so a user at their CPU and memory
      // limit still gets certificates), a second pod during a rolling update, and per instance a
      // second Service (the solver's for HTTP services, the headless one for PostgreSQL).
      hard: {
        "requests.cpu": `${quota.cpuMilli + solverCpu}m`,
        "limits.cpu": `${quota.cpuMilli + solverCpu}m`,
        "requests.memory": `${quota.memoryMb + solverMemory}Mi`,
        "limits.memory": `${quota.memoryMb + solverMemory}Mi`,
        "requests.storage": `${quota.storageGb}Gi`,
        persistentvolumeclaims: String(quota.maxInstances),
        // Per instance: its pod, a surge pod during a rolling update, its certificate's solver pod.
        pods: String(quota.maxInstances * 3),
        services: String(quota.maxInstances * 2),
      },
    },
  };

  const max: Record<string, string> = {};
  if (quota.cpuMilli > 0) max.cpu = `${quota.cpuMilli}m`;
  if (quota.memoryMb > 0) max.memory = `${quota.memoryMb}Mi`;
  const limitRange: ILimitRange = {
    apiVersion: "v1",
    kind: "LimitRange",
    metadata: meta(TENANT_OBJECT_NAMES.limits),
    spec: {
      limits: [
        { type: "Container", defaultRequest: DEFAULT_REQUEST, default: DEFAULT_LIMIT, ...(Object.keys(max).length ? { max } : {}) },
        ...(quota.storageGb > 0 ? [{ type: "PersistentVolumeClaim", max: { storage: `${quota.storageGb}Gi` } }] : []),
      ],
    },
  };

  const nsSelector = (name: string) => ({ matchLabels: { "kubernetes.io/metadata.name": name } });
  const policy = (name: string, spec: INetworkPolicy["spec"]): INetworkPolicy => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(name),
    spec,
  });

  const policies: INetworkPolicy[] = [
    policy(TENANT_OBJECT_NAMES.defaultDeny, { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    policy(TENANT_OBJECT_NAMES.allowSameNamespace, {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
    policy(TENANT_OBJECT_NAMES.allowIngressController, {
      podSelector: { matchLabels: { [LABELS.exposeHttp]: "true" } },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: nsSelector(spec.ingressControllerNamespace) }] }],
    }),
    // The ACME server reaches the solver through the ingress controller, like any HTTP traffic.
    policy(TENANT_OBJECT_NAMES.allowAcmeSolver, {
      podSelector: { matchLabels: { [ACME_HTTP01_SOLVER.labelKey]: "true" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ namespaceSelector: nsSelector(spec.ingressControllerNamespace) }],
          ports: [{ protocol: "TCP", port: ACME_HTTP01_SOLVER.port }],
        },
      ],
    }),
    policy(TENANT_OBJECT_NAMES.allowDns, {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            {
              namespaceSelector: nsSelector(spec.dnsNamespace ?? "kube-system"),
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
            },
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    }),
    policy(TENANT_OBJECT_NAMES.allowInternetEgress, {
      podSelector: { matchLabels: { [LABELS.egressInternet]: "true" } },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_V4 } }, { ipBlock: { cidr: "::/0", except: PRIVATE_V6 } }],
        },
      ],
    }),
  ];

  return [ns, serviceAccount, resourceQuota, limitRange, ...policies];
}

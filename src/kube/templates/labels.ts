import type { ServiceTemplate } from "./template-spec.js";

/** Label keys shared by every object the platform creates. */
export const LABELS = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  instanceId: "minispod.io/instance-id",
  userId: "minispod.io/user-id",
  /** Pods that the ingress controller may reach (NetworkPolicy selector). */
  exposeHttp: "minispod.io/expose-http",
  /** Pods allowed to open connections to the internet (NetworkPolicy selector). */
  egressInternet: "minispod.io/egress-internet",
} as const;

export const MANAGED_BY = "minispod";

export const ANNOTATIONS = {
  /** What `kubectl rollout restart` sets; changing it rolls the pods. */
  restartedAt: "kubectl.kubernetes.io/restartedAt",
  /** Hash of the ConfigMap data, so a settings change rolls the pods (envFrom is read only at start). */
  configHash: "minispod.io/config-hash",
  clusterIssuer: "cert-manager.io/cluster-issuer",
} as const;

/** The role of a service's workload, used as `app.kubernetes.io/component`. */
const COMPONENT: Record<ServiceTemplate, string> = {
  n8n: "workflow-engine",
  ghost: "web",
  postgresql: "database",
};

export interface InstanceLabelInput {
  instanceId: string;
  userId: string;
  name: string;
  service: { template: ServiceTemplate };
}

/** Labels carried by every object of one instance (and by its pods). */
export function instanceLabels(spec: InstanceLabelInput): Record<string, string> {
  return {
    [LABELS.name]: spec.service.template,
    [LABELS.instance]: spec.name,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.component]: COMPONENT[spec.service.template],
    [LABELS.instanceId]: spec.instanceId,
    [LABELS.userId]: spec.userId,
  };
}

/**
 * The workload's pod selector. It is immutable on Deployments and StatefulSets, so it holds only
 * labels that never change for an instance.
 */
export function selectorLabels(spec: InstanceLabelInput): Record<string, string> {
  return { [LABELS.instanceId]: spec.instanceId, [LABELS.instance]: spec.name };
}

/** Labels carried by the tenant baseline objects of one user. */
export function tenantLabels(userId: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.userId]: userId, [LABELS.component]: "tenant" };
}

/** Label selector for every object (and pod) of one instance. */
export function instanceSelector(instanceId: string): string {
  return `${LABELS.instanceId}=${instanceId}`;
}

/** Label selector for every object of one user. */
export function userSelector(userId: string): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.userId}=${userId}`;
}

/** Label selector for every object the platform manages: one LIST per kind covers the fleet. */
export const FLEET_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

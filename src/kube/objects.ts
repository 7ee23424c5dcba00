import type { ILimitRange, INamespace, IResourceQuota, IServiceAccount } from "kubernetes-models/v1";
import type { IConfigMap, IPersistentVolumeClaim, ISecret, IService } from "kubernetes-models/v1";
import type { IDeployment, IStatefulSet } from "kubernetes-models/apps/v1";
import type { IIngress, INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import type { IPod } from "kubernetes-models/v1/Pod";

/**
 * Manifests are plain Kubernetes JSON in wire format (`from`, `default`, quantities as strings),
 * typed by the upstream `kubernetes-models` interfaces — exactly what `kubectl apply` would send.
 */
export type Manifest =
  | INamespace
  | IServiceAccount
  | IResourceQuota
  | ILimitRange
  | INetworkPolicy
  | IConfigMap
  | ISecret
  | IPersistentVolumeClaim
  | IService
  | IDeployment
  | IStatefulSet
  | IIngress;

/** The minimum any object needs to be addressed: what `get`/`delete` take. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  /** Omitted for cluster-scoped kinds (Namespace). */
  namespace?: string;
}

/** Any Kubernetes object in wire format, as far as the client needs to know. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
  };
}

export type WorkloadKind = "Deployment" | "StatefulSet";

export function refOf(obj: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata?.name ?? "",
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
  };
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.apiVersion} ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/**
 * An object as the API server answers it: plain JSON, timestamps as RFC 3339 strings. A list's items
 * carry no apiVersion or kind, so both are optional here.
 */
export type Live<T> = Omit<T, "apiVersion" | "kind"> & { apiVersion?: string; kind?: string };
export type ObjectMeta = IObjectMeta;
/** Any object read back from the cluster. */
export interface LiveObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}
export type LivePod = Live<IPod>;
export type LiveNamespace = Live<INamespace>;
export type LiveSecret = Live<ISecret>;
export type LiveConfigMap = Live<IConfigMap>;
export type LivePersistentVolumeClaim = Live<IPersistentVolumeClaim>;
export type LiveDeployment = Live<IDeployment>;
export type LiveStatefulSet = Live<IStatefulSet>;

/**
 * From an instance row to its manifests: the bridge between the database's desired state and the
 * kube layer's pure templates. Rendering options come from configuration.
 */
import type { Config } from "../../config/index.js";
import type { Instance, Plan, Service } from "../../generated/prisma/client.js";
import {
  type InstanceObjectNames,
  names,
  type RenderOptions,
  renderInstance,
  renderTenant,
  type ServiceTemplate,
  SERVICE_TEMPLATES,
  tenantNamespace,
  workloadKind,
} from "../../kube/templates/index.js";
import { type Manifest, type ObjectRef, refOf } from "../../kube/objects.js";
import type { QuotaLimits } from "../quotas/quotas.service.js";

export type InstanceWithPlan = Instance & { plan: Plan; service: Service };

export interface InstanceManifestsOptions {
  render: RenderOptions;
  ingressControllerNamespace: string;
}

export function templateOf(service: Pick<Service, "template" | "slug">): ServiceTemplate {
  const t = service.template as ServiceTemplate;
  if (!SERVICE_TEMPLATES.includes(t)) throw new Error(`service ${service.slug} has unknown template '${service.template}'`);
  return t;
}

/** The data volume when it is not the default (after a restore, or while one runs). */
function volumeOf(inst: Pick<Instance, "volumeClaim" | "volumeSnapshot" | "restoreClaim" | "restoreSnapshot">) {
  const restore = inst.restoreClaim && inst.restoreSnapshot ? { claim: inst.restoreClaim, snapshot: inst.restoreSnapshot } : undefined;
  if (!inst.volumeClaim && !restore) return {};
  const claim = inst.volumeClaim ? { claim: inst.volumeClaim, ...(inst.volumeSnapshot ? { claimSnapshot: inst.volumeSnapshot } : {}) } : {};
  return { volume: { ...claim, ...(restore ? { restore } : {}) } };
}

export class InstanceManifests {
  constructor(private readonly opts: InstanceManifestsOptions) {}

  /** The renderer configured as the config says (the container's, and anything that must render the same). */
  static fromConfig(
    kube: Pick<
      Config["kube"],
      "tlsClusterIssuer" | "ingressClassName" | "storageClassName" | "postgresServiceType" | "ingressControllerNamespace"
    >,
  ): InstanceManifests {
    return new InstanceManifests({
      render: {
        tlsIssuer: kube.tlsClusterIssuer,
        ingressClassName: kube.ingressClassName,
        storageClassName: kube.storageClassName,
        postgresServiceType: kube.postgresServiceType,
      },
      ingressControllerNamespace: kube.ingressControllerNamespace,
    });
  }

  names(inst: Pick<Instance, "k8sName">): InstanceObjectNames {
    return names(inst.k8sName);
  }

  workloadKind(inst: { service: Pick<Service, "template" | "slug"> }): "Deployment" | "StatefulSet" {
    return workloadKind(templateOf(inst.service));
  }

  tenant(userId: string, quota: QuotaLimits): Manifest[] {
    const namespace = tenantNamespace(userId);
    return renderTenant({ userId, namespace, quota, ingressControllerNamespace: this.opts.ingressControllerNamespace });
  }

  /** `credentials` are the instance's stored ones (modules/instances/instance-credentials.ts): never generated here. */
  instance(inst: InstanceWithPlan, opts: { replicas: 0 | 1; credentials: Record<string, string> }): Manifest[] {
    const template = templateOf(inst.service);
    return renderInstance({
      instanceId: inst.id,
      userId: inst.userId,
      namespace: inst.namespace,
      name: inst.k8sName,
      // The version the instance runs (set at creation and by upgrades); the service's for rows from before versions.
      service: {
        template,
        image: inst.image ?? inst.service.image,
        version: inst.version ?? inst.service.version,
        port: inst.service.port,
      },
      plan: { cpuMilli: inst.plan.cpuMilli, memoryMb: inst.plan.memoryMb, storageGb: inst.plan.storageGb },
      host: inst.subdomain,
      replicas: opts.replicas,
      restartedAt: inst.restartRequestedAt?.toISOString(),
      credentials: opts.credentials,
      options: this.opts.render,
      ...volumeOf(inst),
    });
  }

  /**
   * Every object an instance can own, in deletion order (the reverse of apply order: front door
   * first, data last). Derived from the templates themselves so a new object kind is never orphaned;
   * the TLS Secret is cert-manager's, created from the Ingress.
   */
  instanceRefs(inst: InstanceWithPlan): ObjectRef[] {
    const rendered = this.instance(inst, { replicas: 0, credentials: {} }).map(refOf).reverse();
    if (rendered.some((r) => r.kind === "Ingress")) {
      rendered.push({ apiVersion: "v1", kind: "Secret", name: this.names(inst).tls, namespace: inst.namespace });
    }
    return rendered;
  }

  /** What the user connects to: https for HTTP services, the in-cluster address for PostgreSQL. */
  url(inst: InstanceWithPlan): string {
    if (templateOf(inst.service) === "postgresql") {
      return `postgresql://${this.names(inst).service}.${inst.namespace}.svc.cluster.local:${inst.service.port}`;
    }
    return `https://${inst.subdomain}`;
  }
}

import { createHash } from "node:crypto";
import type { IDeployment, IStatefulSet } from "kubernetes-models/apps/v1";
import type { IIngress, INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type {
  IConfigMap,
  IContainer,
  IPersistentVolumeClaim,
  IPodTemplateSpec,
  ISecret,
  IService,
  IVolume,
  IVolumeMount,
} from "kubernetes-models/v1";
import { InvalidNameError } from "../kube-errors.js";
import type { Manifest } from "../objects.js";
import { ghostProfile } from "./ghost.js";
import { ANNOTATIONS, instanceLabels, LABELS, selectorLabels } from "./labels.js";
import { n8nProfile } from "./n8n.js";
import { DNS1123_LABEL, type InstanceObjectNames, names } from "./names.js";
import { postgresqlProfile } from "./postgresql.js";
import type { ServiceProfile } from "./profile.js";
import type { InstanceSpec, ServiceTemplate } from "./template-spec.js";

export const PROFILES: Record<ServiceTemplate, ServiceProfile> = {
  n8n: n8nProfile,
  ghost: ghostProfile,
  postgresql: postgresqlProfile,
};

const DATA_VOLUME = "data";
const SHM_VOLUME = "dshm";
/** Bound on each scratch emptyDir, so a runaway /tmp cannot fill the node's disk. */
const SCRATCH_SIZE_LIMIT = "256Mi";

/** `repo` + `tag`, unless the repository string already pins a tag or digest. */
export function imageRef(image: string, version: string): string {
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  return image.includes("@") || lastSegment.includes(":") ? image : `${image}:${version}`;
}

function scratchVolumeName(path: string): string {
  return path
    .replace(/^\/+/, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/-+$/, "");
}

/** Short, stable digest of the settings; a change rolls the pods because envFrom is read at start only. */
function configHash(data: Record<string, string>): string {
  const canonical = JSON.stringify(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

function sortedRecord(input: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(input).sort(([a], [b]) => a.localeCompare(b)));
}

function assertSpec(spec: InstanceSpec, profile: ServiceProfile): void {
  if (!DNS1123_LABEL.test(spec.namespace) || spec.namespace.length > 63) {
    throw new InvalidNameError(spec.namespace, "namespace must be a DNS-1123 label");
  }
  if (profile.http && !/^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/.test(spec.host)) {
    throw new InvalidNameError(spec.host, "host must be a lowercase fully qualified DNS name");
  }
  const { cpuMilli, memoryMb, storageGb } = spec.plan;
  for (const [field, value, min] of [
    ["cpuMilli", cpuMilli, 1],
    ["memoryMb", memoryMb, 1],
    ["storageGb", storageGb, 0],
    ["port", spec.service.port, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(`${field} must be an integer >= ${min}, got ${value}`);
    }
  }
}

interface Ctx {
  spec: InstanceSpec;
  profile: ServiceProfile;
  n: InstanceObjectNames;
  labels: Record<string, string>;
  hasPvc: boolean;
}

function meta(ctx: Ctx, name: string, annotations?: Record<string, string>) {
  return {
    name,
    namespace: ctx.spec.namespace,
    labels: { ...ctx.labels },
    ...(annotations ? { annotations } : {}),
  };
}

function configMap(ctx: Ctx): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(ctx, ctx.n.configMap),
    data: sortedRecord(ctx.profile.config(ctx.spec)),
  };
}

function secret(ctx: Ctx): ISecret {
  // `data` (base64) rather than `stringData`: stringData is write-only, so a server-side apply of
  // it can never be compared with what is stored, and re-applying would not be a clean no-op.
  const data = Object.fromEntries(
    Object.entries(sortedRecord(ctx.spec.credentials)).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]),
  );
  return { apiVersion: "v1", kind: "Secret", metadata: meta(ctx, ctx.n.secret), type: "Opaque", data };
}

function pvc(
  ctx: Ctx,
  name = ctx.spec.volume?.claim ?? ctx.n.pvc,
  fromSnapshot = ctx.spec.volume?.claim ? ctx.spec.volume.claimSnapshot : undefined,
): IPersistentVolumeClaim {
  const { storageClassName } = ctx.spec.options;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: meta(ctx, name),
    spec: {
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      resources: { requests: { storage: `${ctx.spec.plan.storageGb}Gi` } },
      ...(storageClassName ? { storageClassName } : {}),
      ...(fromSnapshot ? { dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: fromSnapshot } } : {}),
    },
  };
}

/** The PVC the workload mounts: the restore's new claim while one is in progress, else the claim in use. */
function mountedClaim(ctx: Ctx): string {
  return ctx.spec.volume?.restore?.claim ?? ctx.spec.volume?.claim ?? ctx.n.pvc;
}

function podTemplate(ctx: Ctx): IPodTemplateSpec {
  const { spec, profile, n } = ctx;
  const cpu = `${spec.plan.cpuMilli}m`;
  const memory = `${spec.plan.memoryMb}Mi`;
  const probes = profile.probes(spec);

  const dataVolume: IVolume = ctx.hasPvc
    ? { name: DATA_VOLUME, persistentVolumeClaim: { claimName: mountedClaim(ctx) } }
    : { name: DATA_VOLUME, emptyDir: {} };
  const scratch = profile.writableDirs.map((path) => ({ path, name: scratchVolumeName(path) }));
  const volumes: IVolume[] = [dataVolume, ...scratch.map((s) => ({ name: s.name, emptyDir: { sizeLimit: SCRATCH_SIZE_LIMIT } }))];
  const volumeMounts: IVolumeMount[] = [
    { name: DATA_VOLUME, mountPath: profile.dataMountPath },
    ...scratch.map((s) => ({ name: s.name, mountPath: s.path })),
  ];
  const shmMb = profile.sharedMemoryMb?.(spec);
  if (shmMb !== undefined) {
    volumes.push({ name: SHM_VOLUME, emptyDir: { medium: "Memory", sizeLimit: `${shmMb}Mi` } });
    volumeMounts.push({ name: SHM_VOLUME, mountPath: "/dev/shm" });
  }
  const { uid, gid } = profile.ids(spec.service);

  const container: IContainer = {
    name: spec.service.template,
    image: imageRef(spec.service.image, spec.service.version),
    imagePullPolicy: "IfNotPresent",
    ports: [{ name: profile.portName, containerPort: spec.service.port, protocol: "TCP" }],
    // Settings from the ConfigMap, credentials from the Secret: no value is inlined here.
    envFrom: [{ configMapRef: { name: n.configMap } }, { secretRef: { name: n.secret } }],
    resources: { requests: { cpu, memory }, limits: { cpu, memory } },
    startupProbe: probes.startup,
    readinessProbe: probes.readiness,
    livenessProbe: probes.liveness,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: gid,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: profile.readOnlyRootFilesystem,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts,
  };

  const annotations: Record<string, string> = {
    [ANNOTATIONS.configHash]: configHash(profile.config(spec)),
  };
  if (spec.restartedAt) annotations[ANNOTATIONS.restartedAt] = spec.restartedAt;

  return {
    metadata: {
      labels: {
        ...ctx.labels,
        ...(profile.http ? { [LABELS.exposeHttp]: "true" } : {}),
        ...(profile.internetEgress ? { [LABELS.egressInternet]: "true" } : {}),
      },
      annotations,
    },
    spec: {
      automountServiceAccountToken: false,
      // Service links inject <SVC>_PORT=tcp://... variables; n8n reads N8N_PORT and breaks on them.
      enableServiceLinks: false,
      terminationGracePeriodSeconds: profile.terminationGracePeriodSeconds,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: gid,
        fsGroup: gid,
        // Skip the recursive chown of a large volume on every start when ownership is already right.
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [container],
      volumes,
    },
  };
}

function deployment(ctx: Ctx): IDeployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(ctx, ctx.n.workload),
    spec: {
      replicas: ctx.spec.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(ctx.spec) },
      // A ReadWriteOnce volume cannot be attached to the old and the new pod at once (and two n8n or
      // Ghost processes must never share one SQLite file): stop the old pod first.
      strategy: ctx.hasPvc ? { type: "Recreate" } : { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: podTemplate(ctx),
    },
  };
}

function statefulSet(ctx: Ctx): IStatefulSet {
  // The data volume is the standalone PVC, not a volumeClaimTemplate: templates are immutable, so
  // a plan upgrade could not grow the disk; a standalone PVC is simply re-applied with a larger size.
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(ctx, ctx.n.workload),
    spec: {
      replicas: ctx.spec.replicas,
      revisionHistoryLimit: 3,
      serviceName: ctx.n.headless,
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate" },
      selector: { matchLabels: selectorLabels(ctx.spec) },
      template: podTemplate(ctx),
    },
  };
}

function service(ctx: Ctx): IService {
  const type = ctx.profile.http ? "ClusterIP" : ctx.spec.options.postgresServiceType;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(ctx, ctx.n.service),
    spec: {
      type,
      selector: selectorLabels(ctx.spec),
      ports: [{ name: ctx.profile.portName, port: ctx.spec.service.port, targetPort: ctx.profile.portName, protocol: "TCP" }],
    },
  };
}

/**
 * The governing Service a StatefulSet names in `serviceName`: headless (no cluster IP), so each pod
 * gets its stable DNS name. Clients keep using the normal Service.
 */
function headlessService(ctx: Ctx): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(ctx, ctx.n.headless),
    spec: {
      clusterIP: "None",
      selector: selectorLabels(ctx.spec),
      ports: [{ name: ctx.profile.portName, port: ctx.spec.service.port, targetPort: ctx.profile.portName, protocol: "TCP" }],
    },
  };
}

function ingress(ctx: Ctx): IIngress {
  const { spec, n, profile } = ctx;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: meta(ctx, n.ingress, { [ANNOTATIONS.clusterIssuer]: spec.options.tlsIssuer }),
    spec: {
      ingressClassName: spec.options.ingressClassName,
      tls: [{ hosts: [spec.host], secretName: n.tls }],
      rules: [
        {
          host: spec.host,
          http: {
            paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: n.service, port: { name: profile.portName } } } }],
          },
        },
      ],
    },
  };
}

/**
 * Exposed databases (NodePort/LoadBalancer) are reached from outside the namespace, which the
 * tenant's default-deny policy forbids: open exactly this instance's port to any source.
 */
function externalAccessPolicy(ctx: Ctx): INetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(ctx, ctx.n.networkPolicy),
    spec: {
      podSelector: { matchLabels: selectorLabels(ctx.spec) },
      policyTypes: ["Ingress"],
      ingress: [{ ports: [{ port: ctx.profile.portName, protocol: "TCP" }] }],
    },
  };
}

/**
 * Every object of one instance, in apply order: settings and credentials before the workload that
 * reads them, the volume before the pod that mounts it, the Service before the Ingress.
 * Throws `InvalidNameError` (bad name/host) or `RangeError` (bad plan numbers).
 */
export function renderInstance(spec: InstanceSpec): Manifest[] {
  const profile = PROFILES[spec.service.template];
  const n = names(spec.name);
  assertSpec(spec, profile);
  const ctx: Ctx = { spec, profile, n, labels: instanceLabels(spec), hasPvc: spec.plan.storageGb > 0 };

  const objects: Manifest[] = [configMap(ctx), secret(ctx)];
  if (ctx.hasPvc) objects.push(pvc(ctx));
  const restore = spec.volume?.restore;
  if (ctx.hasPvc && restore) objects.push(pvc(ctx, restore.claim, restore.snapshot));
  if (!profile.http && spec.options.postgresServiceType !== "ClusterIP") objects.push(externalAccessPolicy(ctx));
  objects.push(service(ctx));
  if (profile.workloadKind === "StatefulSet") objects.push(headlessService(ctx), statefulSet(ctx));
  else objects.push(deployment(ctx));
  if (profile.http) objects.push(ingress(ctx));
  return objects;
}

/** The workload kind of a template (what rollout/restart/scale act on). */
export function workloadKind(template: ServiceTemplate): "Deployment" | "StatefulSet" {
  return PROFILES[template].workloadKind;
}

import type { IDeployment, IStatefulSet } from "kubernetes-models/apps/v1";
import type { IIngress, INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type {
  IConfigMap,
  IContainer,
  INamespace,
  IPersistentVolumeClaim,
  IPodSpec,
  IResourceQuota,
  ISecret,
  IService,
  IServiceAccount,
} from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { InvalidManifestError, InvalidNameError } from "../../src/kube/kube-errors.js";
import {
  FLEET_SELECTOR,
  generateCredentials,
  imageRef,
  type InstanceSpec,
  instanceSelector,
  MAX_INSTANCE_NAME_LENGTH,
  type Manifest,
  names,
  renderInstance,
  renderTenant,
  type ServiceTemplate,
  type TenantSpec,
  tenantNamespace,
  userSelector,
} from "../../src/kube/templates/index.js";
import { manifestProblems, podSecurityViolations, validateManifest } from "../../src/kube/manifest-validation.js";

// Fixed credentials: snapshots must be stable, and distinctive values let us scan for leaks.
const CREDENTIALS: Record<ServiceTemplate, Record<string, string>> = {
  n8n: { N8N_ENCRYPTION_KEY: "n8n-secret-key-0123456789abcdef" },
  ghost: {},
  postgresql: { POSTGRES_USER: "app", POSTGRES_DB: "app", POSTGRES_PASSWORD: "pg-secret-password-XYZ" },
};
const PORTS: Record<ServiceTemplate, number> = { n8n: 5678, ghost: 2368, postgresql: 5432 };
const IMAGES: Record<ServiceTemplate, [string, string]> = {
  n8n: ["n8nio/n8n", "1.64.0"],
  ghost: ["ghost", "5.96.0"],
  postgresql: ["postgres", "16.4"],
};

function spec(template: ServiceTemplate, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const [image, version] = IMAGES[template];
  return {
    instanceId: "cm0inst00001",
    userId: "cm0user00001",
    namespace: "user-cm0user00001",
    name: `my-${template}`,
    service: { template, image, version, port: PORTS[template] },
    plan: { cpuMilli: 500, memoryMb: 1024, storageGb: 5 },
    host: `my-${template}.apps.example.com`,
    replicas: 1,
    credentials: CREDENTIALS[template],
    options: { tlsIssuer: "letsencrypt-prod", ingressClassName: "nginx", postgresServiceType: "ClusterIP" },
    ...overrides,
  };
}

const tenant: TenantSpec = {
  userId: "cm0user00001",
  namespace: "user-cm0user00001",
  quota: { maxInstances: 3, cpuMilli: 2000, memoryMb: 4096, storageGb: 20 },
  ingressControllerNamespace: "ingress-nginx",
};

function find<T extends Manifest>(objs: Manifest[], kind: T["kind"]): T {
  const found = objs.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind} rendered`);
  return found as T;
}
const kinds = (objs: Manifest[]) => objs.map((o) => o.kind);
function podSpec(objs: Manifest[]): IPodSpec {
  const w = objs.find((o) => o.kind === "Deployment" || o.kind === "StatefulSet") as IDeployment | IStatefulSet;
  return w.spec!.template.spec!;
}
const container = (objs: Manifest[]): IContainer => podSpec(objs).containers[0]!;

const TEMPLATES: ServiceTemplate[] = ["n8n", "ghost", "postgresql"];
const VARIANTS: [string, Partial<InstanceSpec>][] = [
  ["with storage", {}],
  ["without storage", { plan: { cpuMilli: 250, memoryMb: 512, storageGb: 0 } }],
  ["suspended", { replicas: 0 }],
  ["restarted", { restartedAt: "2025-01-02T03:04:05.000Z" }],
];

describe("every rendered manifest validates", () => {
  for (const template of TEMPLATES) {
    for (const [variant, overrides] of VARIANTS) {
      it(`${template} ${variant}`, () => {
        const objs = renderInstance(spec(template, overrides));
        for (const o of objs) expect(manifestProblems(o), `${o.kind} ${o.metadata?.name}`).toEqual([]);
        for (const o of objs) expect(() => validateManifest(o)).not.toThrow();
      });
    }
  }
  it("postgresql exposed as LoadBalancer", () => {
    const objs = renderInstance(spec("postgresql", { options: { ...spec("postgresql").options, postgresServiceType: "LoadBalancer" } }));
    for (const o of objs) expect(manifestProblems(o)).toEqual([]);
  });
  it("tenant baseline", () => {
    for (const o of renderTenant(tenant)) expect(manifestProblems(o), `${o.kind} ${o.metadata?.name}`).toEqual([]);
  });
});

describe("instance objects", () => {
  it("renders in apply order with the derived names", () => {
    expect(kinds(renderInstance(spec("n8n")))).toEqual([
      "ConfigMap",
      "Secret",
      "PersistentVolumeClaim",
      "Service",
      "Deployment",
      "Ingress",
    ]);
    expect(kinds(renderInstance(spec("postgresql")))).toEqual([
      "ConfigMap",
      "Secret",
      "PersistentVolumeClaim",
      "Service",
      "Service",
      "StatefulSet",
    ]);
    expect(renderInstance(spec("ghost")).map((o) => o.metadata?.name)).toEqual([
      "my-ghost-config",
      "my-ghost-secret",
      "my-ghost-pvc",
      "my-ghost-svc",
      "my-ghost",
      "my-ghost-ingress",
    ]);
    expect(names("blog")).toEqual({
      configMap: "blog-config",
      secret: "blog-secret",
      pvc: "blog-pvc",
      workload: "blog",
      service: "blog-svc",
      headless: "blog-hl",
      ingress: "blog-ingress",
      tls: "blog-tls",
      networkPolicy: "blog-netpol",
    });
  });

  it("labels every object for instance, user and fleet selection", () => {
    for (const template of TEMPLATES) {
      for (const o of renderInstance(spec(template))) {
        expect(o.metadata?.namespace).toBe("user-cm0user00001");
        expect(o.metadata?.labels).toMatchObject({
          "app.kubernetes.io/name": template,
          "app.kubernetes.io/instance": `my-${template}`,
          "app.kubernetes.io/managed-by": "minispod",
          "minispod.io/instance-id": "cm0inst00001",
          "minispod.io/user-id": "cm0user00001",
        });
        expect(o.metadata?.labels?.["app.kubernetes.io/component"]).toMatch(/^[a-z-]+$/);
      }
    }
    expect(instanceSelector("cm0inst00001")).toBe("minispod.io/instance-id=cm0inst00001");
    expect(userSelector("u1")).toBe("app.kubernetes.io/managed-by=minispod,minispod.io/user-id=u1");
    expect(FLEET_SELECTOR).toBe("app.kubernetes.io/managed-by=minispod");
  });

  it("pod templates carry the instance id, and the selector matches them", () => {
    for (const template of TEMPLATES) {
      const objs = renderInstance(spec(template));
      const w = objs.find((o) => o.kind === "Deployment" || o.kind === "StatefulSet") as IDeployment;
      expect(w.spec!.template.metadata!.labels!["minispod.io/instance-id"]).toBe("cm0inst00001");
      expect(w.spec!.template.metadata!.labels!["minispod.io/user-id"]).toBe("cm0user00001");
      expect(w.spec!.selector.matchLabels).toEqual({
        "minispod.io/instance-id": "cm0inst00001",
        "app.kubernetes.io/instance": `my-${template}`,
      });
      expect(find<IService>(objs, "Service").spec!.selector).toEqual(w.spec!.selector.matchLabels);
    }
  });

  it("n8n: port 5678, /healthz probes, Recreate with its PVC, https settings", () => {
    const objs = renderInstance(spec("n8n"));
    const c = container(objs);
    expect(c.image).toBe("n8nio/n8n:1.64.0");
    expect(c.ports).toEqual([{ name: "http", containerPort: 5678, protocol: "TCP" }]);
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe])
      expect(probe!.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(find<IDeployment>(objs, "Deployment").spec!.strategy).toEqual({ type: "Recreate" });
    expect(c.volumeMounts).toContainEqual({ name: "data", mountPath: "/home/node/.n8n" });
    expect(podSpec(objs).volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "my-n8n-pvc" } });
    expect(find<IConfigMap>(objs, "ConfigMap").data).toMatchObject({
      N8N_HOST: "my-n8n.apps.example.com",
      N8N_PORT: "5678",
      N8N_PROTOCOL: "https",
      WEBHOOK_URL: "https://my-n8n.apps.example.com/",
    });
    expect(podSpec(objs).securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, runAsNonRoot: true });
  });

  it("ghost: port 2368, url, sqlite under content, startup probe tolerating a slow first boot", () => {
    const objs = renderInstance(spec("ghost"));
    const c = container(objs);
    expect(c.ports).toEqual([{ name: "http", containerPort: 2368, protocol: "TCP" }]);
    expect(c.startupProbe).toMatchObject({ periodSeconds: 10, failureThreshold: 30 });
    expect(c.startupProbe!.httpGet!.port).toBe("http");
    expect(c.readinessProbe!.httpGet).toBeDefined();
    expect(find<IConfigMap>(objs, "ConfigMap").data).toMatchObject({
      url: "https://my-ghost.apps.example.com",
      database__client: "sqlite3",
      database__connection__filename: "/var/lib/ghost/content/data/ghost.db",
    });
    expect(c.volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/ghost/content" });
    expect(find<IDeployment>(objs, "Deployment").spec!.strategy!.type).toBe("Recreate");
    expect(podSpec(objs).securityContext!.runAsUser).toBe(1000);
  });

  it("postgresql: StatefulSet on the standalone PVC, pg_isready, PGDATA in a subdirectory, uid 999, no Ingress", () => {
    const objs = renderInstance(spec("postgresql"));
    expect(kinds(objs)).not.toContain("Ingress");
    expect(kinds(objs)).not.toContain("Deployment");
    const sts = find<IStatefulSet>(objs, "StatefulSet");
    expect(sts.spec!.volumeClaimTemplates).toBeUndefined();
    expect(sts.spec!.template.spec!.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "my-postgresql-pvc" } });
    const c = container(objs);
    expect(c.ports).toEqual([{ name: "postgres", containerPort: 5432, protocol: "TCP" }]);
    expect(c.readinessProbe!.exec!.command!.join(" ")).toMatch(/pg_isready .*-U "\$POSTGRES_USER" -d "\$POSTGRES_DB"/);
    expect(c.livenessProbe!.exec).toBeDefined();
    expect(find<IConfigMap>(objs, "ConfigMap").data).toMatchObject({ PGDATA: "/var/lib/postgresql/data/pgdata", PGPORT: "5432" });
    expect(c.volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/postgresql/data" });
    expect(c.securityContext!.readOnlyRootFilesystem).toBe(true);
    expect(c.volumeMounts!.map((m) => m.mountPath)).toEqual(expect.arrayContaining(["/tmp", "/var/run/postgresql"]));
    expect(podSpec(objs).securityContext).toMatchObject({ runAsUser: 999, runAsGroup: 999, fsGroup: 999 });
    expect(find<IService>(objs, "Service").spec!.type).toBe("ClusterIP");
  });

  it("postgresql runs as the image's own postgres user: 999 on Debian variants, 70 on Alpine variants", () => {
    // The official image's Dockerfiles: Debian `useradd -r -g postgres --uid=999`, Alpine `adduser -u 70`.
    const documented: Array<[string, string, number]> = [
      ["postgres", "16.4", 999],
      ["postgres", "16.9-bookworm", 999],
      ["postgres", "16.9-alpine", 70],
      ["postgres", "17-alpine3.21", 70],
      ["postgres", "alpine", 70],
      ["postgres:16-alpine", "ignored", 70],
    ];
    for (const [image, version, id] of documented) {
      const objs = renderInstance(spec("postgresql", { service: { template: "postgresql", image, version, port: 5432 } }));
      expect(podSpec(objs).securityContext, `${image} ${version}`).toMatchObject({ runAsUser: id, runAsGroup: id, fsGroup: id });
      expect(container(objs).securityContext, `${image} ${version}`).toMatchObject({ runAsUser: id, runAsGroup: id });
    }
  });

  it("postgresql gets a memory-backed /dev/shm sized from the plan (64 MiB to 1 GiB)", () => {
    for (const [memoryMb, shm] of [
      [128, "64Mi"],
      [1024, "256Mi"],
      [8192, "1024Mi"],
    ] as const) {
      const objs = renderInstance(spec("postgresql", { plan: { cpuMilli: 500, memoryMb, storageGb: 5 } }));
      expect(podSpec(objs).volumes).toContainEqual({ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: shm } });
      expect(container(objs).volumeMounts).toContainEqual({ name: "dshm", mountPath: "/dev/shm" });
    }
    expect(podSpec(renderInstance(spec("n8n"))).volumes!.map((v) => v.name)).not.toContain("dshm");
  });

  it("postgresql's StatefulSet names a headless governing Service; clients keep the normal one", () => {
    const objs = renderInstance(spec("postgresql"));
    const services = objs.filter((o): o is IService => o.kind === "Service");
    expect(services.map((s) => [s.metadata!.name, s.spec!.clusterIP ?? null, s.spec!.type ?? null])).toEqual([
      ["my-postgresql-svc", null, "ClusterIP"],
      ["my-postgresql-hl", "None", null],
    ]);
    expect(services[1]!.spec!.selector).toEqual(services[0]!.spec!.selector);
    expect(find<IStatefulSet>(objs, "StatefulSet").spec!.serviceName).toBe("my-postgresql-hl");
  });

  it("postgresql service type is configurable, and exposure opens its port in a NetworkPolicy", () => {
    const objs = renderInstance(spec("postgresql", { options: { ...spec("postgresql").options, postgresServiceType: "NodePort" } }));
    expect(find<IService>(objs, "Service").spec!.type).toBe("NodePort");
    const np = find<INetworkPolicy>(objs, "NetworkPolicy");
    expect(np.metadata!.name).toBe("my-postgresql-netpol");
    expect(np.spec!.ingress).toEqual([{ ports: [{ port: "postgres", protocol: "TCP" }] }]);
    expect(kinds(renderInstance(spec("postgresql")))).not.toContain("NetworkPolicy");
  });

  it("resources come from the plan, the PVC size from storageGb", () => {
    for (const template of TEMPLATES) {
      const objs = renderInstance(spec(template));
      expect(container(objs).resources).toEqual({ requests: { cpu: "500m", memory: "1024Mi" }, limits: { cpu: "500m", memory: "1024Mi" } });
      const pvc = find<IPersistentVolumeClaim>(objs, "PersistentVolumeClaim");
      expect(pvc.spec!.accessModes).toEqual(["ReadWriteOnce"]);
      expect(pvc.spec!.resources!.requests).toEqual({ storage: "5Gi" });
      expect(pvc.spec!.storageClassName).toBeUndefined();
    }
    const withClass = renderInstance(spec("ghost", { options: { ...spec("ghost").options, storageClassName: "fast" } }));
    expect(find<IPersistentVolumeClaim>(withClass, "PersistentVolumeClaim").spec!.storageClassName).toBe("fast");
  });

  it("without storage: no PVC, an emptyDir, and a rolling update", () => {
    for (const template of TEMPLATES) {
      const objs = renderInstance(spec(template, { plan: { cpuMilli: 250, memoryMb: 512, storageGb: 0 } }));
      expect(kinds(objs)).not.toContain("PersistentVolumeClaim");
      expect(podSpec(objs).volumes).toContainEqual({ name: "data", emptyDir: {} });
    }
    const d = find<IDeployment>(renderInstance(spec("n8n", { plan: { cpuMilli: 250, memoryMb: 512, storageGb: 0 } })), "Deployment");
    expect(d.spec!.strategy!.type).toBe("RollingUpdate");
  });

  it("suspended instances render zero replicas; restarts set the rollout annotation", () => {
    for (const template of TEMPLATES) {
      const w = (objs: Manifest[]) => objs.find((o) => o.kind === "Deployment" || o.kind === "StatefulSet") as IDeployment;
      expect(w(renderInstance(spec(template, { replicas: 0 }))).spec!.replicas).toBe(0);
      expect(w(renderInstance(spec(template))).spec!.replicas).toBe(1);
      const restarted = w(renderInstance(spec(template, { restartedAt: "2025-01-02T03:04:05.000Z" })));
      expect(restarted.spec!.template.metadata!.annotations!["kubectl.kubernetes.io/restartedAt"]).toBe("2025-01-02T03:04:05.000Z");
      expect(w(renderInstance(spec(template))).spec!.template.metadata!.annotations!["kubectl.kubernetes.io/restartedAt"]).toBeUndefined();
    }
  });

  it("a settings change changes the pod template (config hash), credentials do not appear in it", () => {
    const hash = (s: InstanceSpec) =>
      find<IDeployment>(renderInstance(s), "Deployment").spec!.template.metadata!.annotations!["minispod.io/config-hash"];
    expect(hash(spec("ghost"))).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(spec("ghost"))).toBe(hash(spec("ghost")));
    expect(hash(spec("ghost", { host: "other.apps.example.com" }))).not.toBe(hash(spec("ghost")));
  });

  it("restricted security context on every pod and container", () => {
    for (const template of TEMPLATES) {
      const objs = renderInstance(spec(template));
      const p = podSpec(objs);
      expect(p.automountServiceAccountToken).toBe(false);
      expect(p.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(container(objs).securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(podSecurityViolations(p as never)).toEqual([]);
      // Writable /tmp on an emptyDir, even where the root filesystem stays writable.
      expect(container(objs).volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
    }
  });

  it("Ingress with cert-manager TLS for HTTP services", () => {
    for (const template of ["n8n", "ghost"] as const) {
      const ing = find<IIngress>(renderInstance(spec(template)), "Ingress");
      expect(ing.metadata!.annotations).toEqual({ "cert-manager.io/cluster-issuer": "letsencrypt-prod" });
      expect(ing.spec!.ingressClassName).toBe("nginx");
      expect(ing.spec!.tls).toEqual([{ hosts: [`my-${template}.apps.example.com`], secretName: `my-${template}-tls` }]);
      expect(ing.spec!.rules![0]!.http!.paths[0]!.backend.service).toEqual({ name: `my-${template}-svc`, port: { name: "http" } });
      const svc = find<IService>(renderInstance(spec(template)), "Service");
      expect(svc.spec!.type).toBe("ClusterIP");
      expect(svc.spec!.ports).toEqual([{ name: "http", port: PORTS[template], targetPort: "http", protocol: "TCP" }]);
    }
  });

  it("credentials appear only in the Secret: never in a ConfigMap, an env value, an annotation or a probe", () => {
    for (const template of TEMPLATES) {
      const creds = generateCredentials(template);
      const objs = renderInstance(spec(template, { credentials: { ...creds, ...CREDENTIALS[template] } }));
      const secretValues = Object.values({ ...creds, ...CREDENTIALS[template] }).filter((v) => v.length >= 8);
      const secret = find<ISecret>(objs, "Secret");
      const decoded = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
      expect(decoded).toEqual({ ...creds, ...CREDENTIALS[template] });
      for (const o of objs.filter((x) => x.kind !== "Secret")) {
        const text = JSON.stringify(o);
        for (const value of secretValues) expect(text, `${o.kind} leaks a credential`).not.toContain(value);
      }
      const c = container(objs);
      expect(c.env ?? []).toEqual([]);
      expect(c.envFrom).toEqual([{ configMapRef: { name: `my-${template}-config` } }, { secretRef: { name: `my-${template}-secret` } }]);
    }
  });
});

describe("generateCredentials", () => {
  it("n8n gets a 256-bit encryption key, different every time", () => {
    const a = generateCredentials("n8n");
    expect(Object.keys(a)).toEqual(["N8N_ENCRYPTION_KEY"]);
    expect(a.N8N_ENCRYPTION_KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(generateCredentials("n8n").N8N_ENCRYPTION_KEY).not.toBe(a.N8N_ENCRYPTION_KEY);
  });
  it("postgresql gets user, database and a strong password", () => {
    const c = generateCredentials("postgresql");
    expect(c.POSTGRES_USER).toBe("app");
    expect(c.POSTGRES_DB).toBe("app");
    expect(c.POSTGRES_PASSWORD).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateCredentials("postgresql").POSTGRES_PASSWORD).not.toBe(c.POSTGRES_PASSWORD);
  });
  it("ghost needs none", () => expect(generateCredentials("ghost")).toEqual({}));
});

describe("names", () => {
  it("accepts the longest allowed name and keeps every derived name within 63", () => {
    const name = "a".repeat(MAX_INSTANCE_NAME_LENGTH);
    for (const derived of Object.values(names(name))) expect(derived.length).toBeLessThanOrEqual(63);
    expect(() => renderInstance(spec("n8n", { name }))).not.toThrow();
  });
  it.each([
    ["too long", "a".repeat(MAX_INSTANCE_NAME_LENGTH + 1)],
    ["uppercase", "MyBlog"],
    ["underscore", "my_blog"],
    ["leading dash", "-blog"],
    ["trailing dash", "blog-"],
    ["empty", ""],
    ["dot", "my.blog"],
  ])("rejects a name that is %s", (_why, name) => {
    expect(() => names(name)).toThrow(InvalidNameError);
    expect(() => renderInstance(spec("ghost", { name }))).toThrow(InvalidNameError);
  });
  it("rejects a bad host for HTTP services", () => {
    expect(() => renderInstance(spec("ghost", { host: "Not A Host" }))).toThrow(InvalidNameError);
    expect(() => renderInstance(spec("ghost", { host: "localhost" }))).toThrow(InvalidNameError);
  });
  it("rejects impossible plan numbers", () => {
    expect(() => renderInstance(spec("ghost", { plan: { cpuMilli: 0, memoryMb: 512, storageGb: 1 } }))).toThrow(RangeError);
    expect(() => renderInstance(spec("ghost", { plan: { cpuMilli: 100, memoryMb: 512, storageGb: 1.5 } }))).toThrow(RangeError);
  });
  it("derives tenant namespaces", () => {
    expect(tenantNamespace("cm0user00001")).toBe("user-cm0user00001");
    expect(tenantNamespace("3F2504E0-4F89-11D3-9A0C-0305E82C3301")).toBe("user-3f2504e0-4f89-11d3-9a0c-0305e82c3301");
    expect(() => tenantNamespace("x".repeat(70))).toThrow(InvalidNameError);
  });
  it("pins an image tag unless one is given", () => {
    expect(imageRef("ghost", "5.96.0")).toBe("ghost:5.96.0");
    expect(imageRef("registry.local:5000/ghost", "5")).toBe("registry.local:5000/ghost:5");
    expect(imageRef("ghost:5-alpine", "5")).toBe("ghost:5-alpine");
    expect(imageRef("ghost@sha256:abc", "5")).toBe("ghost@sha256:abc");
  });
});

describe("tenant baseline", () => {
  const objs = renderTenant(tenant);

  it("renders the namespace first, with Pod Security and ownership labels", () => {
    expect(kinds(objs)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ResourceQuota",
      "LimitRange",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
      "NetworkPolicy",
    ]);
    const ns = find<INamespace>(objs, "Namespace");
    expect(ns.metadata!.name).toBe("user-cm0user00001");
    expect(ns.metadata!.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "app.kubernetes.io/managed-by": "minispod",
      "minispod.io/user-id": "cm0user00001",
    });
  });

  it("default ServiceAccount does not automount tokens", () => {
    const sa = find<IServiceAccount>(objs, "ServiceAccount");
    expect(sa.metadata!.name).toBe("default");
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it("quota comes from the user's limits, with room for one ACME solver and per instance a second pod and Service", () => {
    expect(find<IResourceQuota>(objs, "ResourceQuota").spec!.hard).toEqual({
      "requests.cpu": "2100m",
      "limits.cpu": "2100m",
      "requests.memory": "4160Mi",
      "limits.memory": "4160Mi",
      "requests.storage": "20Gi",
      persistentvolumeclaims: "3",
      pods: "9",
      services: "6",
    });
    const none = renderTenant({ ...tenant, quota: { maxInstances: 0, cpuMilli: 0, memoryMb: 0, storageGb: 0 } });
    expect(find<IResourceQuota>(none, "ResourceQuota").spec!.hard).toMatchObject({
      "requests.cpu": "0m",
      "limits.memory": "0Mi",
      pods: "0",
      services: "0",
    });
  });

  it("admits the ingress controller to cert-manager's HTTP-01 solver pods on their port only", () => {
    const solver = objs.find((o) => o.kind === "NetworkPolicy" && o.metadata?.name === "allow-acme-http01-solver") as INetworkPolicy;
    expect(solver.spec).toEqual({
      podSelector: { matchLabels: { "acme.cert-manager.io/http01-solver": "true" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
          ports: [{ protocol: "TCP", port: 8089 }],
        },
      ],
    });
  });

  it("denies by default and allows only the ingress controller, same namespace, DNS and labelled egress", () => {
    const policies = Object.fromEntries(
      objs.filter((o): o is INetworkPolicy => o.kind === "NetworkPolicy").map((p) => [p.metadata!.name!, p.spec!]),
    );
    expect(policies["default-deny"]).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    expect(policies["allow-ingress-controller"]!.ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }] },
    ]);
    expect(policies["allow-ingress-controller"]!.podSelector).toEqual({ matchLabels: { "minispod.io/expose-http": "true" } });
    expect(policies["allow-dns"]!.egress![0]!.ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
    expect(policies["allow-internet-egress"]!.podSelector).toEqual({ matchLabels: { "minispod.io/egress-internet": "true" } });
    // Which pods carry those labels: n8n and ghost get internet egress and ingress, postgresql neither.
    const podLabels = (t: ServiceTemplate) =>
      (renderInstance(spec(t)).find((o) => o.kind === "Deployment" || o.kind === "StatefulSet") as IDeployment).spec!.template.metadata!
        .labels!;
    expect(podLabels("n8n")).toMatchObject({ "minispod.io/egress-internet": "true", "minispod.io/expose-http": "true" });
    expect(podLabels("ghost")).toMatchObject({ "minispod.io/egress-internet": "true", "minispod.io/expose-http": "true" });
    expect(podLabels("postgresql")["minispod.io/egress-internet"]).toBeUndefined();
    expect(podLabels("postgresql")["minispod.io/expose-http"]).toBeUndefined();
  });

  it("rejects a bad namespace", () => {
    expect(() => renderTenant({ ...tenant, namespace: "User_1" })).toThrow(InvalidNameError);
  });
});

describe("validators catch what the upstream schemas miss", () => {
  const deployment = () => structuredClone(find<IDeployment>(renderInstance(spec("n8n")), "Deployment"));

  it("an unknown field, top level and nested", () => {
    const d = deployment() as unknown as Record<string, unknown>;
    (d.spec as Record<string, unknown>).replica = 2; // typo of "replicas"
    const c = (d as unknown as IDeployment).spec!.template.spec!.containers[0] as unknown as Record<string, unknown>;
    c.imagePullPolicyy = "Always";
    const problems = manifestProblems(d as never);
    expect(problems.map((p) => p.field)).toEqual(
      expect.arrayContaining(["spec.replica", "spec.template.spec.containers[0].imagePullPolicyy"]),
    );
    expect(() => validateManifest(d as never)).toThrow(InvalidManifestError);
  });

  it("unknown fields inside a NetworkPolicy peer (wire name `from` is known)", () => {
    const np = structuredClone(renderTenant(tenant).find((o) => o.metadata?.name === "allow-ingress-controller")) as INetworkPolicy;
    expect(manifestProblems(np)).toEqual([]);
    (np.spec!.ingress![0] as Record<string, unknown>).fromm = [];
    expect(manifestProblems(np).map((p) => p.field)).toEqual(["spec.ingress[0].fromm"]);
  });

  it("a bad DNS name", () => {
    const d = deployment();
    d.metadata!.name = "My_Deployment";
    expect(manifestProblems(d)).toContainEqual(expect.objectContaining({ field: "metadata.name" }));
    const svc = find<IService>(renderInstance(spec("ghost")), "Service");
    expect(manifestProblems({ ...svc, metadata: { ...svc.metadata, name: "a.b" } })).toContainEqual(
      expect.objectContaining({ field: "metadata.name", message: expect.stringContaining("DNS-1123 label") }),
    );
    const ing = structuredClone(find<IIngress>(renderInstance(spec("ghost")), "Ingress"));
    ing.spec!.rules![0]!.host = "bad host";
    expect(manifestProblems(ing)).toContainEqual(expect.objectContaining({ field: "spec.rules[0].host" }));
  });

  it("a privileged pod and other restricted violations", () => {
    const d = deployment();
    const pod = d.spec!.template.spec!;
    pod.containers[0]!.securityContext = { privileged: true, capabilities: { add: ["SYS_ADMIN"] } };
    pod.hostNetwork = true;
    pod.volumes!.push({ name: "host", hostPath: { path: "/" } });
    const problems = manifestProblems(d).filter((p) => p.reason === "PodSecurityRestricted");
    expect(problems.map((p) => p.field)).toEqual(
      expect.arrayContaining([
        "spec.template.spec.hostNetwork",
        "spec.template.spec.containers[0].securityContext.privileged",
        "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.template.spec.containers[0].securityContext.capabilities.drop",
        "spec.template.spec.containers[0].securityContext.capabilities.add",
        `spec.template.spec.volumes[${pod.volumes!.length - 1}]`,
      ]),
    );
    expect(() => validateManifest(d)).toThrow(/privileged containers are forbidden/);
  });

  it("root user and a missing seccomp profile", () => {
    const d = deployment();
    const pod = d.spec!.template.spec!;
    delete pod.securityContext!.seccompProfile;
    delete pod.containers[0]!.securityContext!.seccompProfile;
    pod.containers[0]!.securityContext!.runAsUser = 0;
    const fields = manifestProblems(d).map((p) => p.field);
    expect(fields).toContain("spec.template.spec.containers[0].securityContext.runAsUser");
    expect(fields).toContain("spec.template.spec.containers[0].securityContext.seccompProfile.type");
  });

  it("schema violations from kubernetes-models", () => {
    const d = deployment() as unknown as { spec: { replicas: unknown } };
    d.spec.replicas = "one";
    expect(manifestProblems(d as never)).toContainEqual(expect.objectContaining({ field: "spec.replicas", message: "must be integer" }));
  });

  it("a selector that does not match the pod template", () => {
    const d = deployment();
    d.spec!.selector.matchLabels = { "minispod.io/instance-id": "someone-else" };
    expect(manifestProblems(d)).toContainEqual(expect.objectContaining({ field: "spec.selector.matchLabels" }));
  });

  it("a volume mount without its volume, an invalid label value", () => {
    const d = deployment();
    const mounts = d.spec!.template.spec!.containers[0]!.volumeMounts!;
    mounts.push({ name: "nope", mountPath: "/x" });
    d.metadata!.labels!["minispod.io/user-id"] = "not valid!";
    const fields = manifestProblems(d).map((p) => p.field);
    expect(fields).toContain(`spec.template.spec.containers[0].volumeMounts[${mounts.length - 1}].name`);
    expect(fields).toContain("metadata.labels[minispod.io/user-id]");
  });

  it("an unsupported kind", () => {
    expect(manifestProblems({ apiVersion: "v1", kind: "Bogus", metadata: { name: "x" } })).toContainEqual(
      expect.objectContaining({ reason: "Unsupported" }),
    );
  });
});

describe("snapshots", () => {
  for (const template of TEMPLATES) {
    it(`${template}`, () => expect(renderInstance(spec(template))).toMatchSnapshot());
  }
  it("postgresql exposed, without storage", () =>
    expect(
      renderInstance(
        spec("postgresql", {
          plan: { cpuMilli: 250, memoryMb: 256, storageGb: 0 },
          options: { ...spec("postgresql").options, postgresServiceType: "LoadBalancer" },
        }),
      ),
    ).toMatchSnapshot());
  it("tenant", () => expect(renderTenant(tenant)).toMatchSnapshot());
});

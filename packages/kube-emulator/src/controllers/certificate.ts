/**
 * cert-manager with an ACME ClusterIssuer solving HTTP-01:
 * - ingress-shim: an Ingress annotated `cert-manager.io/cluster-issuer` with `tls` entries gets a
 *   Certificate per secretName (owned by the Ingress);
 * - a Certificate without its Secret starts a challenge: the solver Pod (label
 *   `acme.cert-manager.io/http01-solver: "true"`, port 8089, 10m/64Mi requests, 100m/64Mi limits,
 *   restricted securityContext), its Service and Ingress are created in the certificate's
 *   namespace through the API (quota, LimitRange and PodSecurity apply);
 * - the ACME server reaches the solver through the ingress controller: the challenge passes only if
 *   the namespace's NetworkPolicies admit traffic from the ingress controller's namespace to the
 *   solver pod on 8089. Then the TLS Secret is written, the Certificate becomes Ready (valid 90
 *   days, renewed after 60) and the solver objects are removed. Otherwise it stays not Ready with
 *   the reason, as a real issuer stalls, and is retried when policies, quotas or pods change.
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { mustFindByKind, PODS } from "../resources.js";
import { ingressAllowed } from "../network-policy.js";
import { type KubeObject, k8sTime, safeHash } from "../types.js";
import { recordEvent } from "./events.js";
import { arr, CERTIFICATES, type ControllerContext, createThroughApi, INGRESSES, ownerRef, rec, SERVICES } from "./shared.js";

const SECRETS = mustFindByKind("v1", "Secret");
export const ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer";
export const SOLVER_LABEL = "acme.cert-manager.io/http01-solver";
export const SOLVER_PORT = 8089;

/** ingress-shim: the Certificates an annotated Ingress asks for. */
export function reconcileIngressShim(ctx: ControllerContext, ns: string, name: string): void {
  const ing = ctx.cluster.tryGet(INGRESSES, ns, name);
  const issuer = ing?.metadata.annotations?.[ISSUER_ANNOTATION];
  if (!ing || !issuer || ing.metadata.labels?.[SOLVER_LABEL] === "true") return;
  for (const tls of arr(rec(ing.spec).tls)) {
    if (typeof tls.secretName !== "string") continue;
    const dnsNames = (Array.isArray(tls.hosts) ? tls.hosts : []).map(String);
    const spec = {
      dnsNames,
      secretName: tls.secretName,
      usages: ["digital signature", "key encipherment"],
      issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: issuer },
    };
    const existing = ctx.cluster.tryGet(CERTIFICATES, ns, tls.secretName);
    if (existing) continue;
    createThroughApi(
      ctx,
      CERTIFICATES,
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: {
          name: tls.secretName,
          namespace: ns,
          uid: "",
          resourceVersion: "",
          creationTimestamp: "",
          ownerReferences: [ownerRef(ing)],
        },
        spec,
      },
      "cert-manager-ingress-shim",
    );
  }
}

function solverName(cert: KubeObject): string {
  return `cm-acme-http-solver-${safeHash(cert.metadata.uid, 5)}`;
}

function removeSolver(ctx: ControllerContext, ns: string, name: string): void {
  for (const info of [PODS, SERVICES, INGRESSES]) if (ctx.cluster.tryGet(info, ns, name)) ctx.cluster.remove(info, ns, name);
}

/** The solver objects, created through the API; the refusal's message when admission says no. */
function ensureSolver(ctx: ControllerContext, cert: KubeObject, host: string): string | undefined {
  const ns = cert.metadata.namespace ?? "";
  const name = solverName(cert);
  const labels = {
    [SOLVER_LABEL]: "true",
    "acme.cert-manager.io/http-domain": safeHash(host, 10),
    "acme.cert-manager.io/http-token": safeHash(cert.metadata.uid, 10),
  };
  const meta = { name, namespace: ns, uid: "", resourceVersion: "", creationTimestamp: "", labels, ownerReferences: [ownerRef(cert)] };
  const objects: [typeof PODS, KubeObject][] = [
    [
      PODS,
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { ...meta, annotations: { "sidecar.istio.io/inject": "false" } },
        spec: {
          restartPolicy: "OnFailure",
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "acmesolver",
              image: "quay.io/jetstack/cert-manager-acmesolver:v1.16.2",
              args: [`--listen-port=${SOLVER_PORT}`, `--domain=${host}`],
              ports: [{ name: "http", containerPort: SOLVER_PORT, protocol: "TCP" }],
              resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
    ],
    [
      SERVICES,
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta,
        spec: {
          type: "ClusterIP",
          selector: labels,
          ports: [{ name: "http", port: SOLVER_PORT, targetPort: SOLVER_PORT, protocol: "TCP" }],
        },
      },
    ],
    [
      INGRESSES,
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: meta,
        spec: {
          rules: [
            {
              host,
              http: {
                paths: [
                  {
                    path: `/.well-known/acme-challenge/${safeHash(cert.metadata.uid, 43)}`,
                    pathType: "ImplementationSpecific",
                    backend: { service: { name, port: { number: SOLVER_PORT } } },
                  },
                ],
              },
            },
          ],
        },
      },
    ],
  ];
  for (const [info, obj] of objects) {
    if (ctx.cluster.tryGet(info, ns, name)) continue;
    const created = createThroughApi(ctx, info, obj, "cert-manager-challenges");
    if (created.error) {
      ctx.noteFailedCreate("Certificate", ns, cert.metadata.name);
      return created.error.message;
    }
  }
  return undefined;
}

export function reconcileCertificate(ctx: ControllerContext, ns: string, name: string): void {
  const cert = ctx.cluster.tryGet(CERTIFICATES, ns, name);
  if (!cert) return;
  const spec = rec(cert.spec);
  const secretName = String(spec.secretName ?? name);
  const prev = arr(rec(cert.status).conditions).find((c) => c.type === "Ready");
  const now = ctx.cluster.now();
  const secret = ctx.cluster.tryGet(SECRETS, ns, secretName);
  if (secret && prev?.status === "True") return;

  const host = String((Array.isArray(spec.dnsNames) ? spec.dnsNames[0] : undefined) ?? spec.commonName ?? `${name}.example.test`);
  const solver = solverName(cert);
  let stalled: string | undefined;
  if (!secret) {
    const refused = ensureSolver(ctx, cert, host);
    if (refused) stalled = `Failed to create HTTP-01 solver: ${refused}`;
    else {
      const pod = ctx.cluster.tryGet(PODS, ns, solver) as KubeObject;
      const from = ctx.opts.ingressControllerNamespace ?? "ingress-nginx";
      if (!ingressAllowed(ctx.cluster.store, pod, { namespace: from }, SOLVER_PORT, "TCP", "http")) {
        stalled = `Waiting for HTTP-01 challenge propagation: failed to perform self check GET request 'http://${host}/.well-known/acme-challenge/${safeHash(cert.metadata.uid, 43)}': Get "http://${host}/.well-known/acme-challenge/${safeHash(cert.metadata.uid, 43)}": context deadline exceeded (NetworkPolicy in ${ns} does not admit ${from} to the solver on ${SOLVER_PORT})`;
      }
    }
  }
  if (stalled) {
    ctx.writeStatus(CERTIFICATES, cert, {
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "DoesNotExist",
          message: "Issuing certificate as Secret does not exist",
          lastTransitionTime: prev?.status === "False" ? prev.lastTransitionTime : k8sTime(now),
          observedGeneration: cert.metadata.generation,
        },
        {
          type: "Issuing",
          status: "True",
          reason: "DoesNotExist",
          message: stalled,
          // Unchanged while stalled, so a retry that changes nothing writes nothing.
          lastTransitionTime: arr(rec(cert.status).conditions).find((c) => c.type === "Issuing")?.lastTransitionTime ?? k8sTime(now),
          observedGeneration: cert.metadata.generation,
        },
      ],
    });
    ctx.noteFailedCreate("Certificate", ns, name);
    return;
  }
  if (!secret) {
    createThroughApi(
      ctx,
      SECRETS,
      {
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: {
          name: secretName,
          namespace: ns,
          uid: "",
          resourceVersion: "",
          creationTimestamp: "",
          annotations: { "cert-manager.io/certificate-name": name, "cert-manager.io/issuer-name": String(rec(spec.issuerRef).name ?? "") },
        },
        data: {
          "tls.crt": Buffer.from(`emulated certificate for ${host}`).toString("base64"),
          "tls.key": Buffer.from("emulated key").toString("base64"),
        },
      },
      "cert-manager-certificates-issuing",
    );
    recordEvent(
      ctx.cluster,
      cert,
      "Normal",
      "Issuing",
      "The certificate has been successfully issued",
      "cert-manager-certificates-issuing",
    );
  }
  removeSolver(ctx, ns, solver);
  const notBefore = k8sTime(now);
  ctx.writeStatus(CERTIFICATES, cert, {
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Ready",
        message: "Certificate is up to date and has not expired",
        lastTransitionTime: k8sTime(now),
        observedGeneration: cert.metadata.generation,
      },
    ],
    notBefore,
    notAfter: k8sTime(now + 90 * 86_400_000),
    renewalTime: k8sTime(now + 60 * 86_400_000),
    revision: 1,
  });
}

/**
 * The endpoints and EndpointSlice controllers: for every Service with a selector, an Endpoints
 * object of the same name (ready pod IPs in `addresses`, the others in `notReadyAddresses`) and an
 * EndpointSlice `<service>-<5>` (label `kubernetes.io/service-name`, owned by the Service) listing
 * the pods that match the selector and have an IP, with `ready`/`serving`/`terminating`.
 * Named target ports resolve against each pod's container ports; a pod without that port is left
 * out, as the real controllers do. Services without a selector are left alone (their Endpoints are
 * the user's). TEST/DEMO FIXTURE — see ../index.ts.
 */
import { randomUUID } from "node:crypto";
import { ENDPOINTS, ENDPOINTSLICES, PODS, resourceKey, SERVICES } from "../resources.js";
import { deepEqual, type KubeObject, k8sTime } from "../types.js";
import { arr, type ControllerContext, isPodReady, type Obj, ownerRef, rec } from "./shared.js";

const SERVICE_NAME = "kubernetes.io/service-name";
const MANAGED_BY = "endpointslice.kubernetes.io/managed-by";

function targetPort(port: Obj, pod: KubeObject): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === "number") return target;
  for (const c of arr(rec(pod.spec).containers)) {
    for (const p of arr(c.ports))
      if (p.name === target && (p.protocol ?? "TCP") === (port.protocol ?? "TCP")) return Number(p.containerPort);
  }
  return undefined;
}

function podsOf(ctx: ControllerContext, svc: KubeObject): KubeObject[] {
  const selector = rec(rec(svc.spec).selector) as Record<string, string>;
  return [...ctx.cluster.store.iterate(resourceKey(PODS), svc.metadata.namespace ?? "")].filter((p) => {
    const phase = rec(p.status).phase;
    if (!rec(p.status).podIP || phase === "Succeeded" || phase === "Failed") return false;
    return Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v);
  });
}

function write(ctx: ControllerContext, info: typeof ENDPOINTS, live: KubeObject | undefined, next: KubeObject): void {
  if (
    live &&
    deepEqual({ ...live, metadata: undefined }, { ...next, metadata: undefined }) &&
    deepEqual(live.metadata.labels, next.metadata.labels)
  )
    return;
  ctx.cluster.put(info, live ? { ...next, metadata: { ...live.metadata, labels: next.metadata.labels } } : next);
}

export function reconcileEndpoints(ctx: ControllerContext, ns: string, name: string): void {
  const svc = ctx.cluster.tryGet(SERVICES, ns, name);
  const slices = [...ctx.cluster.store.iterate(resourceKey(ENDPOINTSLICES), ns)].filter(
    (s) => s.metadata.labels?.[SERVICE_NAME] === name && s.metadata.labels?.[MANAGED_BY] === "endpointslice-controller.k8s.io",
  );
  if (!svc) {
    ctx.cluster.remove(ENDPOINTS, ns, name);
    for (const s of slices) ctx.cluster.remove(ENDPOINTSLICES, ns, s.metadata.name);
    return;
  }
  if (Object.keys(rec(rec(svc.spec).selector)).length === 0) {
    for (const s of slices) ctx.cluster.remove(ENDPOINTSLICES, ns, s.metadata.name);
    return;
  }
  if (svc.metadata.deletionTimestamp) return;
  const ports = arr(rec(svc.spec).ports);
  const pods = podsOf(ctx, svc);
  const now = k8sTime(ctx.cluster.now());
  const meta = (n: string): KubeObject["metadata"] => ({
    name: n,
    namespace: ns,
    uid: randomUUID(),
    resourceVersion: "",
    creationTimestamp: now,
  });

  // Endpoints: one subset per distinct resolved port list.
  const subsets = new Map<string, Obj>();
  for (const pod of pods) {
    const resolved = ports.map((p) => ({ port: p, target: targetPort(p, pod) }));
    if (resolved.some((r) => r.target === undefined)) continue;
    const epPorts = resolved.map(({ port, target }) => ({
      ...(port.name ? { name: port.name } : {}),
      port: target,
      protocol: port.protocol ?? "TCP",
    }));
    const key = JSON.stringify(epPorts);
    const subset = subsets.get(key) ?? { ports: epPorts };
    const address = {
      ip: rec(pod.status).podIP,
      nodeName: rec(pod.spec).nodeName,
      targetRef: { kind: "Pod", namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid },
    };
    const list = isPodReady(pod) && !pod.metadata.deletionTimestamp ? "addresses" : "notReadyAddresses";
    subset[list] = [...arr(subset[list]), address];
    subsets.set(key, subset);
  }
  const endpoints: KubeObject = {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { ...meta(name), labels: { ...svc.metadata.labels } },
    ...(subsets.size ? { subsets: [...subsets.values()] } : {}),
  };
  write(ctx, ENDPOINTS, ctx.cluster.tryGet(ENDPOINTS, ns, name), endpoints);

  // EndpointSlice: one per Service here (the real controller splits at 100 endpoints).
  const sliceEndpoints = pods.map((pod) => {
    const ready = isPodReady(pod) && !pod.metadata.deletionTimestamp;
    return {
      addresses: [String(rec(pod.status).podIP)],
      conditions: { ready, serving: isPodReady(pod), terminating: !!pod.metadata.deletionTimestamp },
      nodeName: rec(pod.spec).nodeName,
      targetRef: { kind: "Pod", namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid },
    };
  });
  const slicePorts = ports.map((p) => ({
    name: typeof p.name === "string" ? p.name : "",
    port: pods.length ? (targetPort(p, pods[0]) ?? null) : null,
    protocol: p.protocol ?? "TCP",
  }));
  const [first, ...extra] = slices;
  for (const s of extra) ctx.cluster.remove(ENDPOINTSLICES, ns, s.metadata.name);
  const slice: KubeObject = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      ...meta(first?.metadata.name ?? `${name}-${ctx.cluster.rng.suffix(5)}`),
      generateName: `${name}-`,
      labels: { ...svc.metadata.labels, [SERVICE_NAME]: name, [MANAGED_BY]: "endpointslice-controller.k8s.io" },
      ownerReferences: [ownerRef(svc)],
    },
    addressType: "IPv4",
    endpoints: sliceEndpoints.length ? sliceEndpoints : null,
    ports: slicePorts,
  };
  write(ctx, ENDPOINTSLICES, first, slice);
}

/** A pod changed: every selecting Service in its namespace may need new endpoints. */
export function servicesSelecting(ctx: ControllerContext, pod: KubeObject, previous?: KubeObject): string[] {
  const ns = pod.metadata.namespace ?? "";
  const out: string[] = [];
  for (const svc of ctx.cluster.store.iterate(resourceKey(SERVICES), ns)) {
    const selector = rec(rec(svc.spec).selector) as Record<string, string>;
    const entries = Object.entries(selector);
    if (entries.length === 0) continue;
    const matches = (p: KubeObject | undefined) => !!p && entries.every(([k, v]) => p.metadata.labels?.[k] === v);
    if (matches(pod) || matches(previous)) out.push(svc.metadata.name);
  }
  return out;
}

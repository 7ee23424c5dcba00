/**
 * A small NetworkPolicy evaluator: whether ingress traffic from a pod (or any pod) in one
 * namespace may reach a pod on a port, under the target namespace's policies (policyTypes,
 * ingress rules, podSelector / namespaceSelector peers, ports). ipBlock peers never match
 * in-cluster sources, as on a real CNI. TEST/DEMO FIXTURE — see index.ts.
 */
import { mustFindByKind, NAMESPACES, resourceKey } from "./resources.js";
import type { Store } from "./store.js";
import { isRecord, type KubeObject } from "./types.js";

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);
const NETWORKPOLICIES = mustFindByKind("networking.k8s.io/v1", "NetworkPolicy");

/** metav1.LabelSelector semantics: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist). */
export function selectorMatches(selector: unknown, labels: Record<string, string> | undefined): boolean {
  const sel = rec(selector);
  const l = labels ?? {};
  for (const [k, v] of Object.entries(rec(sel.matchLabels))) if (l[k] !== v) return false;
  for (const e of arr(sel.matchExpressions)) {
    const key = String(e.key);
    const values = (Array.isArray(e.values) ? e.values : []).map(String);
    const has = key in l;
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(l[key])) return false;
        break;
      case "NotIn":
        if (has && values.includes(l[key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function policyTypes(p: KubeObject): string[] {
  const spec = rec(p.spec);
  if (Array.isArray(spec.policyTypes)) return spec.policyTypes.map(String);
  return Array.isArray(spec.egress) ? ["Ingress", "Egress"] : ["Ingress"];
}

export interface Source {
  namespace: string;
  /** Labels of the source pod; undefined means "some pod we know nothing about" (matches only empty podSelectors). */
  podLabels?: Record<string, string>;
}

/** Whether `source` may open a TCP/UDP connection to `pod` on `port` (number) / `portName`. */
export function ingressAllowed(store: Store, pod: KubeObject, source: Source, port: number, protocol = "TCP", portName?: string): boolean {
  const ns = pod.metadata.namespace ?? "";
  const selecting = [...store.iterate(resourceKey(NETWORKPOLICIES), ns)].filter(
    (p) => policyTypes(p).includes("Ingress") && selectorMatches(rec(p.spec).podSelector, pod.metadata.labels),
  );
  if (selecting.length === 0) return true; // not isolated for ingress
  const sourceNs = store.get(resourceKey(NAMESPACES), "", source.namespace);
  const nsLabels = sourceNs?.metadata.labels ?? { "kubernetes.io/metadata.name": source.namespace };
  const peerMatches = (peer: Obj): boolean => {
    if (isRecord(peer.ipBlock)) return false;
    const nsOk = isRecord(peer.namespaceSelector) ? selectorMatches(peer.namespaceSelector, nsLabels) : source.namespace === ns;
    if (!nsOk) return false;
    if (!isRecord(peer.podSelector)) return true;
    if (source.podLabels === undefined) return Object.keys(rec(peer.podSelector)).length === 0 || selectorMatches(peer.podSelector, {});
    return selectorMatches(peer.podSelector, source.podLabels);
  };
  const portMatches = (p: Obj): boolean => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "string") return p.port === portName;
    const end = typeof p.endPort === "number" ? p.endPort : p.port;
    return port >= (p.port as number) && port <= (end as number);
  };
  return selecting.some((p) =>
    arr(rec(p.spec).ingress).some((rule) => {
      const from = arr(rule.from);
      const ports = arr(rule.ports);
      return (from.length === 0 || from.some(peerMatches)) && (ports.length === 0 || ports.some(portMatches));
    }),
  );
}

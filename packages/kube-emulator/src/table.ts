/**
 * Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns follow the real printers for
 * the kinds a user of the demo will look at. TEST/DEMO FIXTURE — see index.ts.
 */
import type { ResourceInfo } from "./resources.js";
import { isRecord, type KubeObject } from "./types.js";

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);

export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

/** kubectl's HumanDuration: 45s, 5m10s, 3h, 2d... */
export function humanAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

interface Column {
  name: string;
  type: string;
  priority?: number;
  cell: (o: KubeObject, now: number) => string | number;
}

const nameCol: Column = {
  name: "Name",
  type: "string",
  cell: (o) => o.metadata.name,
};
const ageCol: Column = {
  name: "Age",
  type: "string",
  cell: (o, now) => humanAge(now - Date.parse(o.metadata.creationTimestamp)),
};

function podStatus(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return "Terminating";
  for (const c of arr(rec(o.status).containerStatuses)) {
    const w = rec(rec(c.state).waiting);
    if (typeof w.reason === "string") return w.reason;
  }
  return String(rec(o.status).phase ?? "Pending");
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    nameCol,
    {
      name: "Ready",
      type: "string",
      cell: (o) => {
        const cs = arr(rec(o.status).containerStatuses);
        return `${cs.filter((c) => c.ready === true).length}/${arr(rec(o.spec).containers).length}`;
      },
    },
    { name: "Status", type: "string", cell: podStatus },
    {
      name: "Restarts",
      type: "string",
      cell: (o) =>
        String(arr(rec(o.status).containerStatuses).reduce((n, c) => n + (typeof c.restartCount === "number" ? c.restartCount : 0), 0)),
    },
    ageCol,
    {
      name: "IP",
      type: "string",
      priority: 1,
      cell: (o) => String(rec(o.status).podIP ?? "<none>"),
    },
    {
      name: "Node",
      type: "string",
      priority: 1,
      cell: (o) => String(rec(o.spec).nodeName ?? "<none>"),
    },
  ],
  Deployment: [
    nameCol,
    {
      name: "Ready",
      type: "string",
      cell: (o) => `${Number(rec(o.status).readyReplicas ?? 0)}/${Number(rec(o.spec).replicas ?? 1)}`,
    },
    {
      name: "Up-to-date",
      type: "integer",
      cell: (o) => Number(rec(o.status).updatedReplicas ?? 0),
    },
    {
      name: "Available",
      type: "integer",
      cell: (o) => Number(rec(o.status).availableReplicas ?? 0),
    },
    ageCol,
  ],
  StatefulSet: [
    nameCol,
    {
      name: "Ready",
      type: "string",
      cell: (o) => `${Number(rec(o.status).readyReplicas ?? 0)}/${Number(rec(o.spec).replicas ?? 1)}`,
    },
    ageCol,
  ],
  ReplicaSet: [
    nameCol,
    {
      name: "Desired",
      type: "integer",
      cell: (o) => Number(rec(o.spec).replicas ?? 0),
    },
    {
      name: "Current",
      type: "integer",
      cell: (o) => Number(rec(o.status).replicas ?? 0),
    },
    {
      name: "Ready",
      type: "integer",
      cell: (o) => Number(rec(o.status).readyReplicas ?? 0),
    },
    ageCol,
  ],
  Namespace: [
    nameCol,
    {
      name: "Status",
      type: "string",
      cell: (o) => String(rec(o.status).phase ?? "Active"),
    },
    ageCol,
  ],
  Service: [
    nameCol,
    {
      name: "Type",
      type: "string",
      cell: (o) => String(rec(o.spec).type ?? "ClusterIP"),
    },
    {
      name: "Cluster-IP",
      type: "string",
      cell: (o) => String(rec(o.spec).clusterIP ?? "<none>"),
    },
    {
      name: "External-IP",
      type: "string",
      cell: (o) =>
        arr(rec(rec(o.status).loadBalancer).ingress)
          .map((i) => String(i.ip))
          .join(",") || "<none>",
    },
    {
      name: "Port(s)",
      type: "string",
      cell: (o) =>
        arr(rec(o.spec).ports)
          .map((p) => `${String(p.port)}/${String(p.protocol ?? "TCP")}`)
          .join(",") || "<none>",
    },
    ageCol,
  ],
  Endpoints: [
    nameCol,
    {
      name: "Endpoints",
      type: "string",
      cell: (o) => {
        const all = arr(o.subsets).flatMap((s) =>
          arr(s.addresses).flatMap((a) => arr(s.ports).map((p) => `${String(a.ip)}:${String(p.port)}`)),
        );
        if (all.length === 0) return "<none>";
        return all.length > 3 ? `${all.slice(0, 3).join(",")} + ${all.length - 3} more...` : all.join(",");
      },
    },
    ageCol,
  ],
  EndpointSlice: [
    nameCol,
    { name: "AddressType", type: "string", cell: (o) => String(o.addressType ?? "") },
    {
      name: "Ports",
      type: "string",
      cell: (o) =>
        arr(o.ports)
          .map((p) => String(p.port ?? "<unset>"))
          .join(",") || "<unset>",
    },
    {
      name: "Endpoints",
      type: "string",
      cell: (o) => {
        const all = arr(o.endpoints).flatMap((e) => (Array.isArray(e.addresses) ? (e.addresses as string[]) : []));
        if (all.length === 0) return "<unset>";
        return all.length > 3 ? `${all.slice(0, 3).join(",")} + ${all.length - 3} more...` : all.join(",");
      },
    },
    ageCol,
  ],
  // The columns `kubectl get events` shows (the printer's NAME, FIRST SEEN, COUNT… are wide-only).
  Event: [
    {
      name: "Last Seen",
      type: "string",
      cell: (o, now) => humanAge(now - Date.parse(String(o.lastTimestamp ?? o.metadata.creationTimestamp))),
    },
    { name: "Type", type: "string", cell: (o) => String(o.type ?? "") },
    { name: "Reason", type: "string", cell: (o) => String(o.reason ?? "") },
    {
      name: "Object",
      type: "string",
      cell: (o) => `${String(rec(o.involvedObject).kind ?? "").toLowerCase()}/${String(rec(o.involvedObject).name ?? "")}`,
    },
    { name: "Message", type: "string", cell: (o) => String(o.message ?? "") },
  ],
  PersistentVolumeClaim: [
    nameCol,
    {
      name: "Status",
      type: "string",
      cell: (o) => (o.metadata.deletionTimestamp ? "Terminating" : String(rec(o.status).phase ?? "Pending")),
    },
    {
      name: "Volume",
      type: "string",
      cell: (o) => String(rec(o.spec).volumeName ?? ""),
    },
    {
      name: "Capacity",
      type: "string",
      cell: (o) => String(rec(rec(o.status).capacity).storage ?? ""),
    },
    {
      name: "Access Modes",
      type: "string",
      cell: (o) =>
        Array.isArray(rec(o.spec).accessModes)
          ? (rec(o.spec).accessModes as string[])
              .map(
                (m) =>
                  ({
                    ReadWriteOnce: "RWO",
                    ReadOnlyMany: "ROX",
                    ReadWriteMany: "RWX",
                    ReadWriteOncePod: "RWOP",
                  })[m] ?? m,
              )
              .join(",")
          : "",
    },
    {
      name: "StorageClass",
      type: "string",
      cell: (o) => String(rec(o.spec).storageClassName ?? ""),
    },
    ageCol,
  ],
  ConfigMap: [
    nameCol,
    {
      name: "Data",
      type: "integer",
      cell: (o) => Object.keys(rec(o.data)).length + Object.keys(rec(o.binaryData)).length,
    },
    ageCol,
  ],
  Secret: [
    nameCol,
    { name: "Type", type: "string", cell: (o) => String(o.type ?? "Opaque") },
    {
      name: "Data",
      type: "integer",
      cell: (o) => Object.keys(rec(o.data)).length,
    },
    ageCol,
  ],
  Ingress: [
    nameCol,
    {
      name: "Class",
      type: "string",
      cell: (o) => String(rec(o.spec).ingressClassName ?? "<none>"),
    },
    {
      name: "Hosts",
      type: "string",
      cell: (o) =>
        arr(rec(o.spec).rules)
          .map((r) => String(r.host ?? "*"))
          .join(",") || "*",
    },
    {
      name: "Address",
      type: "string",
      cell: (o) =>
        arr(rec(rec(o.status).loadBalancer).ingress)
          .map((i) => String(i.ip))
          .join(","),
    },
    {
      name: "Ports",
      type: "string",
      cell: (o) => (arr(rec(o.spec).tls).length ? "80, 443" : "80"),
    },
    ageCol,
  ],
  Certificate: [
    nameCol,
    {
      name: "Ready",
      type: "string",
      cell: (o) => String(arr(rec(o.status).conditions).find((c) => c.type === "Ready")?.status ?? ""),
    },
    {
      name: "Secret",
      type: "string",
      cell: (o) => String(rec(o.spec).secretName ?? ""),
    },
    ageCol,
  ],
};

export function toTable(info: ResourceInfo, items: KubeObject[], metadata: Record<string, unknown>, now: number): Record<string, unknown> {
  const cols = COLUMNS[info.kind] ?? [nameCol, ageCol];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.name === "Name" ? "name" : "",
      description: "",
      priority: c.priority ?? 0,
    })),
    rows: items.map((o) => ({
      cells: cols.map((c) => c.cell(o, now)),
      object: {
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: o.metadata,
      },
    })),
  };
}

import { KubeConfig } from "@kubernetes/client-node";
import { KubeEmulator } from "@minispod/kube-emulator";
import { KubeClient } from "./src/kube/client.js";
import { appliedFieldsHash } from "./src/kube/ownership.js";
const e = await KubeEmulator.start({ podReadyDelayMs: 0 });
e.seedFleet({ namespaces: 1000, deploymentsPerNamespace: 10, namespacePrefix: "b-", labels: (ns, i) => ({ "app.kubernetes.io/managed-by": "minispod", "minispod.io/instance-id": `${ns}-${i}` }) });
let t = performance.now();
for (let n = 0; n < 1000; n++) for (let i = 0; i < 10; i++)
  e.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `app-${i}-config`, namespace: `b-${n}`, labels: { "app.kubernetes.io/managed-by": "minispod", "minispod.io/instance-id": `b-${n}-${i}` } } as never, data: { url: "https://x" } });
console.log("seed cm", performance.now() - t);
const kc = new KubeConfig(); kc.loadFromString(e.kubeconfigYaml());
const c = new KubeClient({ kubeConfig: kc, requestTimeoutMs: 60000 });
await c.listMetadata("ConfigMap", "app.kubernetes.io/managed-by=minispod", { pageSize: 500 });
await c.listAll("Deployment", "app.kubernetes.io/managed-by=minispod", { pageSize: 500 });
for (let r = 0; r < 2; r++) {
t = performance.now(); const m = await c.listMetadata("ConfigMap", "app.kubernetes.io/managed-by=minispod", { pageSize: 500 }); console.log("meta cm", m.items.length, performance.now() - t);
t = performance.now(); for (const o of m.items) appliedFieldsHash(o.metadata, "minispod"); console.log("hash", performance.now() - t);
t = performance.now(); const d = await c.listAll("Deployment", "app.kubernetes.io/managed-by=minispod", { pageSize: 500 }); console.log("full deploy", d.items.length, performance.now() - t);
t = performance.now(); const f = await c.listAll("ConfigMap", "app.kubernetes.io/managed-by=minispod", { pageSize: 500 }); console.log("full cm", f.items.length, performance.now() - t);
t = performance.now();
let tok = ""; let n = 0;
do { const res = await fetch(`${e.url}/api/v1/configmaps?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dminispod&limit=500${tok ? `&continue=${encodeURIComponent(tok)}` : ""}`, { headers: { authorization: `Bearer ${e.token}`, accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" } }); const j = await res.json() as any; tok = j.metadata.continue ?? ""; n += j.items.length; } while (tok);
console.log("raw fetch meta cm", n, performance.now() - t);
}
await e.stop();

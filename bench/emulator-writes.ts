/**
 * The Kubernetes API emulator's own cost per write, as a namespace fills up: one namespace with a
 * ResourceQuota (as every tenant namespace has), and rounds of server-side applies of a ConfigMap, a
 * Secret, a Service and a Deployment (whose ReplicaSet, pod, endpoints and events the emulator's
 * controllers then create), each round settled before the next. The applies go through the emulator's
 * in-process API (`KubeEmulator.apply`: the same server-side apply, admission and quota code as a PATCH
 * over HTTP), so the CPU measured is the emulator's alone, not an HTTP client's or server's.
 *
 *   npm run bench:emulator                       # BENCH_ROUNDS=300, reported every 100 rounds
 *
 * Why it matters: the emulator stands in for the API server in every test of the control plane and in
 * `bench:provisioning`, where it shares the machine's two cores with the control plane.
 */
import os from "node:os";
import { KubeEmulator } from "@minispod/kube-emulator";
import { machineLine, runMain } from "./lib/common.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);
const EVERY = Number(process.env.BENCH_REPORT_EVERY ?? 100);

const cpuMsNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  const kube = await KubeEmulator.start({ podReadyDelayMs: 0 });
  const ns = "bench";
  kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  kube.apply({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "tenant", namespace: ns },
    spec: {
      hard: {
        pods: "100000",
        services: "100000",
        secrets: "100000",
        configmaps: "100000",
        persistentvolumeclaims: "100000",
        "requests.cpu": "100000",
        "requests.memory": "100000Gi",
        "limits.cpu": "100000",
        "limits.memory": "100000Gi",
        "requests.storage": "100000Gi",
      },
    },
  });
  await kube.settle();
  const resources = { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "10m", memory: "16Mi" } };
  const rows: string[] = [];
  let cpu0 = cpuMsNow();
  let t0 = performance.now();
  for (let i = 1; i <= ROUNDS; i++) {
    const app = `app-${i}`;
    kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `config-${i}`, namespace: ns }, data: { key: String(i) } });
    kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: `secret-${i}`, namespace: ns }, stringData: { key: String(i) } });
    kube.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: app, namespace: ns },
      spec: { selector: { app }, ports: [{ port: 80 }] },
    });
    kube.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: app, namespace: ns },
      spec: {
        selector: { matchLabels: { app } },
        template: { metadata: { labels: { app } }, spec: { containers: [{ name: "app", image: "busybox:1.36", resources }] } },
      },
    });
    await kube.settle();
    if (i % EVERY === 0) {
      const cpu = cpuMsNow();
      const now = performance.now();
      rows.push(
        `| ${i - EVERY + 1}-${i} | ${kube.listObjects("v1", "Pod", { namespace: ns }).length + kube.listObjects("v1", "Event", { namespace: ns }).length} | ${((cpu - cpu0) / EVERY).toFixed(2)} | ${((now - t0) / EVERY).toFixed(2)} |`,
      );
      cpu0 = cpu;
      t0 = now;
    }
  }
  await kube.stop();
  process.stdout.write(
    [
      "## The emulator's cost per write as a namespace fills up",
      "",
      machineLine(),
      `- command: \`npm run bench:emulator\` (BENCH_ROUNDS=${ROUNDS}, BENCH_REPORT_EVERY=${EVERY})`,
      "- one namespace with a ResourceQuota; per round, server-side applies of a ConfigMap, a Secret, a Service and a Deployment through the in-process API, then the controllers settle (ReplicaSet, pod, endpoints, events)",
      `- load average at the end ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
      "",
      "| rounds | pods + events in the namespace after them | emulator CPU ms per round | wall ms per round |",
      "| --- | --- | --- | --- |",
      ...rows,
      "",
    ].join("\n"),
  );
}

runMain(main);

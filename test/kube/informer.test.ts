/**
 * The informer (src/kube/informer.ts) against the Kubernetes API emulator over real HTTP: LIST then
 * WATCH sees creates, updates and deletes; a 410 Expired makes it LIST again; a watch the server
 * closes is opened again from the last resourceVersion; metadata-only informers never see Secret
 * data; stop() leaves no watch open. Every wait is on the informer's own state (`until`), never on time.
 */
import { KubeEmulator } from "@minispod/kube-emulator";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KubeClient, type KubeVerb, createKubeConfig } from "../../src/kube/client.js";
import { Informer } from "../../src/kube/informer.js";
import type { KubeObject } from "../../src/kube/objects.js";

let emulator: KubeEmulator;
let client: KubeClient;
const calls: { verb: KubeVerb; resource: string; statusCode?: number }[] = [];
const informers: Informer<unknown>[] = [];
const logger = { info: () => {}, warn: () => {} };

beforeAll(async () => {
  emulator = await KubeEmulator.start({ podReadyDelayMs: 0 });
  client = new KubeClient({
    kubeConfig: createKubeConfig({ mode: "emulated", kubeconfigYaml: emulator.kubeconfigYaml() }),
    requestTimeoutMs: 5000,
    retry: { maxAttempts: 1 },
    onCall: (verb, resource, result) => calls.push({ verb, resource, ...(result.statusCode ? { statusCode: result.statusCode } : {}) }),
  });
  for (const ns of ["inf-a", "inf-b"]) await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
});
afterEach(async () => {
  for (const i of informers.splice(0)) await i.stop();
});
afterAll(async () => {
  await emulator.stop();
});

interface Seen {
  name: string;
  value?: string;
  rv?: string;
  keys: string[];
}

function configMapInformer(metadataOnly = false, kind: "ConfigMap" | "Secret" = "ConfigMap") {
  const inf = new Informer<Seen>({
    client,
    kind,
    labelSelector: "informer-test=yes",
    metadataOnly,
    transform: (o) => ({
      name: o.metadata?.name ?? "",
      value: (o as { data?: Record<string, string> }).data?.v,
      rv: o.metadata?.resourceVersion,
      keys: Object.keys(o).sort(),
    }),
    logger,
    minBackoffMs: 10,
    maxBackoffMs: 50,
  });
  informers.push(inf as Informer<unknown>);
  return inf;
}

const cm = (ns: string, name: string, v: string, labels: Record<string, string> = { "informer-test": "yes" }) =>
  client.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, labels }, data: { v } } as KubeObject);
const names = (inf: Informer<Seen>) => [...inf.values()].map((s) => `${s.name}=${s.value ?? ""}`).sort();

describe("Informer", () => {
  it("lists, then watches: creates, updates and deletes across namespaces reach the cache; other labels never do", async () => {
    await cm("inf-a", "one", "1");
    await cm("inf-a", "unlabelled", "x", { other: "yes" });
    const inf = configMapInformer();
    expect(inf.synced).toBe(false);
    inf.start();
    await inf.until(() => inf.synced);
    expect(names(inf)).toEqual(["one=1"]);
    expect(inf.stats).toMatchObject({ lists: 1, watches: 1, relists: 0 });

    await cm("inf-b", "two", "2");
    await inf.until(() => inf.get("inf-b", "two") !== undefined);
    await cm("inf-a", "one", "1b");
    await inf.until(() => inf.get("inf-a", "one")?.value === "1b");
    const updated = await client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "inf-a", name: "one" });
    expect(inf.get("inf-a", "one")?.rv).toBe(updated.metadata?.resourceVersion);
    expect(await client.delete({ apiVersion: "v1", kind: "ConfigMap", namespace: "inf-b", name: "two" })).toBe(true);
    await inf.until(() => inf.get("inf-b", "two") === undefined);
    expect(names(inf)).toEqual(["one=1b"]);
    // The cache is as of the newest event (the DELETED one).
    expect(Number(inf.resourceVersion)).toBeGreaterThan(Number(updated.metadata?.resourceVersion));
    expect(inf.stats.lists).toBe(1);
  });

  it("a watch the server closes is opened again from the last resourceVersion, without a LIST and without losing changes", async () => {
    const inf = configMapInformer();
    inf.start();
    await inf.until(() => inf.synced);
    const before = inf.stats.watches;
    expect(emulator.closeWatches()).toBeGreaterThanOrEqual(1);
    // Written while no watch may be open: the next watch replays it from the last resourceVersion.
    await cm("inf-b", "while-closed", "w");
    await inf.until(() => inf.stats.watches > before && inf.synced && inf.get("inf-b", "while-closed") !== undefined);
    expect(inf.stats).toMatchObject({ lists: 1, relists: 0, failures: 0 });
  });

  it("410 Expired (history compacted past its resourceVersion) makes it LIST again and replace the cache", async () => {
    const inf = configMapInformer();
    inf.start();
    await inf.until(() => inf.synced);
    await cm("inf-a", "doomed", "d");
    await inf.until(() => inf.get("inf-a", "doomed") !== undefined);
    // The watch ends; before the informer can watch again (all in this tick), "doomed" is deleted,
    // another object is created, and the history is compacted past the informer's resourceVersion.
    expect(emulator.closeWatches()).toBeGreaterThanOrEqual(1);
    emulator.deleteObject("v1", "ConfigMap", "inf-a", "doomed");
    const created = { name: "after-compaction", namespace: "inf-a", labels: { "informer-test": "yes" } };
    emulator.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: created, data: { v: "c" } });
    emulator.compactHistory();
    await inf.until(() => inf.stats.relists === 1 && inf.synced);
    expect(inf.stats.lists).toBe(2);
    expect(names(inf)).toContain("after-compaction=c");
    expect(names(inf)).not.toContain("doomed=d");
  });

  it("current(): the cache and its resourceVersion; the watch keeps updating it, a LIST again replaces it instead", async () => {
    const inf = configMapInformer();
    inf.start();
    await inf.until(() => inf.synced);
    await cm("inf-a", "held", "1");
    await inf.until(() => inf.get("inf-a", "held") !== undefined);
    const held = inf.current();
    expect(held.resourceVersion).toBe(inf.resourceVersion);
    expect(held.objects.get("inf-a", "held")?.value).toBe("1");
    // A watch event after it was handed out reaches the same cache (only ever newer than its resourceVersion).
    await cm("inf-a", "held", "2");
    await inf.until(() => inf.get("inf-a", "held")?.value === "2");
    expect(held.objects.get("inf-a", "held")?.value).toBe("2");
    expect(Number(inf.resourceVersion)).toBeGreaterThan(Number(held.resourceVersion));
    // 410 and a LIST again: the informer has a new cache; the one handed out keeps what it had.
    expect(emulator.closeWatches()).toBeGreaterThanOrEqual(1);
    emulator.deleteObject("v1", "ConfigMap", "inf-a", "held");
    emulator.compactHistory();
    await inf.until(() => inf.stats.relists === 1 && inf.synced);
    expect(inf.get("inf-a", "held")).toBeUndefined();
    expect(inf.current().objects.get("inf-a", "held")).toBeUndefined();
    expect(held.objects.get("inf-a", "held")?.value).toBe("2");
  });

  it("metadata-only: Secrets arrive as PartialObjectMetadata (LIST and watch events), their data never", async () => {
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "listed", namespace: "inf-a", labels: { "informer-test": "yes" } },
      stringData: { v: "secret-listed" },
    } as KubeObject);
    const inf = configMapInformer(true, "Secret");
    inf.start();
    await inf.until(() => inf.synced);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "watched", namespace: "inf-a", labels: { "informer-test": "yes" } },
      stringData: { v: "secret-watched" },
    } as KubeObject);
    await inf.until(() => inf.get("inf-a", "watched") !== undefined);
    for (const name of ["listed", "watched"]) {
      expect(inf.get("inf-a", name)?.keys).toEqual(["apiVersion", "kind", "metadata"]);
      expect(inf.get("inf-a", name)?.value).toBeUndefined();
    }
  });

  it("a failing watch (server errors) marks it broken, not synced; it recovers by itself", async () => {
    const inf = configMapInformer();
    inf.start();
    await inf.until(() => inf.synced);
    emulator.faults.failPath(/^\/api\/v1\/configmaps$/, 503, 2);
    emulator.closeWatches();
    await inf.until(() => inf.state === "broken");
    expect(inf.synced).toBe(false);
    await inf.until(() => inf.synced);
    expect(inf.stats.failures).toBeGreaterThanOrEqual(1);
    await cm("inf-b", "after-recovery", "r");
    await inf.until(() => inf.get("inf-b", "after-recovery") !== undefined);
  });

  it("stop() closes its watch: the server has no open watch left and the informer is not synced", async () => {
    const inf = configMapInformer();
    inf.start();
    await inf.until(() => inf.synced);
    await inf.stop();
    expect(inf.state).toBe("stopped");
    expect(inf.synced).toBe(false);
    // The server sees the connection go (its side closes a moment later).
    await vi.waitFor(() => expect(emulator.openWatches).toBe(0));
    expect(calls.filter((c) => c.verb === "watch" && c.statusCode === undefined).length).toBeGreaterThan(0);
  });
});

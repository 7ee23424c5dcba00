// Watch (client-node Watch and raw streams), 410 Expired, namespace cascade, fault injection,
// the call recorder, and bulk seeding for benchmarks.
import { ApiException, CoreV1Api, KubeConfig, setHeaderOptions, Watch } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeEmulator } from "../src/index.js";

let kube: KubeEmulator;
let kc: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  kube = await KubeEmulator.start({
    podReadyDelayMs: 0,
    namespaceDeletionDelayMs: 60_000,
    watchHistorySize: 50,
  });
  kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfigYaml());
  core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "w" } } });
});
afterAll(async () => {
  await kube.stop();
});

const auth = () => ({ authorization: `Bearer ${kube.token}` });

describe("watch", () => {
  it("streams ADDED/MODIFIED/DELETED from a resourceVersion, filtered by label selector", async () => {
    const list = await core.listNamespacedConfigMap({ namespace: "w" });
    const events: [string, string][] = [];
    let finished!: (err: unknown) => void;
    const done = new Promise<unknown>((resolve) => {
      finished = resolve;
    });
    const ctl = await new Watch(kc).watch(
      "/api/v1/namespaces/w/configmaps",
      {
        resourceVersion: list.metadata?.resourceVersion,
        labelSelector: "watched=yes",
      },
      (type, obj: { metadata: { name: string } }) => {
        events.push([type, obj.metadata.name]);
      },
      (err) => finished(err),
    );
    const merge = setHeaderOptions("Content-Type", "application/merge-patch+json");
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "a", labels: { watched: "yes" } } },
    });
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "ignored" } },
    });
    await core.patchNamespacedConfigMap({ name: "a", namespace: "w", body: { data: { x: "1" } } }, merge);
    // Label changed: a watcher filtering on it sees the object leave (DELETED).
    await core.patchNamespacedConfigMap(
      {
        name: "a",
        namespace: "w",
        body: { metadata: { labels: { watched: "no" } } },
      },
      merge,
    );
    await core.patchNamespacedConfigMap(
      {
        name: "ignored",
        namespace: "w",
        body: { metadata: { labels: { watched: "yes" } } },
      },
      merge,
    );
    await core.deleteNamespacedConfigMap({ name: "ignored", namespace: "w" });
    await new Promise((r) => setTimeout(r, 100));
    ctl.abort();
    await done;
    expect(events).toEqual([
      ["ADDED", "a"],
      ["MODIFIED", "a"],
      ["DELETED", "a"],
      ["ADDED", "ignored"],
      ["DELETED", "ignored"],
    ]);
  });

  it("replays history after an old resourceVersion, and sends ERROR 410 Expired when it is too old", async () => {
    const rv = Number(kube.resourceVersion);
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "replayed" } },
    });
    const replay = await fetch(`${kube.url}/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=1`, {
      headers: auth(),
    });
    const lines = (await replay.text())
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            object: { metadata: { name: string } };
          },
      );
    expect(lines.map((l) => [l.type, l.object.metadata.name])).toEqual([["ADDED", "replayed"]]);

    kube.compactHistory();
    const res = await fetch(`${kube.url}/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${rv}`, { headers: auth() });
    expect(res.status).toBe(200);
    const [event] = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(event).toEqual({
      type: "ERROR",
      object: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `too old resource version: ${rv} (${kube.resourceVersion})`,
        reason: "Expired",
        code: 410,
      },
    });
  });

  it("sends the current objects as ADDED when no resourceVersion is given", async () => {
    const res = await fetch(`${kube.url}/api/v1/namespaces/w/configmaps?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dreplayed`, {
      headers: auth(),
    });
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            object: { kind: string; metadata: { name: string } };
          },
      );
    expect(lines.map((l) => [l.type, l.object.kind, l.object.metadata.name])).toEqual([["ADDED", "ConfigMap", "replayed"]]);
  });
});

describe("metadata-only watch, bookmarks, closed streams", () => {
  /** Reads a watch stream's events until `n` have arrived (or the stream ends), then aborts it. */
  async function events(res: Response, n: number): Promise<Array<{ type: string; object: Record<string, unknown> }>> {
    const out: Array<{ type: string; object: Record<string, unknown> }> = [];
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buf = "";
    while (out.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        out.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    }
    await reader.cancel();
    return out;
  }
  const METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

  it("sends every event's object as PartialObjectMetadata when asked (client-go's metadata watch): no Secret data", async () => {
    const rv = kube.resourceVersion;
    const res = await fetch(`${kube.url}/api/v1/namespaces/w/secrets?watch=true&resourceVersion=${rv}`, {
      headers: { ...auth(), accept: `${METADATA},application/json` },
    });
    expect(res.status).toBe(200);
    await core.createNamespacedSecret({ namespace: "w", body: { metadata: { name: "s1", labels: { a: "b" } }, stringData: { k: "v" } } });
    await core.deleteNamespacedSecret({ name: "s1", namespace: "w" });
    const got = await events(res, 2);
    expect(got.map((e) => [e.type, e.object.kind, e.object.apiVersion, (e.object.metadata as { name: string }).name])).toEqual([
      ["ADDED", "PartialObjectMetadata", "meta.k8s.io/v1", "s1"],
      ["DELETED", "PartialObjectMetadata", "meta.k8s.io/v1", "s1"],
    ]);
    for (const e of got) expect(Object.keys(e.object).sort()).toEqual(["apiVersion", "kind", "metadata"]);
    expect((got[0]?.object.metadata as { labels?: Record<string, string> } | undefined)?.labels).toEqual({ a: "b" });
  });

  it("refuses a watch that accepts only the list form (406 NotAcceptable): a watch event is one object", async () => {
    const res = await fetch(`${kube.url}/api/v1/namespaces/w/secrets?watch=true`, {
      headers: { ...auth(), accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" },
    });
    expect(res.status).toBe(406);
    expect(((await res.json()) as { reason: string }).reason).toBe("NotAcceptable");
  });

  it("sends BOOKMARK events with the current resourceVersion only to watches that allow them", async () => {
    const k = await KubeEmulator.start({ watchBookmarkIntervalMs: 20 });
    try {
      const h = { authorization: `Bearer ${k.token}` };
      const rv = k.resourceVersion;
      const withMarks = await fetch(`${k.url}/api/v1/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, { headers: h });
      const meta = await fetch(`${k.url}/api/v1/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, {
        headers: { ...h, accept: METADATA },
      });
      const [plain] = await events(withMarks, 1);
      expect(plain).toEqual({ type: "BOOKMARK", object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: rv } } });
      const [partial] = await events(meta, 1);
      expect(partial).toEqual({
        type: "BOOKMARK",
        object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: rv } },
      });
      // Without allowWatchBookmarks: the stream ends at its timeout with no event at all.
      const none = await fetch(`${k.url}/api/v1/configmaps?watch=true&timeoutSeconds=1&resourceVersion=${rv}`, { headers: h });
      expect(await none.text()).toBe("");
    } finally {
      await k.stop();
    }
  });

  it("closeWatches ends open watch streams cleanly (as an API server restart does)", async () => {
    const res = await fetch(`${kube.url}/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${kube.resourceVersion}`, {
      headers: auth(),
    });
    expect(res.status).toBe(200);
    const body = res.text();
    expect(kube.closeWatches()).toBeGreaterThanOrEqual(1);
    expect(await body).toBe("");
  });
});

describe("namespace deletion", () => {
  it("goes Terminating, refuses creates with 403, then cascades and disappears", async () => {
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedConfigMap({
      namespace: "doomed",
      body: { metadata: { name: "c" } },
    });
    await core.createNamespacedSecret({
      namespace: "doomed",
      body: { metadata: { name: "s" }, stringData: { k: "v" } },
    });
    const deleted = await core.deleteNamespace({ name: "doomed" });
    expect((deleted as { status?: { phase?: string } }).status?.phase).toBe("Terminating");
    const ns = await core.readNamespace({ name: "doomed" });
    expect(ns.status?.phase).toBe("Terminating");
    expect(ns.metadata?.deletionTimestamp).toBeDefined();

    const err = await core
      .createNamespacedConfigMap({
        namespace: "doomed",
        body: { metadata: { name: "late" } },
      })
      .catch((e: ApiException<string>) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect(JSON.parse((err as ApiException<string>).body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
      reason: "Forbidden",
      details: {
        name: "late",
        kind: "configmaps",
        causes: [
          {
            reason: "NamespaceTerminating",
            message: "unable to create new content in namespace doomed because it is being terminated",
            field: "metadata.namespace",
          },
        ],
      },
      code: 403,
    });

    expect(kube.finalizeNamespaces()).toBe(1);
    expect(kube.listObjects("v1", "ConfigMap", { namespace: "doomed" })).toEqual([]);
    expect(kube.listObjects("v1", "Secret", { namespace: "doomed" })).toEqual([]);
    const gone = await core.readNamespace({ name: "doomed" }).catch((e: ApiException<string>) => e.code);
    expect(gone).toBe(404);
  });

  it("finalizes on its own after the configured delay", async () => {
    const quick = await KubeEmulator.start({ namespaceDeletionDelayMs: 20 });
    try {
      quick.cluster.create(quick.cluster.infoOf({ apiVersion: "v1", kind: "Namespace" }), undefined, { metadata: { name: "tmp" } });
      quick.deleteObject("v1", "Namespace", undefined, "tmp");
      expect(quick.getObject("v1", "Namespace", undefined, "tmp")?.status).toEqual({ phase: "Terminating" });
      await new Promise((r) => setTimeout(r, 80));
      expect(quick.getObject("v1", "Namespace", undefined, "tmp")).toBeUndefined();
    } finally {
      await quick.stop();
    }
  });
});

describe("fault injection and the call recorder", () => {
  it("adds latency, fails paths, errors at a rate, hangs, resets and refuses connections", async () => {
    kube.recorder.reset();
    const t0 = performance.now();
    const id = kube.faults.latency(150, /\/configmaps$/);
    await core.listNamespacedConfigMap({ namespace: "w" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    kube.faults.remove(id);

    kube.faults.failPath(/\/secrets/, 503, 1);
    const code = await core.listNamespacedSecret({ namespace: "w" }).then(
      () => 200,
      (e: ApiException<string>) => e.code,
    );
    expect(code).toBe(503);
    expect((await core.listNamespacedSecret({ namespace: "w" })).items).toBeDefined(); // `times: 1` retired the rule

    kube.faults.errorRate(0.5, 500, "/api/v1/namespaces/w/services");
    const codes: number[] = [];
    for (let i = 0; i < 40; i++) {
      codes.push(
        await core.listNamespacedService({ namespace: "w" }).then(
          () => 200,
          (e: ApiException<string>) => e.code,
        ),
      );
    }
    expect(codes.filter((c) => c === 500).length).toBeGreaterThan(5);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThan(5);
    await kube.faults.reset();

    kube.faults.timeout("/api/v1/namespaces/w/pods", 1);
    const hung = await fetch(`${kube.url}/api/v1/namespaces/w/pods`, {
      headers: auth(),
      signal: AbortSignal.timeout(200),
    }).catch((e: Error) => e.name);
    expect(hung).toBe("TimeoutError");

    kube.faults.resetConnections("/api/v1/namespaces/w/pods", 1);
    const reset = await fetch(`${kube.url}/api/v1/namespaces/w/pods`, {
      headers: auth(),
    }).catch((e: Error) => e.message);
    expect(reset).toBe("fetch failed");

    await kube.faults.outage("unavailable");
    const unavailable = await fetch(`${kube.url}/api/v1/namespaces`, {
      headers: auth(),
    });
    expect(unavailable.status).toBe(503);
    expect(await unavailable.json()).toMatchObject({
      reason: "ServiceUnavailable",
      code: 503,
    });

    await kube.faults.outage("refuse");
    const refused = await fetch(`${kube.url}/api/v1/namespaces`, {
      headers: auth(),
    }).catch((e: Error & { cause?: { code?: string } }) => e.cause?.code);
    expect(refused).toBe("ECONNREFUSED");
    await kube.faults.reset();
    expect((await fetch(`${kube.url}/api/v1/namespaces`, { headers: auth() })).status).toBe(200);

    const faulted = kube.recorder.calls().filter((c) => c.faulted);
    expect(faulted.length).toBeGreaterThan(0);
    expect(kube.recorder.count({ verb: "list", resource: "secrets" })).toBe(2);
    expect(kube.recorder.calls({ verb: "list", resource: "secrets" })[0]).toMatchObject({
      method: "GET",
      path: "/api/v1/namespaces/w/secrets",
      status: 503,
      namespace: "w",
      faulted: true,
    });
  });
});

describe("bulk seeding for benchmarks", () => {
  it("ends open watches, and a watcher resuming from its resourceVersion gets 410 Expired (it re-lists)", async () => {
    const small = await KubeEmulator.start();
    try {
      const rv = small.resourceVersion;
      const headers = { authorization: `Bearer ${small.token}` };
      const open = await fetch(`${small.url}/apis/apps/v1/deployments?watch=true&resourceVersion=${rv}`, { headers });
      expect(open.status).toBe(200);
      const body = open.text();
      small.seedFleet({ namespaces: 2, deploymentsPerNamespace: 2 });
      // The seeded objects bypassed the watch history: the stream ends instead of missing them.
      expect(await body).toBe("");
      const resumed = await fetch(`${small.url}/apis/apps/v1/deployments?watch=true&resourceVersion=${rv}`, { headers });
      const [event] = (await resumed.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { type: string; object: { code: number; reason: string } });
      expect(event).toMatchObject({ type: "ERROR", object: { code: 410, reason: "Expired" } });
      const list = (await (await fetch(`${small.url}/apis/apps/v1/deployments`, { headers })).json()) as { items: unknown[] };
      expect(list.items).toHaveLength(4);
    } finally {
      await small.stop();
    }
  });

  it("seeds 10,000 deployments with pods and lists them with selectors and pagination", async () => {
    const big = await KubeEmulator.start();
    try {
      const seeded = big.seedFleet({
        namespaces: 100,
        deploymentsPerNamespace: 100,
        labels: (ns, i) => ({
          "app.kubernetes.io/managed-by": "minispod",
          "minispod.io/instance-id": `${ns}-${i}`,
          tier: i % 2 ? "odd" : "even",
        }),
      });
      expect(seeded).toMatchObject({ deployments: 10_000, pods: 10_000 });
      const bkc = new KubeConfig();
      bkc.loadFromString(big.kubeconfigYaml());
      const bcore = bkc.makeApiClient(CoreV1Api);
      big.recorder.reset();
      let total = 0;
      let cont: string | undefined;
      const started = performance.now();
      do {
        const page = await bcore.listPodForAllNamespaces({
          labelSelector: "app.kubernetes.io/managed-by=minispod,tier=odd",
          limit: 500,
          _continue: cont,
        });
        total += page.items.length;
        expect(page.items.every((p) => p.status?.phase === "Running")).toBe(true);
        cont = page.metadata?._continue || undefined;
      } while (cont);
      const elapsed = performance.now() - started;
      expect(total).toBe(5000);
      expect(big.recorder.count({ verb: "list", resource: "pods" })).toBe(10);
      expect(elapsed).toBeLessThan(10_000);
      // A seeded deployment is what the controller would produce: reconciling it changes nothing.
      const before = big.getObject("apps/v1", "Deployment", "fleet-7", "app-3")?.metadata.resourceVersion;
      big.controllers.reconcileDeployment("fleet-7", "app-3");
      expect(big.getObject("apps/v1", "Deployment", "fleet-7", "app-3")?.metadata.resourceVersion).toBe(before);
      expect(
        big.listObjects("v1", "Pod", {
          namespace: "fleet-7",
          labelSelector: "minispod.io/instance-id=fleet-7-3",
        }),
      ).toHaveLength(1);
    } finally {
      await big.stop();
    }
  });
});

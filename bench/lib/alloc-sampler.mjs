/**
 * Loaded into the API process by bench/api-memory.ts and bench/api-load.ts (BENCH_ALLOC=1, `node
 * --import <this file>`; their side is bench/lib/alloc.ts): V8's sampling heap profiler, started and
 * stopped over the benchmark's IPC channel. It counts objects a major collection freed; those a minor
 * one (a scavenge) freed too, unless "start" says `minor: false`. On "stop" it answers the bytes
 * sampled meanwhile (estimated from one sample per 32 KiB) and the allocation sites that allocated most
 * (the functions' own allocations).
 * Plain JavaScript so that it loads into the compiled server as into `npm start`.
 */
import inspector from "node:inspector";

const session = new inspector.Session();
session.connect();
const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));

function summarize(profile, top) {
  const bySite = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    const file = f.url.replace(/^.*\/node_modules\//, "").replace(/^file:\/\/.*?\/(dist|src)\//, "$1/");
    const site = `${f.functionName || "(anonymous)"} ${file || "(native)"}:${f.lineNumber + 1}`;
    total += node.selfSize;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return {
    totalBytes: total,
    sites: [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([site, bytes]) => ({ site, bytes })),
  };
}

process.on("message", (msg) => {
  if (msg?.type === "alloc-start") {
    void post("HeapProfiler.enable")
      .then(() =>
        post("HeapProfiler.startSampling", {
          samplingInterval: 32768,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: msg.minor !== false,
        }),
      )
      .then(() => process.send?.({ type: "alloc-started" }));
  } else if (msg?.type === "alloc-stop") {
    void post("HeapProfiler.stopSampling").then((r) => process.send?.({ type: "alloc-stopped", ...summarize(r.profile, msg.top ?? 15) }));
  }
});
// The channel must not keep the server alive past its own shutdown.
process.channel?.unref();

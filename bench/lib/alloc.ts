/**
 * The benchmark's side of bench/lib/alloc-sampler.mjs (V8's sampling heap profiler, loaded into the API
 * process with `--import` and driven over an IPC channel): the node arguments that load it, the stdio
 * entry for the channel, and one sampled stretch of work.
 */
import type { ChildProcess } from "node:child_process";

export interface AllocationSample {
  /** Bytes sampled (one sample per 32 KiB, scaled): see `sampleAllocations`'s `minor`. */
  totalBytes: number;
  /** The allocation sites (function, file, line) that allocated most, their own allocations only. */
  sites: Array<{ site: string; bytes: number }>;
}

/** Node arguments that load the sampler into a child process. */
export function allocSamplerArgs(): string[] {
  return ["--import", new URL("./alloc-sampler.mjs", import.meta.url).href];
}

/** The sampler's answer of `type` (any other message is left to its own waiter). */
function reply<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise<T>((resolve) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      resolve(m as T);
    };
    child.on("message", onMessage);
  });
}

/**
 * Samples what `child` allocates while `work` runs. `minor: true` (the default) counts every object,
 * those a scavenge freed too: what the work allocates. `minor: false` leaves out the objects a
 * scavenge freed, so it counts what survived the young generation (promoted to the old one, even if a
 * major collection freed it later) or was allocated there directly: what grows the old generation.
 */
export async function sampleAllocations<T>(
  child: ChildProcess,
  work: () => Promise<T>,
  opts: { minor?: boolean; top?: number } = {},
): Promise<{ result: T; sample: AllocationSample }> {
  const started = reply(child, "alloc-started");
  child.send({ type: "alloc-start", minor: opts.minor ?? true });
  await started;
  const result = await work();
  const stopped = reply<AllocationSample>(child, "alloc-stopped");
  child.send({ type: "alloc-stop", top: opts.top ?? 15 });
  return { result, sample: await stopped };
}

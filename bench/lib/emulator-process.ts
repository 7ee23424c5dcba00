/**
 * The Kubernetes API emulator as its own process for a benchmark — what `npm run emulator` (the
 * package's CLI) does, plus seeding on request: the benchmark's fleet is written straight into this
 * process's store (bench/lib/health-fleet.ts, KubeEmulator.seedFleet + in-process applies), which the
 * CLI cannot do from outside. A bench fixture: spawned by a benchmark with an IPC channel, never shipped.
 *
 *   node --import tsx bench/lib/emulator-process.ts <kubeconfig file>     (spawned with stdio "ipc")
 *
 * Messages (process.send), each answered with one message of the same type (or {type: "error"}):
 *   started by itself                -> {type: "ready", url}
 *   {type: "seed", dbUrl, count, prefix, credentialsKey, perNamespace?}
 *        N converged instances in the database and their objects here (bench/lib/health-fleet.ts), and a
 *        credentials row per instance (so the reconciler's adoption pass has nothing to read); the fleet
 *        users' tenant baselines are recorded as applied by seedHealthFleet (the tenant sync applies nothing)
 *                                     -> {type: "seeded", ms, instances, namespaces}
 *   {type: "counts"}                 -> {type: "counts", byVerb: {verb: n}, byCall: {"verb resource": n}, total}
 *                                       (HTTP calls served since the start or the last reset)
 *   {type: "reset"}                  -> {type: "reset"} (the call recorder emptied)
 * Exits when the parent disconnects or on SIGTERM.
 */
import { KubeEmulator } from "@minispod/kube-emulator";
import { generateCredentials } from "../../src/kube/templates/index.js";
import { InstanceCredentialsStore } from "../../src/modules/instances/instance-credentials.js";
import { CredentialsCipher } from "../../src/platform/credentials-cipher.js";
import { createDatabase } from "../../src/platform/db/index.js";
import { seedHealthFleet } from "./health-fleet.js";

export type EmulatorRequest =
  | { type: "seed"; dbUrl: string; count: number; prefix: string; credentialsKey: string; perNamespace?: number }
  | { type: "counts" }
  | { type: "reset" };
export type EmulatorReply =
  | { type: "ready"; url: string }
  | { type: "seeded"; ms: number; instances: number; namespaces: number }
  | { type: "counts"; byVerb: Record<string, number>; byCall: Record<string, number>; total: number }
  | { type: "reset" }
  | { type: "error"; message: string };

const send = (m: EmulatorReply) => process.send?.(m);

async function seed(m: Extract<EmulatorRequest, { type: "seed" }>, emulator: KubeEmulator): Promise<EmulatorReply> {
  const t0 = performance.now();
  const db = await createDatabase({ url: m.dbUrl, poolSize: 10 });
  try {
    const fleet = await seedHealthFleet(db.prisma, emulator, m.count, { prefix: m.prefix, perNamespace: m.perNamespace });
    const store = new InstanceCredentialsStore(db.prisma, new CredentialsCipher(m.credentialsKey));
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = next++; i < fleet.instanceIds.length; i = next++) {
          await store.storeIfAbsent(fleet.instanceIds[i] as string, generateCredentials("ghost"));
        }
      }),
    );
    return { type: "seeded", ms: performance.now() - t0, instances: fleet.instanceIds.length, namespaces: fleet.namespaces.length };
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  const kubeconfig = process.argv[2];
  if (!kubeconfig || !process.send) throw new Error("usage: spawned with an IPC channel, argument: <kubeconfig file>");
  const emulator = await KubeEmulator.start({ podReadyDelayMs: 0 });
  await emulator.writeKubeconfig(kubeconfig);
  const stop = () => void emulator.stop().finally(() => process.exit(0));
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
  process.on("message", (m: EmulatorRequest) => {
    const answer = async (): Promise<EmulatorReply> => {
      if (m.type === "seed") return seed(m, emulator);
      if (m.type === "reset") {
        emulator.recorder.reset();
        return { type: "reset" };
      }
      const byVerb: Record<string, number> = {};
      const byCall: Record<string, number> = {};
      const calls = emulator.recorder.calls();
      for (const c of calls) {
        byVerb[c.verb ?? "?"] = (byVerb[c.verb ?? "?"] ?? 0) + 1;
        const call = `${c.verb} ${c.resource ?? ""}`.trim();
        byCall[call] = (byCall[call] ?? 0) + 1;
      }
      return { type: "counts", byVerb, byCall, total: calls.length };
    };
    answer().then(send, (err: unknown) =>
      send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  send({ type: "ready", url: emulator.url });
}

main().catch((err: unknown) => {
  process.stderr.write(`emulator-process: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

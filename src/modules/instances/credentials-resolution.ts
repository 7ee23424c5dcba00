/**
 * Resolving an instance's credentials with the events that go with it (adoption, loss): shared by the
 * reconciler's apply, its adoption pass (src/loops/reconciler/credentials-adoption.ts) and the
 * credentials endpoint.
 */
import type { PrismaClient } from "../../platform/db/index.js";
import type { InstanceCluster } from "./instance-cluster.js";
import { CredentialsLostError, type InstanceCredentialsStore } from "./instance-credentials.js";
import { templateOf } from "./instance-manifests.js";
import * as state from "./instance-state.js";

/**
 * An instance's credentials to render into its Secret (`InstanceCredentialsStore.resolve`), with the
 * instance events that go with it: CREDENTIALS_ADOPTED when the live Secret was adopted, and
 * CREDENTIALS_LOST (once) before a `CredentialsLostError` is rethrown. The reconciler's apply, the
 * adoption pass and the credentials endpoint (an instance the pass has not reached yet) all come here.
 */
export async function resolveCredentials(
  o: { prisma: PrismaClient; cluster: InstanceCluster; credentials: InstanceCredentialsStore },
  inst: { id: string; namespace: string; appliedGeneration: number; service: Parameters<typeof templateOf>[0] },
  secretName: string,
): Promise<Record<string, string>> {
  try {
    const r = await o.credentials.resolve({
      id: inst.id,
      template: templateOf(inst.service),
      appliedGeneration: inst.appliedGeneration,
      secretName,
      readLiveSecret: () => o.cluster.readCredentials(inst.namespace, secretName),
    });
    if (r.source === "adopted") {
      await state.recordEvent(o.prisma, inst.id, {
        type: "CREDENTIALS_ADOPTED",
        message: `Stored the credentials of Secret ${secretName} (encrypted); the Secret is rendered from them from now on`,
      });
    }
    return r.values;
  } catch (err) {
    if (err instanceof CredentialsLostError) await recordLostOnce(o.prisma, inst.id, err);
    throw err;
  }
}

/** One CREDENTIALS_LOST event per instance (the condition is rechecked every pass until it is resolved). */
export async function recordLostOnce(prisma: PrismaClient, instanceId: string, err: CredentialsLostError): Promise<void> {
  const already = await prisma.instanceEvent.findFirst({ where: { instanceId, type: "CREDENTIALS_LOST" }, select: { id: true } });
  if (already) return;
  await state.recordEvent(prisma, instanceId, { type: "CREDENTIALS_LOST", level: "ERROR", message: err.message });
}

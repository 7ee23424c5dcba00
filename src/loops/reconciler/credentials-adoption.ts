/**
 * Instances provisioned before credentials were kept in the database adopt their live Secret's values
 * once: the pass reads each such instance's Secret and stores its values (insert-if-absent), so the
 * credentials endpoint and every later apply use them. An instance with neither is left alone here
 * (recorded once as CREDENTIALS_LOST): its next apply fails it without generating anything.
 * Runs from the reconciler's loop at most once per interval; a no-op (one query) once all are adopted.
 */
import { KubeError } from "../../kube/kube-errors.js";
import { names } from "../../kube/templates/index.js";
import type { InstanceCluster } from "../../modules/instances/instance-cluster.js";
import { CredentialsLostError, type InstanceCredentialsStore } from "../../modules/instances/instance-credentials.js";
import { templateOf } from "../../modules/instances/instance-manifests.js";
import * as state from "../../modules/instances/instance-state.js";
import type { PrismaClient } from "../../platform/db/index.js";
import type { Logger } from "../../platform/logger.js";

export interface CredentialsAdoptionOptions {
  prisma: PrismaClient;
  cluster: InstanceCluster;
  credentials: InstanceCredentialsStore;
  logger: Logger;
  /** `adoptAll` runs at most once per this interval from `maybeAdoptAll`. */
  intervalMs: number;
  batchSize?: number;
}

export class CredentialsAdoption {
  private last = 0;

  constructor(private readonly o: CredentialsAdoptionOptions) {}

  /** Adopts the live Secret of every instance that has no stored credentials. Returns the ids adopted. */
  async adoptAll(): Promise<string[]> {
    const adopted: string[] = [];
    let after = "";
    for (;;) {
      const batch = await this.o.credentials.unadopted(this.o.batchSize ?? 100, after);
      if (!batch.length) return adopted;
      for (const inst of batch) {
        after = inst.id;
        try {
          await resolveCredentials(this.o, inst, names(inst.k8sName).secret);
          adopted.push(inst.id);
        } catch (err) {
          if (err instanceof CredentialsLostError) continue; // recorded once; its next apply fails it
          this.o.logger.warn({ err: (err as Error).message, instanceId: inst.id }, "credentials adoption failed; will retry");
          // An unreachable cluster fails the same way for every instance: end the pass.
          if (err instanceof KubeError && err.transient) return adopted;
        }
      }
    }
  }

  /** `adoptAll`, at most once per interval. */
  async maybeAdoptAll(): Promise<void> {
    if (Date.now() - this.last < this.o.intervalMs) return;
    this.last = Date.now();
    await this.adoptAll();
  }
}

/** One CREDENTIALS_LOST event per instance (the condition is rechecked every pass until it is resolved). */
/**
 * An instance's credentials to render into its Secret (`InstanceCredentialsStore.resolve`), with the
 * instance events that go with it: CREDENTIALS_ADOPTED when the live Secret was adopted, and
 * CREDENTIALS_LOST (once) before a `CredentialsLostError` is rethrown. The reconciler's apply and the
 * adoption pass both come here.
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

export async function recordLostOnce(prisma: PrismaClient, instanceId: string, err: CredentialsLostError): Promise<void> {
  const already = await prisma.instanceEvent.findFirst({ where: { instanceId, type: "CREDENTIALS_LOST" }, select: { id: true } });
  if (already) return;
  await state.recordEvent(prisma, instanceId, { type: "CREDENTIALS_LOST", level: "ERROR", message: err.message });
}

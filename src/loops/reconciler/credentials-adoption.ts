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
import { resolveCredentials } from "../../modules/instances/credentials-resolution.js";
import { CredentialsLostError, type InstanceCredentialsStore } from "../../modules/instances/instance-credentials.js";
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

/**
 * Billing's one way of changing a subscription's instances: set their desired state, bump the
 * generation (the reconciler's cue that the spec changed) and record an event, inside the caller's
 * transaction. Returns the ids to signal after commit (`InstanceSignal.instanceChanged`).
 */
import type { DesiredState, Prisma as PrismaNs } from "../../generated/prisma/client.js";
import type { Tx } from "../../platform/db/index.js";

export async function setSubscriptionInstancesDesiredState(
  tx: Tx,
  subscriptionId: string,
  change: {
    from: DesiredState[];
    to: DesiredState;
    eventType: string;
    level?: "INFO" | "WARN";
    message: string;
    data?: PrismaNs.InputJsonValue;
  },
): Promise<string[]> {
  const instances = await tx.instance.findMany({
    where: { subscriptionId, status: { not: "TERMINATED" }, desiredState: { in: change.from } },
    select: { id: true },
  });
  for (const { id } of instances) {
    await tx.instance.update({ where: { id }, data: { desiredState: change.to, generation: { increment: 1 } } });
    await tx.instanceEvent.create({
      data: {
        instanceId: id,
        type: change.eventType,
        level: change.level ?? "INFO",
        message: change.message,
        data: change.data ?? { subscriptionId },
      },
    });
  }
  return instances.map((i) => i.id);
}

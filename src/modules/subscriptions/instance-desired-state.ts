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

/**
 * Cancels a subscription and asks its live instances to terminate, inside the caller's transaction.
 * One rule for every way a subscription ends (the user cancels, the grace period runs out).
 * Returns the instance ids to signal after commit.
 */
export async function cancelSubscriptionAndTerminate(
  tx: Tx,
  subscriptionId: string,
  change: { now: Date; cancelReason: string; reasonCode: string; message: string; level?: "INFO" | "WARN" },
): Promise<string[]> {
  await tx.subscription.update({
    where: { id: subscriptionId },
    data: { status: "CANCELLED", cancelledAt: change.now, cancelReason: change.cancelReason },
  });
  return setSubscriptionInstancesDesiredState(tx, subscriptionId, {
    from: ["RUNNING", "SUSPENDED"],
    to: "TERMINATED",
    eventType: "TERMINATION_REQUESTED",
    level: change.level,
    message: change.message,
    data: { subscriptionId, reason: change.reasonCode },
  });
}

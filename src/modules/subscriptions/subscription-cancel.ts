/**
 * Cancels a subscription and asks its live instances to terminate, inside the caller's transaction.
 * One rule for every way a subscription ends (the user cancels, the grace period runs out).
 * Returns the instance ids to signal after commit (`InstanceSignal.instanceChanged`).
 */
import { setDesiredStateOfSubscription } from "../instances/instance-state.js";
import type { Tx } from "../../platform/db/index.js";

export async function cancelSubscriptionAndTerminate(
  tx: Tx,
  subscriptionId: string,
  change: { now: Date; cancelReason: string; reasonCode: string; message: string; level?: "INFO" | "WARN" },
): Promise<string[]> {
  await tx.subscription.update({
    where: { id: subscriptionId },
    data: { status: "CANCELLED", cancelledAt: change.now, cancelReason: change.cancelReason },
  });
  return setDesiredStateOfSubscription(tx, subscriptionId, {
    from: ["RUNNING", "SUSPENDED", "STOPPED"],
    to: "TERMINATED",
    eventType: "TERMINATION_REQUESTED",
    level: change.level,
    message: change.message,
    data: { subscriptionId, reason: change.reasonCode },
  });
}

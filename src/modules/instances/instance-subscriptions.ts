/**
 * What the instances module needs from an instance's subscription. `SubscriptionsService`
 * implements it; it is declared here so that instances never import subscriptions (subscriptions
 * create and change instances, not the other way round).
 */
import type { Tx } from "../../platform/db/index.js";
import type { AuthIdentity } from "../../platform/http/auth.js";
import type { IdempotentResponse } from "../../platform/idempotency.js";
import type { InstanceView } from "./instances.view.js";

/** What buying a plan answers: the subscription as the API shows it, and its new instance. */
export interface Purchase {
  subscription: object;
  instance: InstanceView;
}

export interface PlanChange {
  userId: string;
  subscription: { id: string; currentPeriodStart: Date; currentPeriodEnd: Date };
  instance: { id: string; name: string; generation: number };
  fromPlan: { slug: string; monthlyPriceCredits: number };
  toPlan: { id: string; slug: string; monthlyPriceCredits: number };
  now: Date;
}

export interface InstanceSubscriptions {
  /** Buys a plan and creates its instance (POST /api/subscriptions), replaying a repeated idempotency key. */
  create(
    caller: AuthIdentity,
    body: { planId: string; instanceName: string },
    idempotencyKey?: string,
  ): Promise<IdempotentResponse<Purchase>>;
  /**
   * Inside the caller's transaction (user row locked): moves the subscription to the new plan and
   * settles the pro-rata price difference. Returns the credits moved (negative: charged; 0: none).
   */
  changePlan(tx: Tx, change: PlanChange): Promise<number>;
  /** Cancels the subscription: its instances terminate, unused whole days are refunded. */
  cancel(caller: AuthIdentity, subscriptionId: string): Promise<unknown>;
}

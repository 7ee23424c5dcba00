import type { Request, Response } from "express";
import { caller } from "../../platform/http/auth.js";
import { input } from "../../platform/http/request-validation.js";
import { IDEMPOTENCY_HEADER, idempotencyKeyFrom } from "../../platform/idempotency.js";
import type { SubscriptionCreateReq, SubscriptionListQuery } from "./subscriptions.schema.js";
import type { SubscriptionsService } from "./subscriptions.service.js";

export class SubscriptionsController {
  constructor(private readonly subscriptions: SubscriptionsService) {}

  create = async (req: Request, res: Response) => {
    const key = idempotencyKeyFrom(req.headers[IDEMPOTENCY_HEADER.toLowerCase()], false);
    const r = await this.subscriptions.create(caller(res), input<SubscriptionCreateReq>(res).body, key);
    if (r.replayed) res.setHeader("Idempotent-Replayed", "true");
    res.status(r.status).json(r.body);
  };

  list = async (_req: Request, res: Response) => {
    res.json(await this.subscriptions.list(caller(res).userId, input<unknown, SubscriptionListQuery>(res).query));
  };

  get = async (_req: Request, res: Response) => {
    const { params } = input<unknown, unknown, { id: string }>(res);
    res.json({ subscription: await this.subscriptions.get(caller(res).userId, params.id) });
  };

  cancel = async (_req: Request, res: Response) => {
    const { params } = input<unknown, unknown, { id: string }>(res);
    res.json(await this.subscriptions.cancel(caller(res), params.id));
  };
}

import { requestContext } from "../../platform/request-context.js";
import type { Request, Response } from "express";
import { caller } from "../../platform/http/auth.js";
import type { PageQuery } from "../../platform/http/pagination.js";
import { input } from "../../platform/http/request-validation.js";
import { IDEMPOTENCY_HEADER, idempotencyKeyFrom } from "../../platform/idempotency.js";
import type { CreditsGrantReq } from "./credits.schema.js";
import type { CreditsService } from "./credits.service.js";

export class CreditsController {
  constructor(private readonly credits: CreditsService) {}

  balance = async (_req: Request, res: Response) => {
    res.json(await this.credits.balance(caller(res).userId));
  };

  transactions = async (_req: Request, res: Response) => {
    res.json(await this.credits.transactions(caller(res).userId, input<unknown, PageQuery>(res).query));
  };

  adminTransactions = async (_req: Request, res: Response) => {
    const { query, params } = input<unknown, PageQuery, { id: string }>(res);
    res.json(await this.credits.userTransactions(params.id, query));
  };

  grant = async (req: Request, res: Response) => {
    const { body, params } = input<CreditsGrantReq, unknown, { id: string }>(res);
    const key = idempotencyKeyFrom(req.headers[IDEMPOTENCY_HEADER.toLowerCase()], true) as string;
    const r = await this.credits.grant(caller(res).userId, params.id, body, key, requestContext(res));
    if (r.replayed) res.setHeader("Idempotent-Replayed", "true");
    res.status(r.status).json(r.body);
  };
}

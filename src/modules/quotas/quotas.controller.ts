import { requestContext } from "../../platform/request-context.js";
import type { Request, Response } from "express";
import { caller } from "../../platform/http/auth.js";
import { input } from "../../platform/http/request-validation.js";
import type { QuotaPutReq } from "./quotas.schema.js";
import type { QuotaService } from "./quotas.service.js";

export class QuotasController {
  constructor(private readonly quotas: QuotaService) {}

  mine = async (_req: Request, res: Response) => {
    res.json(await this.quotas.view(caller(res).userId));
  };

  adminGet = async (_req: Request, res: Response) => {
    res.json({ quota: await this.quotas.adminView(input<unknown, unknown, { id: string }>(res).params.id) });
  };

  adminPut = async (_req: Request, res: Response) => {
    const { body, params } = input<QuotaPutReq, unknown, { id: string }>(res);
    res.json({ quota: await this.quotas.setLimits(params.id, body, requestContext(res)) });
  };
}

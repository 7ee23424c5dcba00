import type { Request, Response } from "express";
import { input } from "../../platform/http/request-validation.js";
import type { HealthCheckReq, HealthInstanceQuery, HealthStatsQuery } from "./health.schema.js";
import type { HealthService } from "./health.service.js";

export class HealthController {
  constructor(private readonly health: HealthService) {}

  summary = async (_req: Request, res: Response) => {
    res.json({ summary: await this.health.summary() });
  };

  check = async (_req: Request, res: Response) => {
    res.json(await this.health.check(input<HealthCheckReq>(res).body.instanceIds));
  };

  instance = async (_req: Request, res: Response) => {
    const { params, query } = input<unknown, HealthInstanceQuery, { id: string }>(res);
    res.json({ health: await this.health.instance(params.id, query.limit) });
  };

  stats = async (_req: Request, res: Response) => {
    res.json({ stats: await this.health.stats(input<unknown, HealthStatsQuery>(res).query) });
  };
}

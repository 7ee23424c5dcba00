import type { Request, Response } from "express";
import { sendJsonStreamingArray } from "../../platform/http/json-stream.js";
import { input } from "../../platform/http/request-validation.js";
import type { HealthCheckReq, HealthInstanceQuery, HealthStatsQuery } from "./health.schema.js";
import type { HealthService } from "./health.service.js";

export class HealthController {
  constructor(private readonly health: HealthService) {}

  summary = async (_req: Request, res: Response) => {
    res.json({ summary: await this.health.summary() });
  };

  /** One result per judged instance (~5 MB at 10,000): written a slice at a time (json-stream.ts). */
  check = async (_req: Request, res: Response) => {
    await sendJsonStreamingArray(res, await this.health.check(input<HealthCheckReq>(res).body.instanceIds), "results");
  };

  instance = async (_req: Request, res: Response) => {
    const { params, query } = input<unknown, HealthInstanceQuery, { id: string }>(res);
    res.json({ health: await this.health.instance(params.id, query.limit) });
  };

  stats = async (_req: Request, res: Response) => {
    res.json({ stats: await this.health.stats(input<unknown, HealthStatsQuery>(res).query) });
  };
}

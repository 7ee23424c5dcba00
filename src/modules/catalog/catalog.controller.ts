import { requestContext } from "../../platform/request-context.js";
import type { Request, Response } from "express";
import { input } from "../../platform/http/request-validation.js";
import type { PlanCreateReq, PlanUpdateReq, ServiceCreateReq, ServiceUpdateReq } from "./catalog.schema.js";
import type { CatalogService } from "./catalog.service.js";

export class CatalogController {
  constructor(private readonly catalog: CatalogService) {}

  list = async (_req: Request, res: Response) => {
    const services = await this.catalog.listActive();
    res.json({ data: services, page: { page: 1, pageSize: services.length, total: services.length, totalPages: 1 } });
  };

  get = async (_req: Request, res: Response) => {
    res.json({ service: await this.catalog.getActiveBySlug(input<unknown, unknown, { slug: string }>(res).params.slug) });
  };

  adminList = async (_req: Request, res: Response) => {
    const services = await this.catalog.listAll();
    res.json({ data: services, page: { page: 1, pageSize: services.length, total: services.length, totalPages: 1 } });
  };

  createService = async (_req: Request, res: Response) => {
    res.status(201).json({ service: await this.catalog.createService(input<ServiceCreateReq>(res).body, requestContext(res)) });
  };

  updateService = async (_req: Request, res: Response) => {
    const { body, params } = input<ServiceUpdateReq, unknown, { id: string }>(res);
    res.json({ service: await this.catalog.updateService(params.id, body, requestContext(res)) });
  };

  createPlan = async (_req: Request, res: Response) => {
    const { body, params } = input<PlanCreateReq, unknown, { id: string }>(res);
    res.status(201).json({ plan: await this.catalog.createPlan(params.id, body, requestContext(res)) });
  };

  updatePlan = async (_req: Request, res: Response) => {
    const { body, params } = input<PlanUpdateReq, unknown, { id: string }>(res);
    res.json({ plan: await this.catalog.updatePlan(params.id, body, requestContext(res)) });
  };
}

import { requestContext } from "../../platform/request-context.js";
import type { Request, Response } from "express";
import { caller } from "../../platform/http/auth.js";
import { input } from "../../platform/http/request-validation.js";
import type { AuthLoginReq, AuthPasswordChangeReq, AuthRefreshReq, AuthRegisterReq } from "./auth.schema.js";
import type { AuthService } from "./auth.service.js";

export class AuthController {
  constructor(private readonly auth: AuthService) {}

  register = async (_req: Request, res: Response) => {
    res.status(201).json(await this.auth.register(input<AuthRegisterReq>(res).body, requestContext(res)));
  };

  login = async (_req: Request, res: Response) => {
    res.status(200).json(await this.auth.login(input<AuthLoginReq>(res).body, requestContext(res)));
  };

  refresh = async (_req: Request, res: Response) => {
    res.status(200).json(await this.auth.refresh(input<AuthRefreshReq>(res).body.refreshToken, requestContext(res)));
  };

  logout = async (_req: Request, res: Response) => {
    await this.auth.logout(input<AuthRefreshReq>(res).body.refreshToken, requestContext(res));
    res.status(204).end();
  };

  changePassword = async (_req: Request, res: Response) => {
    res.status(200).json(await this.auth.changePassword(caller(res).userId, input<AuthPasswordChangeReq>(res).body, requestContext(res)));
  };

  me = async (_req: Request, res: Response) => {
    res.status(200).json({ user: await this.auth.me(caller(res).userId) });
  };
}

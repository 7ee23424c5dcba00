import { requestContext } from "../../platform/request-context.js";
import { type Request, type Response, Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { input, validate } from "../../platform/http/request-validation.js";
import { caller } from "../../platform/http/auth.js";
import {
  AdminUserParamsSchema,
  AdminUserResponseSchema,
  type AdminUsersListQuery,
  AdminUsersListQuerySchema,
  AdminUsersListResponseSchema,
  AdminUserUpdateResponseSchema,
  type AdminUserUpdateReq,
  AdminUserUpdateSchema,
} from "./users.schema.js";
import type { UsersService } from "./users.service.js";

class UsersController {
  constructor(private readonly users: UsersService) {}

  list = async (_req: Request, res: Response) => {
    res.json(await this.users.list(input<unknown, AdminUsersListQuery>(res).query));
  };

  get = async (_req: Request, res: Response) => {
    res.json({ user: await this.users.get(input<unknown, unknown, { id: string }>(res).params.id) });
  };

  update = async (_req: Request, res: Response) => {
    const { body, params } = input<AdminUserUpdateReq, unknown, { id: string }>(res);
    res.json({ user: await this.users.update(caller(res).userId, params.id, body, requestContext(res)) });
  };
}

/** Admin users: mounted inside the /api/admin router. */
export function adminUsersRoutes(deps: { users: UsersService }): Router {
  const c = new UsersController(deps.users);
  const r = Router();
  r.get(
    "/users",
    doc({
      summary: "All users",
      tags: ["admin: users"],
      response: { description: "{data: [user], page}", schema: AdminUsersListResponseSchema },
    }),
    validate({ query: AdminUsersListQuerySchema }),
    c.list,
  );
  r.get(
    "/users/:id",
    doc({
      summary: "One user",
      tags: ["admin: users"],
      response: { description: "{user} with its balance and quota", schema: AdminUserResponseSchema },
    }),
    validate({ params: AdminUserParamsSchema }),
    c.get,
  );
  r.patch(
    "/users/:id",
    doc({
      summary: "Disable or enable an account, or change its role (both revoke the user's sessions)",
      tags: ["admin: users"],
      response: { description: "{user}", schema: AdminUserUpdateResponseSchema },
      errors: [409],
    }),
    validate({ params: AdminUserParamsSchema, body: AdminUserUpdateSchema }),
    c.update,
  );
  return r;
}

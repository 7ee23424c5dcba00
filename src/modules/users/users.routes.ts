import { type Request, type Response, Router } from "express";
import { doc } from "../../platform/http/route-meta.js";
import { input, validate } from "../../platform/http/request-validation.js";
import { AdminUserParamsSchema, type AdminUsersListQuery, AdminUsersListQuerySchema } from "./users.schema.js";
import type { UsersService } from "./users.service.js";

class UsersController {
  constructor(private readonly users: UsersService) {}

  list = async (_req: Request, res: Response) => {
    res.json(await this.users.list(input<unknown, AdminUsersListQuery>(res).query));
  };

  get = async (_req: Request, res: Response) => {
    res.json({ user: await this.users.get(input<unknown, unknown, { id: string }>(res).params.id) });
  };
}

/** Admin users: mounted inside the /api/admin router. */
export function adminUsersRoutes(deps: { users: UsersService }): Router {
  const c = new UsersController(deps.users);
  const r = Router();
  r.get(
    "/users",
    doc({ summary: "All users", tags: ["admin: users"], response: { description: "{data: [user], page}" } }),
    validate({ query: AdminUsersListQuerySchema }),
    c.list,
  );
  r.get(
    "/users/:id",
    doc({ summary: "One user", tags: ["admin: users"], response: { description: "{user}" } }),
    validate({ params: AdminUserParamsSchema }),
    c.get,
  );
  return r;
}

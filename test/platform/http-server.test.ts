/**
 * The server src/index.ts serves the app with (src/platform/http/server.ts): Node builds each request
 * and response with the app's prototypes, so Express's per-request `Object.setPrototypeOf` changes
 * nothing, and the app answers exactly as it does on a plain `http.createServer(app)` (supertest's).
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import supertest from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/platform/http/server.js";
import { buildUser, createTestContext, type TestContext, type TestUser } from "../helpers/app.js";

let ctx: TestContext;
let user: TestUser;
let server: http.Server;
let base: string;
/** What Node handed the app for each request, before Express saw it. */
const seen: Array<{ req: IncomingMessage; res: ServerResponse; reqProto: unknown; resProto: unknown }> = [];

beforeAll(async () => {
  ctx = await createTestContext();
  user = await buildUser(ctx);
  server = createHttpServer(ctx.app);
  // Runs before the app (the listener createServer added): the objects exactly as Node built them.
  server.prependListener("request", (req, res) => {
    seen.push({ req, res, reqProto: Object.getPrototypeOf(req), resProto: Object.getPrototypeOf(res) });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await ctx.close();
});

/** Headers that differ between any two answers (time, request id): everything else must be equal. */
const VARYING = new Set(["date", "x-request-id", "connection", "keep-alive"]);
function stable(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !VARYING.has(k)));
}

describe("createHttpServer", () => {
  it("builds requests and responses with the app's own prototypes, still Node's IncomingMessage and ServerResponse", async () => {
    seen.length = 0;
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(seen).toHaveLength(1);
    const first = seen[0];
    if (!first) throw new Error("no request reached the server");
    expect(first.reqProto).toBe(ctx.app.request);
    expect(first.resProto).toBe(ctx.app.response);
    expect(first.req).toBeInstanceOf(http.IncomingMessage);
    expect(first.res).toBeInstanceOf(http.ServerResponse);
    // Express's own request and response methods are there (the prototypes it would have set).
    expect(typeof (first.res as unknown as { json: unknown }).json).toBe("function");
    expect(first.req.headers.host).toBe(base.slice("http://".length));
  });

  it("answers as the app does on a plain Node server: statuses, bodies and headers", async () => {
    const plain = supertest(ctx.app);
    const cases: Array<{ path: string; headers?: Record<string, string>; status: number }> = [
      { path: "/healthz", status: 200 },
      { path: "/api/credits", headers: user.auth, status: 200 },
      { path: "/api/instances", headers: user.auth, status: 200 },
      { path: "/api/instances?page=0", headers: user.auth, status: 400 },
      { path: "/api/instances/does-not-exist", headers: user.auth, status: 404 },
      { path: "/api/credits", status: 401 },
      { path: "/no/such/route", status: 404 },
    ];
    for (const c of cases) {
      const viaServer = await fetch(`${base}${c.path}`, { headers: c.headers });
      const viaPlain = await plain.get(c.path).set(c.headers ?? {});
      expect({ path: c.path, status: viaServer.status }).toEqual({ path: c.path, status: c.status });
      expect(viaPlain.status).toBe(c.status);
      const body = await viaServer.json();
      // Error bodies carry the request id, which differs per request.
      const withoutId = (b: unknown) => JSON.parse(JSON.stringify(b).replace(/"requestId":"[^"]*"/, '"requestId":"-"'));
      expect(withoutId(body)).toEqual(withoutId(viaPlain.body));
      // An error body holds its request id, so its ETag differs too; a 200's must be the same.
      const compared = (h: Record<string, string>) => {
        const { etag, ...rest } = stable(h);
        return c.status < 400 ? { etag, ...rest } : rest;
      };
      expect(compared(Object.fromEntries(viaServer.headers))).toEqual(compared(viaPlain.headers as Record<string, string>));
    }
  });
});

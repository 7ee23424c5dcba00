/**
 * The HTTP server the app is served by (src/index.ts): Node's own, with its requests and responses
 * built with the app's prototypes from the start.
 *
 * Express gives every request and response its own prototypes (`app.request`, `app.response`: `req.ip`,
 * `res.json`, ...) by calling `Object.setPrototypeOf` on each in `app.handle`. Changing the prototype of
 * a live object is slow in V8, and it also kept each request's objects alive past the next young-
 * generation collections, so they were promoted to the old generation: measured with a bare Express
 * app answering one route, 76-85 us of CPU per request and 2-3 MB promoted per scavenge, against
 * 20-22 us and nothing promoted when the objects are built with those prototypes (bench/RESULTS.md).
 * Node's `http.createServer` takes the classes it builds them with (`IncomingMessage`,
 * `ServerResponse`); these two are Node's own constructors with the app's prototypes, so Express's
 * `setPrototypeOf` finds the prototype already set and changes nothing. The objects are the same: same
 * prototype chain, same fields, `instanceof http.IncomingMessage` as before.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Express } from "express";

export function createHttpServer(app: Express): Server {
  // Plain constructor functions (not subclasses): their `prototype` is the app's own object, which a
  // class's read-only `prototype` could not be. Node's two constructors are functions, callable on `this`.
  function Request(this: IncomingMessage, socket: Socket) {
    http.IncomingMessage.call(this, socket);
  }
  Request.prototype = app.request;
  function Response(this: ServerResponse, req: IncomingMessage, options?: unknown) {
    (http.ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void).call(this, req, options);
  }
  Response.prototype = app.response;
  return http.createServer(
    {
      IncomingMessage: Request as unknown as typeof http.IncomingMessage,
      ServerResponse: Response as unknown as typeof http.ServerResponse,
    },
    app,
  );
}

/**
 * One HTTP server for bench/http-floor.ts, answering `GET /healthz` with `{"status":"ok"}`:
 *   node    Node's http server and nothing else
 *   node-setprototype  the same, plus what Express does to each request and response: `Object.setPrototypeOf`
 *           to an object whose own prototype is Node's IncomingMessage's / ServerResponse's
 *   express an Express app with that one route, on `http.createServer(app)` (what `app.listen` does)
 *   served  the same app on `createHttpServer(app)` (src/platform/http/server.ts, what src/index.ts runs)
 * Prints "ready <port>" once listening; exits on SIGINT (so that --cpu-prof can write its profile).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { createHttpServer } from "../../src/platform/http/server.js";

const variant = process.argv[2];
const body = JSON.stringify({ status: "ok" });
let server: http.Server;
if (variant === "node" || variant === "node-setprototype") {
  const requestPrototype = Object.create(http.IncomingMessage.prototype) as object;
  const responsePrototype = Object.create(http.ServerResponse.prototype) as object;
  const setPrototypes = variant === "node-setprototype";
  server = http.createServer((req, res) => {
    if (setPrototypes) {
      Object.setPrototypeOf(req, requestPrototype);
      Object.setPrototypeOf(res, responsePrototype);
    }
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
} else if (variant === "express" || variant === "served") {
  const app = express();
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  server = variant === "express" ? http.createServer(app) : createHttpServer(app);
} else {
  throw new Error(`unknown variant ${variant}: node, node-setprototype, express or served`);
}
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGINT", () => process.exit(0));

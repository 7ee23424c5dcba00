/**
 * sendJsonStreamingArray (src/platform/http/json-stream.ts): the bytes of `res.json` for the same
 * body, written in slices (chunked), and it stops when the client goes away.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { sendJsonStreamingArray } from "../../src/platform/http/json-stream.js";

function appSending(body: () => object, key = "results") {
  const app = express();
  app.get("/streamed", async (_req, res) => {
    await sendJsonStreamingArray(res, body(), key);
  });
  app.get("/json", (_req, res) => {
    res.json(body());
  });
  return app;
}

const raw = (app: express.Express, path: string) =>
  request(app)
    .get(path)
    .buffer(true)
    .parse((res, cb) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => cb(null, text));
    });

describe("sendJsonStreamingArray", () => {
  it("writes exactly what res.json writes, keys in order, left-out values left out", async () => {
    const body = () => ({
      sweep: { id: "s1", at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), none: null, gone: undefined },
      results: [{ id: "a", n: 1, ok: true, why: 'quote " and \u2028 and ü' }, undefined, null, [1, [2]], "x"],
      skippedFn: () => 1,
      repaired: [],
      gone: undefined,
      last: 0,
    });
    const app = appSending(body);
    const streamed = await raw(app, "/streamed");
    const json = await raw(app, "/json");
    expect(streamed.status).toBe(200);
    expect(streamed.body).toBe(json.body);
    expect(streamed.body).toBe(JSON.stringify(body()));
    expect(streamed.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(streamed.headers["content-type"]).toBe(json.headers["content-type"]);
  });

  it("an empty array and a body without the array", async () => {
    for (const body of [{ results: [], after: 1 }, { before: "b" }, {}]) {
      const res = await raw(
        appSending(() => body),
        "/streamed",
      );
      expect(res.body).toBe(JSON.stringify(body));
    }
  });

  it("sends a large array in several chunks, without Content-Length, byte for byte", async () => {
    const results = Array.from({ length: 5000 }, (_, i) => ({
      instanceId: `inst-${i}`,
      observed: "HEALTHY",
      missing: [],
      reason: "ok ".repeat(20),
    }));
    const body = { sweep: { id: "s" }, results, repaired: ["inst-1"], skipped: [] };
    const res = await raw(
      appSending(() => body),
      "/streamed",
    );
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBeUndefined();
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    expect(res.body.length).toBeGreaterThan(400_000);
    expect(res.body).toBe(JSON.stringify(body));
  });
});

describe("sendJsonStreamingArray when the client goes away", () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
  });

  it("stops serialising once the response is closed", async () => {
    let serialised = 0;
    const items = Array.from({ length: 20_000 }, (_, i) => ({
      toJSON() {
        serialised++;
        return { i, pad: "x".repeat(200) };
      },
    }));
    let finished: Promise<void> | undefined;
    const app = express();
    app.get("/streamed", (_req, res) => {
      finished = sendJsonStreamingArray(res, { results: items }, "results");
    });
    server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server?.once("listening", r));
    const { port } = server.address() as AddressInfo;
    // Read the first chunk, then stop reading and hang up.
    await new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/streamed" }, (res) => {
        res.once("data", () => {
          res.pause();
          req.destroy();
          resolve();
        });
      });
    });
    await finished;
    expect(serialised).toBeGreaterThan(0);
    expect(serialised).toBeLessThan(items.length);
  });

  it("cuts the connection when serialising fails after part of the answer is out", async () => {
    const items = Array.from({ length: 2000 }, (_, i) => ({
      toJSON() {
        if (i === 1500) throw new Error("cannot serialise");
        return { i, pad: "x".repeat(200) };
      },
    }));
    const errors: unknown[] = [];
    const app = express();
    app.get("/streamed", async (_req, res) => {
      await sendJsonStreamingArray(res, { results: items }, "results");
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(err);
      res.end();
    });
    server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server?.once("listening", r));
    const { port } = server.address() as AddressInfo;
    const outcome = await new Promise<{ status?: number; received: number; complete: boolean; aborted: boolean }>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/streamed" }, (res) => {
        let received = 0;
        res.on("data", (c: Buffer) => {
          received += c.length;
        });
        res.on("end", () => resolve({ status: res.statusCode, received, complete: res.complete, aborted: false }));
        res.on("error", () => resolve({ status: res.statusCode, received, complete: res.complete, aborted: true }));
      });
      req.on("error", () => resolve({ received: 0, complete: false, aborted: true }));
    });
    expect(outcome.status).toBe(200);
    expect(outcome.received).toBeGreaterThan(64 * 1024);
    expect(outcome.complete).toBe(false);
    expect(outcome.aborted).toBe(true);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("cannot serialise");
  });
});

/**
 * Live instance events as a browser sees them: the `eventsource` package implements the browser's
 * EventSource API (no custom headers unless a fetch is supplied), so these tests open streams the
 * way a dashboard would — with a single-use `?ticket=` — and check the framing, `Last-Event-ID`
 * resume without replay, heartbeats, the per-user caps, and that one shared poller (not one per
 * stream) reads the database.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Writable } from "node:stream";
import { EventSource } from "eventsource";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { buildContainer, type Container } from "../../src/container.js";
import type { Database, PrismaClient } from "../../src/platform/db/index.js";
import { buildUser, createTestContext, errorShape, type TestContext, type TestUser, testConfig } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase, usingPostgres } from "../helpers/db.js";

type Msg = { id: string; data: { type: string; event?: { id: string; type: string }; status?: string; reason?: string } };

async function listen(app: import("express").Express): Promise<{ server: Server; base: string }> {
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** Collects an EventSource's default (`onmessage`) messages; `until` waits for a condition on them. */
function collect(es: EventSource) {
  const messages: Msg[] = [];
  const waiters = new Set<() => void>();
  const errors: Array<{ code?: number; message?: string }> = [];
  es.onmessage = (e) => {
    messages.push({ id: e.lastEventId, data: JSON.parse(e.data) });
    for (const w of waiters) w();
  };
  es.onerror = (e) => {
    errors.push({ code: (e as unknown as { code?: number }).code, message: (e as unknown as { message?: string }).message });
    for (const w of waiters) w();
  };
  return {
    messages,
    errors,
    async until(pred: (m: Msg[]) => boolean): Promise<void> {
      while (!pred(messages)) {
        await new Promise<void>((r) => {
          const w = () => {
            waiters.delete(w);
            r();
          };
          waiters.add(w);
        });
      }
    },
  };
}

const eventIds = (ms: Msg[]) => ms.filter((m) => m.data.type === "event").map((m) => m.data.event!.id);

describe("event streams from a browser (EventSource)", () => {
  let ctx: TestContext;
  let base: string;
  let server: Server;
  let planId: string;

  beforeAll(async () => {
    ctx = await createTestContext({ env: { MAX_EVENT_STREAMS_PER_USER: "2", MAX_LOG_FOLLOWS_PER_USER: "1" } });
    ({ server, base } = await listen(ctx.app));
    planId = (await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "ghost" } } })).id;
  });
  afterAll(async () => {
    await stop(server);
    await ctx.close();
  });

  const settle = () => ctx.container.loops.reconciler.runUntilIdle({ timeoutMs: 20_000 });

  async function userWithInstance(name: string): Promise<{ u: TestUser; id: string }> {
    const u = await buildUser(ctx);
    await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 1000, reason: "test" });
    const res = await ctx.api.post("/api/instances").set(u.auth).send({ planId, name });
    expect(res.status).toBe(201);
    return { u, id: res.body.instance.id };
  }

  async function ticket(u: TestUser, id: string): Promise<string> {
    const res = await ctx.api.post(`/api/instances/${id}/stream-ticket`).set(u.auth);
    expect(res.status).toBe(201);
    return res.body.ticket;
  }

  it("authenticates with a single-use ticket, delivers every message to onmessage with an id, and resumes without replay", async () => {
    const { u, id } = await userWithInstance("live");

    const issued = await ctx.api.post(`/api/instances/${id}/stream-ticket`).set(u.auth);
    expect(issued.status).toBe(201);
    expect(issued.headers["cache-control"]).toBe("no-store");
    expect(issued.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), instanceId: id, expiresAt: expect.any(String) });
    const ttl = Date.parse(issued.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const first = new EventSource(`${base}/api/instances/${id}/events?ticket=${issued.body.ticket}`);
    const a = collect(first);
    await settle();
    // The status and the RUNNING event are separate writes: wait for both.
    await a.until(
      (ms) =>
        ms.some((m) => m.data.type === "status" && m.data.status === "RUNNING") &&
        ms.some((m) => m.data.type === "event" && m.data.event?.type === "RUNNING"),
    );
    first.close();

    // Every message came to onmessage (no named events) and carries an id.
    expect(a.messages.every((m) => m.id.length > 0)).toBe(true);
    const seen = eventIds(a.messages);
    const types = a.messages.filter((m) => m.data.type === "event").map((m) => m.data.event!.type);
    expect(types.slice(0, 2)).toEqual(["CREATED", "PROVISIONING_STARTED"]);
    expect(types.at(-1)).toBe("RUNNING");
    expect(new Set(seen).size).toBe(seen.length);
    const db = await ctx.container.db.prisma.instanceEvent.findMany({
      where: { instanceId: id },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
    expect(seen).toEqual(db.map((e) => e.id));
    // The id of every message is the newest event sent so far.
    let newest = "";
    for (const m of a.messages) {
      if (m.data.type === "event") newest = m.data.event!.id;
      expect(m.id).toBe(newest);
    }
    expect(a.messages.filter((m) => m.data.type === "status").at(-1)?.data).toEqual({
      type: "status",
      status: "RUNNING",
      statusMessage: null,
    });

    // The ticket was used up.
    const reused = await fetch(`${base}/api/instances/${id}/events?ticket=${issued.body.ticket}`, {
      headers: { Accept: "text/event-stream" },
    });
    expect(reused.status).toBe(401);
    expect(await reused.json()).toEqual(errorShape("UNAUTHORIZED", { message: "Invalid or already used stream ticket" }));

    // A browser reconnects with a fresh ticket and the last id it saw: nothing it has seen comes again.
    const lastSeen = a.messages.at(-1)!.id;
    const second = new EventSource(`${base}/api/instances/${id}/events?ticket=${await ticket(u, id)}&lastEventId=${lastSeen}`);
    const b = collect(second);
    await b.until((ms) => ms.some((m) => m.data.type === "status"));
    expect(b.messages).toEqual([{ id: lastSeen, data: { type: "status", status: "RUNNING", statusMessage: null } }]);
    // New events still arrive, through the shared poller.
    expect((await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth)).status).toBe(202);
    await settle();
    await b.until((ms) => ms.some((m) => m.data.type === "status" && m.data.status === "RUNNING" && m !== ms[0]));
    second.close();
    const fresh = eventIds(b.messages);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.filter((e) => seen.includes(e))).toEqual([]);
    expect(b.messages.filter((m) => m.data.type === "event").map((m) => m.data.event!.type)[0]).toBe("RESTART_REQUESTED");
  });

  it("resumes from the Last-Event-ID header that EventSource sends when it reconnects by itself", async () => {
    const { u, id } = await userWithInstance("reconnecting");
    await settle();
    const requests: Array<Record<string, string>> = [];
    // A non-browser client may send the bearer header through its own fetch; reconnects then keep working.
    const es = new EventSource(`${base}/api/instances/${id}/events`, {
      fetch: (url, init) => {
        requests.push({ ...init.headers });
        return fetch(url, { ...init, headers: { ...init.headers, Authorization: u.auth.Authorization } });
      },
    });
    const c = collect(es);
    await c.until((ms) => ms.some((m) => m.data.type === "status"));
    const before = eventIds(c.messages);
    const count = c.messages.length;
    // Drop the connection from the server side: EventSource reconnects after the `retry:` delay.
    server.closeAllConnections();
    expect((await ctx.api.post(`/api/instances/${id}/restart`).set(u.auth)).status).toBe(202);
    await settle();
    await c.until((ms) => ms.slice(count).some((m) => m.data.type === "status" && m.data.status === "RUNNING"));
    es.close();
    expect(requests.length).toBe(2);
    expect(requests[0]!["Last-Event-ID"]).toBeUndefined();
    expect(requests[1]!["Last-Event-ID"]).toBe(before.at(-1));
    const after = eventIds(c.messages.slice(count));
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((e) => before.includes(e))).toEqual([]);
  });

  /** An instance deleted and TERMINATED, and its stream read to the end: the id the stream last sent. */
  async function terminatedAndStreamed(name: string) {
    const { u, id } = await userWithInstance(name);
    await settle();
    expect((await ctx.api.delete(`/api/instances/${id}`).set(u.auth)).status).toBe(202);
    await settle();
    const es = new EventSource(`${base}/api/instances/${id}/events?ticket=${await ticket(u, id)}`);
    const c = collect(es);
    await c.until((ms) => ms.some((m) => m.data.type === "end"));
    es.close();
    return { u, id, messages: c.messages, last: eventIds(c.messages).at(-1)! };
  }

  it("ends a TERMINATED instance's stream, and a resume of it gets 204 so EventSource stops", async () => {
    const { u, id, messages, last } = await terminatedAndStreamed("ending");
    expect(messages.slice(-2)).toEqual([
      { id: last, data: { type: "status", status: "TERMINATED", statusMessage: null } },
      { id: last, data: { type: "end", reason: "terminated" } },
    ]);
    const resumed = await fetch(`${base}/api/instances/${id}/events?ticket=${await ticket(u, id)}`, {
      headers: { Accept: "text/event-stream", "Last-Event-ID": last },
    });
    expect(resumed.status).toBe(204);
  });

  it("gets 204 on resuming a TERMINATED instance however the shared poller's first poll and the backlog read interleave", async () => {
    const { u, id, last } = await terminatedAndStreamed("ending-race");
    const hub = ctx.container.streams.hub;
    while (hub.polling) await new Promise((r) => setTimeout(r, 10));
    // The idle poller's first poll re-reads its lookback window, which holds this instance's earlier
    // events: let it hand them to the resumed stream before the stream's own backlog read returns.
    const service = ctx.container.services.instances;
    const read = service.allEventsSince.bind(service);
    service.allEventsSince = async (...args) => {
      const rows = await read(...args);
      await hub.waitForTicks(1);
      return rows;
    };
    try {
      const resumed = await fetch(`${base}/api/instances/${id}/events?ticket=${await ticket(u, id)}`, {
        headers: { Accept: "text/event-stream", "Last-Event-ID": last },
      });
      expect(resumed.status).toBe(204);
      expect(await resumed.text()).toBe("");
    } finally {
      service.allEventsSince = read;
    }
  });

  it("refuses tickets for another instance, another user's instance, and unknown Last-Event-IDs", async () => {
    const { u, id } = await userWithInstance("guarded");
    const { u: other, id: otherId } = await userWithInstance("elsewhere");
    const forOther = await ticket(other, otherId);
    const wrong = await fetch(`${base}/api/instances/${id}/events?ticket=${forOther}`, { headers: { Accept: "text/event-stream" } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual(errorShape("UNAUTHORIZED", { message: "Stream ticket is for another instance" }));
    // A ticket can only be had for an instance the caller may read.
    const denied = await ctx.api.post(`/api/instances/${otherId}/stream-ticket`).set(u.auth);
    expect(denied.status).toBe(404);
    expect(denied.body).toEqual(errorShape("NOT_FOUND", { message: "Instance not found" }));
    expect(await ctx.container.db.prisma.streamTicket.count({ where: { instanceId: otherId, userId: u.id } })).toBe(0);
    const unknown = await fetch(`${base}/api/instances/${id}/events?ticket=${await ticket(u, id)}`, {
      headers: { Accept: "text/event-stream", "Last-Event-ID": "not-an-event" },
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual(
      errorShape("VALIDATION_ERROR", {
        message: "Last-Event-ID is not an event of this instance",
        details: [{ path: "Last-Event-ID", message: "unknown event id" }],
      }),
    );
    const noAuth = await fetch(`${base}/api/instances/${id}/events`, { headers: { Accept: "text/event-stream" } });
    expect(noAuth.status).toBe(401);
    const stale = await ticket(u, id);
    await ctx.container.db.prisma.streamTicket.updateMany({ where: { userId: u.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await fetch(`${base}/api/instances/${id}/events?ticket=${stale}`, { headers: { Accept: "text/event-stream" } });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual(errorShape("UNAUTHORIZED", { message: "Stream ticket expired" }));
  });

  it("caps concurrent event streams and log follows per user with a 429 in the error shape", async () => {
    const { u, id } = await userWithInstance("capped");
    await settle();
    const limits = ctx.container.streams.limits;
    const open = async () => {
      const controller = new AbortController();
      const res = await fetch(`${base}/api/instances/${id}/events`, {
        headers: { ...u.auth, Accept: "text/event-stream" },
        signal: controller.signal,
      });
      return { res, controller };
    };
    const s1 = await open();
    const s2 = await open();
    expect([s1.res.status, s2.res.status]).toEqual([200, 200]);
    expect(limits.count(u.id, "events")).toBe(2);
    const s3 = await open();
    expect(s3.res.status).toBe(429);
    expect(await s3.res.json()).toEqual(
      errorShape("RATE_LIMITED", {
        message: "Too many open event streams: at most 2 at once; close one first",
        details: { kind: "events", limit: 2 },
      }),
    );
    // The cap is per user.
    const { u: other, id: otherId } = await userWithInstance("uncapped");
    const theirs = await fetch(`${base}/api/instances/${otherId}/events`, { headers: { ...other.auth, Accept: "text/event-stream" } });
    expect(theirs.status).toBe(200);
    await theirs.body?.cancel();
    // Closing a stream frees its slot.
    s1.controller.abort();
    while (limits.count(u.id, "events") > 1) await new Promise((r) => setTimeout(r, 10));
    const s4 = await open();
    expect(s4.res.status).toBe(200);

    const follow = () => fetch(`${base}/api/instances/${id}/logs?follow=true&tailLines=1`, { headers: u.auth });
    const f1 = await follow();
    expect(f1.status).toBe(200);
    const f2 = await follow();
    expect(f2.status).toBe(429);
    expect(await f2.json()).toEqual(
      errorShape("RATE_LIMITED", {
        message: "Too many open log follows: at most 1 at once; close one first",
        details: { kind: "logs", limit: 1 },
      }),
    );
    await f1.body?.cancel();
    s2.controller.abort();
    s4.controller.abort();
    while (limits.count(u.id, "events") + limits.count(u.id, "logs") > 0) await new Promise((r) => setTimeout(r, 10));
  });

  it("caps the unused tickets a user may hold (429), counting only unexpired ones", async () => {
    const { u, id } = await userWithInstance("ticketed");
    const tickets = ctx.container.streams.tickets;
    for (let i = 0; i < 20; i++) await tickets.issue({ userId: u.id, role: "USER" }, id);
    const over = await ctx.api.post(`/api/instances/${id}/stream-ticket`).set(u.auth);
    expect(over.status).toBe(429);
    expect(over.body).toEqual(
      errorShape("RATE_LIMITED", {
        message: "Too many unused stream tickets: at most 20; use or let one expire first",
        details: { limit: 20 },
      }),
    );
    expect(await ctx.container.db.prisma.streamTicket.count({ where: { userId: u.id } })).toBe(20);
    // Expired tickets do not count (and are removed).
    await ctx.container.db.prisma.streamTicket.updateMany({ where: { userId: u.id }, data: { expiresAt: new Date(0) } });
    expect((await ctx.api.post(`/api/instances/${id}/stream-ticket`).set(u.auth)).status).toBe(201);
    expect(await ctx.container.db.prisma.streamTicket.count({ where: { userId: u.id } })).toBe(1);
  });

  it("accepts a ticket on a log follow, once", async () => {
    const { u, id } = await userWithInstance("tailed");
    await settle();
    const t = await ticket(u, id);
    const res = await fetch(`${base}/api/instances/${id}/logs?follow=true&tailLines=1&ticket=${t}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    await res.body?.cancel();
    const again = await fetch(`${base}/api/instances/${id}/logs?follow=true&tailLines=1&ticket=${t}`);
    expect(again.status).toBe(401);
  });

  it("documents the stream: the ticket route, the event-stream messages, 204 and 429", async () => {
    const doc = (await ctx.api.get("/openapi.json")).body;
    const events = doc.paths["/api/instances/{id}/events"].get;
    expect(Object.keys(events.responses)).toEqual(expect.arrayContaining(["200", "204", "401", "404", "429"]));
    expect(events.responses["204"]).toEqual({
      description: expect.stringContaining("TERMINATED"),
      headers: { "X-Request-Id": { $ref: "#/components/headers/XRequestId" } },
    });
    const sse = events.responses["200"].content["text/event-stream"].schema;
    expect(sse.type).toBe("string");
    expect(sse["x-data-schema"].oneOf.map((m: { properties: { type: { const: string } } }) => m.properties.type.const)).toEqual([
      "event",
      "status",
      "end",
    ]);
    expect(events.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(["ticket", "lastEventId"]));
    const logs = doc.paths["/api/instances/{id}/logs"].get;
    expect(Object.keys(logs.responses["200"].content)).toEqual(["application/json", "text/plain"]);
    const ticketOp = doc.paths["/api/instances/{id}/stream-ticket"].post;
    expect(ticketOp.security).toEqual([{ bearerAuth: [] }]);
    expect(ticketOp.responses["201"].content["application/json"].schema).toMatchObject({
      type: "object",
      required: ["ticket", "instanceId", "expiresAt"],
    });
  });

  it("lets exactly one of two concurrent requests use a ticket, on any replica", async (t) => {
    if (!usingPostgres) {
      t.skip("replicas and concurrent redemption need PostgreSQL (set TEST_DATABASE_URL)");
      return;
    }
    const { u, id } = await userWithInstance("shared");
    const other = await ctx.replica();
    const issued = await ctx.container.streams.tickets.issue({ userId: u.id, role: "USER" }, id);
    const results = await Promise.allSettled([
      ctx.container.streams.tickets.redeem(issued.ticket, id),
      other.streams.tickets.redeem(issued.ticket, id),
    ]);
    expect(results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<unknown>).value)).toEqual([
      { userId: u.id, role: "USER" },
    ]);
    expect(results.filter((r) => r.status === "rejected").map((r) => ((r as PromiseRejectedResult).reason as Error).message)).toEqual([
      "Invalid or already used stream ticket",
    ]);
    // A ticket issued on one replica opens a stream on another.
    const second = await ctx.container.streams.tickets.issue({ userId: u.id, role: "USER" }, id);
    expect(await other.streams.tickets.redeem(second.ticket, id)).toEqual({ userId: u.id, role: "USER" });
  });
});

describe("one shared source of new events per process", () => {
  let testDb: TestDatabase;
  let container: Container;
  let server: Server;
  let base: string;
  const queries = new Map<string, number>();
  const total = () => [...queries.values()].reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    // Every query any part of the app makes goes through this counter.
    const counted = testDb.db.prisma.$extends({
      query: {
        $allModels: {
          async $allOperations({ model, operation, args, query }) {
            const k = `${model}.${operation}`;
            queries.set(k, (queries.get(k) ?? 0) + 1);
            return query(args);
          },
        },
      },
    }) as unknown as PrismaClient;
    const db: Database = { ...testDb.db, prisma: counted };
    container = await buildContainer(
      // The token revocation poll runs beside the streams; keep it out of the count.
      testConfig({
        EVENT_STREAM_POLL_INTERVAL: "20ms",
        SSE_HEARTBEAT_INTERVAL: "20ms",
        MAX_EVENT_STREAMS_PER_USER: "20",
        TOKEN_REVOCATION_POLL_INTERVAL: "1h",
      }),
      { db },
    );
    ({ server, base } = await listen(createApp(container)));
  });
  afterAll(async () => {
    await stop(server);
    await container.close();
    await testDb.drop();
  });

  it("reads the database the same number of times per poll for 1 stream as for 12, and sends heartbeats", async () => {
    const u = await buildUser({ container } as TestContext);
    const plan = await container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "ghost" } } });
    await container.services.ledger.post(container.db.prisma, { userId: u.id, type: "TOPUP", amount: 1000, reason: "test" });
    const created = await fetch(`${base}/api/instances`, {
      method: "POST",
      headers: { ...u.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ planId: plan.id, name: "watched" }),
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { instance: { id: string } }).instance.id;
    const hub = container.streams.hub;
    const streams: EventSource[] = [];
    const openStream = async () => {
      const es = new EventSource(`${base}/api/instances/${id}/events`, {
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, Authorization: u.auth.Authorization } }),
      });
      streams.push(es);
      await collect(es).until((ms) => ms.some((m) => m.data.type === "status"));
    };
    /** Queries made during `polls` complete polls, with every stream open and idle. */
    const perPolls = async (polls: number) => {
      await hub.waitForTicks(1);
      const before = total();
      const snapshot = new Map(queries);
      await hub.waitForTicks(polls);
      const byKind = [...queries].filter(([k, n]) => n !== (snapshot.get(k) ?? 0)).map(([k, n]) => [k, n - (snapshot.get(k) ?? 0)]);
      return { total: total() - before, byKind: Object.fromEntries(byKind) };
    };

    await openStream();
    const one = await perPolls(5);
    for (let i = 0; i < 11; i++) await openStream();
    expect(hub.watching).toBe(1);
    const twelve = await perPolls(5);
    // One query for new events and one for statuses per poll, however many streams are open.
    expect(one).toEqual({ total: 10, byKind: { "InstanceEvent.findMany": 5, "Instance.findMany": 5 } });
    expect(twelve).toEqual(one);

    // Idle streams get heartbeat comments.
    const raw = await fetch(`${base}/api/instances/${id}/events`, { headers: { ...u.auth, Accept: "text/event-stream" } });
    const reader = raw.body!.getReader();
    let text = "";
    while (!text.includes(": heartbeat\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();

    for (const es of streams) es.close();
    // With no stream left, the poller stops: no more queries.
    // (The poll in progress when the last stream left still completes: wait for the poller to stop.)
    while (hub.watching > 0 || hub.polling) await new Promise((r) => setTimeout(r, 10));
    const idle = total();
    await new Promise((r) => setTimeout(r, 100));
    expect(total()).toBe(idle);
  });
});

describe("stream tickets in the request log", () => {
  it("are redacted from the logged URL", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const ctx = await createTestContext({ overrides: { logger: pino({ level: "info" }, sink) } });
    try {
      const u = await buildUser(ctx);
      await ctx.container.services.ledger.post(ctx.container.db.prisma, { userId: u.id, type: "TOPUP", amount: 1000, reason: "t" });
      const plan = await ctx.container.db.prisma.plan.findFirstOrThrow({ where: { slug: "starter", service: { slug: "ghost" } } });
      const id = (await ctx.api.post("/api/instances").set(u.auth).send({ planId: plan.id, name: "logged" })).body.instance.id;
      const { ticket } = (await ctx.api.post(`/api/instances/${id}/stream-ticket`).set(u.auth)).body;
      const res = await ctx.api.get(`/api/instances/${id}/events?ticket=${ticket}&pageSize=5`);
      expect(res.status).toBe(200);
      const logged = lines.join("");
      expect(logged).toContain(`/api/instances/${id}/events?ticket=[redacted]&pageSize=5`);
      expect(logged).not.toContain(ticket);
    } finally {
      await ctx.close();
    }
  });
});

import type { Request, Response } from "express";
import { caller } from "../../platform/http/auth.js";
import { ValidationError } from "../../platform/domain-errors.js";
import { input } from "../../platform/http/request-validation.js";
import { IDEMPOTENCY_HEADER, idempotencyKeyFrom } from "../../platform/idempotency.js";
import type { InstanceEventHub, InstanceStatusView } from "./instance-event-hub.js";
import { SseWriter } from "./instance-stream.js";
import type {
  InstanceCreateReq,
  InstanceEventsQuery,
  InstanceListQuery,
  InstanceLogsQuery,
  InstanceRestoreReq,
  InstanceUpdateReq,
} from "./instances.schema.js";
import type { InstanceEventView, InstancesService } from "./instances.service.js";
import type { StreamLimits } from "./stream-limits.js";
import type { StreamTickets } from "./stream-tickets.js";

type Cursor = { createdAt: Date; id: string };
const isAfter = (e: InstanceEventView, c: Cursor) => {
  const t = Date.parse(e.createdAt);
  return t > c.createdAt.getTime() || (t === c.createdAt.getTime() && e.id > c.id);
};

export interface InstanceStreamDeps {
  hub: InstanceEventHub;
  limits: StreamLimits;
  tickets: StreamTickets;
  heartbeatMs: number;
  shutdownSignal: AbortSignal;
}

type IdParams = { id: string };

export class InstancesController {
  constructor(
    private readonly instances: InstancesService,
    private readonly opts: InstanceStreamDeps,
  ) {}

  list = async (_req: Request, res: Response) => {
    res.json(await this.instances.list(caller(res), input<unknown, InstanceListQuery>(res).query));
  };

  get = async (_req: Request, res: Response) => {
    res.json({ instance: await this.instances.get(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  /** `{planId, name}` buys and provisions (201, as POST /api/subscriptions); `{subscriptionId}` re-provisions (202). */
  create = async (req: Request, res: Response) => {
    const body = input<InstanceCreateReq>(res).body;
    if ("planId" in body) {
      const key = idempotencyKeyFrom(req.headers[IDEMPOTENCY_HEADER.toLowerCase()], false);
      const r = await this.instances.buy(caller(res), body, key);
      if (r.replayed) res.setHeader("Idempotent-Replayed", "true");
      res.status(r.status).json(r.body);
      return;
    }
    res.status(202).json({ instance: await this.instances.create(caller(res), body) });
  };

  streamTicket = async (_req: Request, res: Response) => {
    const { params } = input<unknown, unknown, IdParams>(res);
    const who = caller(res);
    await this.instances.get(who, params.id);
    res.set("Cache-Control", "no-store");
    res.status(201).json(await this.opts.tickets.issue(who, params.id));
  };

  update = async (_req: Request, res: Response) => {
    const { body, params } = input<InstanceUpdateReq, unknown, IdParams>(res);
    res.status(202).json({ instance: await this.instances.update(caller(res), params.id, body) });
  };

  remove = async (_req: Request, res: Response) => {
    res.status(202).json({ instance: await this.instances.delete(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  restart = async (_req: Request, res: Response) => {
    res.status(202).json({ instance: await this.instances.restart(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  restore = async (_req: Request, res: Response) => {
    const { body, params } = input<InstanceRestoreReq, unknown, IdParams>(res);
    res.status(202).json({ instance: await this.instances.restore(caller(res), params.id, body) });
  };

  stop = async (_req: Request, res: Response) => {
    res.status(202).json({ instance: await this.instances.stop(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  start = async (_req: Request, res: Response) => {
    res.status(202).json({ instance: await this.instances.start(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  credentials = async (_req: Request, res: Response) => {
    res.set("Cache-Control", "no-store");
    res.json({ credentials: await this.instances.credentials(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  logs = async (req: Request, res: Response) => {
    const { params, query } = input<unknown, InstanceLogsQuery, IdParams>(res);
    if (!query.follow) {
      res.json({ lines: await this.instances.logs(caller(res), params.id, query) });
      return;
    }
    const who = caller(res);
    const release = this.opts.limits.acquire(who.userId, "logs");
    let stream: Awaited<ReturnType<InstancesService["followLogs"]>>;
    try {
      stream = await this.instances.followLogs(who, params.id, query);
    } catch (err) {
      release();
      throw err;
    }
    res.on("close", release);
    res.status(200).set({ "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no" });
    res.flushHeaders();
    const stop = () => stream.destroy();
    req.on("close", stop);
    // Graceful shutdown must not wait for a follower that never disconnects.
    const onShutdown = () => {
      stream.unpipe(res);
      stop();
      res.end();
    };
    this.opts.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
    res.on("close", () => this.opts.shutdownSignal.removeEventListener("abort", onShutdown));
    stream.on("error", () => res.end());
    stream.pipe(res);
  };

  /** JSON timeline, or a live `text/event-stream` when the client asks for one (see instance-stream.ts). */
  events = async (req: Request, res: Response) => {
    const { params, query } = input<unknown, InstanceEventsQuery, IdParams>(res);
    const who = caller(res);
    if (req.get("accept")?.includes("text/event-stream") !== true) {
      res.json(await this.instances.events(who, params.id, query));
      return;
    }
    const initial = await this.instances.get(who, params.id);
    const resumeId = req.get("last-event-id") || query.lastEventId;
    if (resumeId !== undefined && resumeId.length > 64) throw new ValidationError("Last-Event-ID is too long");
    const resume = resumeId ? await this.instances.eventCursor(params.id, resumeId) : undefined;
    const release = this.opts.limits.acquire(who.userId, "events");

    const sse = new SseWriter(res);
    const sent = new Set<string>();
    let lastId = resume?.id;
    let lastStatus: string | undefined;
    let buffered: { events: InstanceEventView[]; status?: InstanceStatusView } | undefined = { events: [] };
    let finished = false;

    const sendEvents = (events: InstanceEventView[]) => {
      for (const e of events) {
        if (sent.has(e.id) || (resume && !isAfter(e, resume))) continue;
        sent.add(e.id);
        lastId = e.id;
        sse.message(e.id, { type: "event", event: e });
        // New events are always followed by the current status, even an unchanged one: a restart that
        // starts and completes between two polls still ends with a status message the client can trust.
        lastStatus = undefined;
      }
    };
    const finish = (reason: "terminated" | "shutdown") => {
      if (finished) return;
      finished = true;
      sse.message(lastId, { type: "end", reason });
      sse.end();
    };
    const sendStatus = (s: InstanceStatusView) => {
      const key = `${s.status}\u0000${s.statusMessage ?? ""}`;
      if (key !== lastStatus) {
        lastStatus = key;
        sse.message(lastId, { type: "status", status: s.status, statusMessage: s.statusMessage });
      }
      if (s.status === "TERMINATED") finish("terminated");
    };

    // Subscribe before reading the backlog, so nothing written in between is missed (duplicates are skipped).
    let unsubscribe: () => void;
    try {
      unsubscribe = await this.opts.hub.subscribe({
        instanceId: params.id,
        onEvents: (events) => (buffered ? buffered.events.push(...events) : sendEvents(events)),
        onStatus: (status) => {
          if (buffered) buffered.status = status;
          else sendStatus(status);
        },
      });
    } catch (err) {
      release();
      throw err;
    }
    let heartbeat: NodeJS.Timeout | undefined;
    const onShutdown = () => finish("shutdown");
    let cleaned = false;
    const cleanup = () => {
      if (cleaned) return;
      cleaned = true;
      unsubscribe();
      release();
      clearInterval(heartbeat);
      this.opts.shutdownSignal.removeEventListener("abort", onShutdown);
    };
    res.on("close", cleanup);
    let backlog: InstanceEventView[];
    try {
      backlog = await this.instances.allEventsSince(params.id, resume);
    } catch (err) {
      cleanup();
      throw err;
    }
    // A resumed stream of a TERMINATED instance with nothing new: 204 tells EventSource to stop reconnecting.
    // The shared poller may have handed over events the client already has (an idle poller's first poll
    // re-reads its lookback window): only those after the resume point are new.
    if (resume && backlog.length === 0 && !buffered.events.some((e) => isAfter(e, resume)) && initial.status === "TERMINATED") {
      cleanup();
      res.status(204).end();
      return;
    }
    if (!sse.open) return cleanup();
    sse.start();
    const early = buffered;
    buffered = undefined;
    sendEvents(backlog);
    sendEvents(early.events);
    sendStatus(early.status ?? initial);
    if (finished) return;
    heartbeat = setInterval(() => sse.heartbeat(), this.opts.heartbeatMs);
    if (this.opts.shutdownSignal.aborted) onShutdown();
    else this.opts.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
  };
}

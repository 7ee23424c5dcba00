import type { Request, Response } from "express";
import { caller } from "../../platform/http/auth.js";
import { input } from "../../platform/http/validate.js";
import type {
  InstanceCreateReq,
  InstanceEventsQuery,
  InstanceListQuery,
  InstanceLogsQuery,
  InstanceUpdateReq,
} from "./instances.schema.js";
import type { InstanceEventView, InstancesService } from "./instances.service.js";

type IdParams = { id: string };

/** Waits ms, or less when the signal aborts; leaves no listener behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export class InstancesController {
  constructor(
    private readonly instances: InstancesService,
    private readonly opts: { eventPollMs: number; heartbeatMs: number; shutdownSignal: AbortSignal },
  ) {}

  list = async (_req: Request, res: Response) => {
    res.json(await this.instances.list(caller(res), input<unknown, InstanceListQuery>(res).query));
  };

  get = async (_req: Request, res: Response) => {
    res.json({ instance: await this.instances.get(caller(res), input<unknown, unknown, IdParams>(res).params.id) });
  };

  create = async (_req: Request, res: Response) => {
    res.status(202).json({ instance: await this.instances.create(caller(res), input<InstanceCreateReq>(res).body) });
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
    const stream = await this.instances.followLogs(caller(res), params.id, query);
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

  /** JSON timeline, or a live `text/event-stream` when the client asks for one. */
  events = async (req: Request, res: Response) => {
    const { params, query } = input<unknown, InstanceEventsQuery, IdParams>(res);
    const who = caller(res);
    if (req.get("accept")?.includes("text/event-stream") !== true) {
      res.json(await this.instances.events(who, params.id, query));
      return;
    }
    const initial = await this.instances.get(who, params.id);
    res
      .status(200)
      .set({ "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.flushHeaders();
    let cursor: { createdAt: Date; id: string } | undefined;
    let closed = false;
    let lastStatus = initial.status;
    req.on("close", () => {
      closed = true;
    });
    const send = (event: string, data: unknown, id?: string) => {
      res.write(`${id ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    let lastBeat = Date.now();
    // Polling the database (not an in-process bus) so every replica's writes reach every stream.
    while (!closed) {
      if (this.opts.shutdownSignal.aborted) {
        send("end", { reason: "server shutting down; reconnect" });
        break;
      }
      const batch: InstanceEventView[] = await this.instances.eventsSince(params.id, cursor);
      for (const e of batch) send("instance-event", e, e.id);
      const last = batch.at(-1);
      if (last) cursor = { createdAt: new Date(last.createdAt), id: last.id };
      const now = await this.instances.get(who, params.id);
      if (now.status !== lastStatus || batch.length) {
        send("status", { status: now.status, statusMessage: now.statusMessage });
        lastStatus = now.status;
      }
      if (now.status === "TERMINATED" && batch.length === 0) {
        send("end", { status: now.status });
        break;
      }
      if (Date.now() - lastBeat > this.opts.heartbeatMs) {
        res.write(": keep-alive\n\n");
        lastBeat = Date.now();
      }
      await sleep(this.opts.eventPollMs, this.opts.shutdownSignal);
    }
    res.end();
  };
}

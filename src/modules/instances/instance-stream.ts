/**
 * The instance event stream's wire format (`GET /api/instances/:id/events` with
 * `Accept: text/event-stream`). Every message is an unnamed SSE event, so a browser's default
 * `EventSource.onmessage` receives all of them, and each carries an `id:` — the id of the newest
 * timeline event the client has been sent — so a reconnect's `Last-Event-ID` (or `?lastEventId=`)
 * resumes after it without replaying anything. `data:` is one JSON object, discriminated by `type`.
 */
import type { Response } from "express";
import { z } from "zod";
import { INSTANCE_STATUSES } from "./instances.schema.js";

export const InstanceStreamMessageSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("event"),
      event: z.object({
        id: z.string(),
        type: z.string().describe("e.g. CREATED, PROVISIONING_STARTED, OBJECTS_APPLIED, RUNNING, FAILED"),
        level: z.string(),
        message: z.string(),
        data: z.unknown(),
        createdAt: z.string(),
      }),
    })
    .describe("A new timeline event"),
  z
    .object({ type: z.literal("status"), status: z.enum(INSTANCE_STATUSES), statusMessage: z.string().nullable() })
    .describe("The instance's status: on connect and whenever it changes"),
  z
    .object({ type: z.literal("end"), reason: z.enum(["terminated", "shutdown"]) })
    .describe(
      "The server closes the stream: the instance is TERMINATED (a resume then gets 204), or this replica is shutting down (reconnect)",
    ),
]);
export type InstanceStreamMessage = z.infer<typeof InstanceStreamMessageSchema>;

/** Reconnection delay suggested to EventSource clients (the SSE `retry:` field). */
export const SSE_RETRY_MS = 2_000;

export const EVENT_STREAM_DESCRIPTION = [
  "With `Accept: text/event-stream` the timeline is a live Server-Sent Events stream instead of JSON.",
  "Authenticate with the bearer header or, from a browser `EventSource`, with `?ticket=` from",
  "`POST /api/instances/{id}/stream-ticket` (single use). Every message is an unnamed event",
  "(`onmessage`) with an `id:`; `data:` is JSON: `{type: 'event', event}`, `{type: 'status', status,",
  "statusMessage}` or `{type: 'end', reason}`. A status message follows every change of status and every",
  "batch of new events, so the last message after events always tells the current status.",
  "`Last-Event-ID` (sent by EventSource on reconnect) or",
  "`?lastEventId=` resumes after that event without replay; a resume of a TERMINATED instance with",
  "nothing new gets 204 (EventSource stops reconnecting). Idle streams get `: heartbeat` comments.",
  "429 beyond MAX_EVENT_STREAMS_PER_USER open streams.",
].join(" ");

/** Writes SSE frames to a response, ignoring writes after the client went away. */
export class SseWriter {
  constructor(private readonly res: Response) {}

  get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  start(): void {
    this.res
      .status(200)
      .set({ "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    this.res.flushHeaders();
    this.write(`retry: ${SSE_RETRY_MS}\n\n`);
  }

  message(id: string | undefined, data: InstanceStreamMessage): void {
    // Ids are cuids (no newlines); JSON.stringify never emits a raw newline.
    this.write(`${id ? `id: ${id}\n` : ""}data: ${JSON.stringify(data)}\n\n`);
  }

  heartbeat(): void {
    this.write(": heartbeat\n\n");
  }

  end(): void {
    if (this.open) this.res.end();
  }

  private write(chunk: string): void {
    if (this.open) this.res.write(chunk);
  }
}

/**
 * Pod logs: deterministic, plausible lines per container, one every `intervalMs` since the
 * container started, so tail/since/timestamps/follow behave like the kubelet's log endpoint.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { errors } from "./errors.js";
import { isRecord, type KubeObject } from "./types.js";

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isRecord(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isRecord) : []);

export interface LogQuery {
  container?: string;
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  timestamps: boolean;
  follow: boolean;
  previous: boolean;
  limitBytes?: number;
}

interface Flavour {
  boot: string[];
  steady: (i: number) => string;
}

function flavour(image: string, pod: string): Flavour {
  if (image.includes("n8n")) {
    return {
      boot: [
        "Initializing n8n process",
        "n8n ready on ::, port 5678",
        "Version: 1.64.0",
        "",
        "Editor is now accessible via:",
        "http://localhost:5678",
      ],
      steady: (i) => (i % 5 === 0 ? "Pruning old execution data" : `GET /healthz 200 ${1 + (i % 7)}ms`),
    };
  }
  if (image.includes("ghost")) {
    return {
      boot: [
        "[INFO] Ghost is running in production...",
        "[INFO] Your site is now available on http://localhost:2368/",
        "[INFO] Ctrl+C to shut down",
        "[INFO] Ghost server started in 1.342s",
        "[INFO] Database is in a ready state.",
        "[INFO] Ghost booted in 2.118s",
      ],
      steady: (i) => `[INFO] "GET /" 200 ${8 + (i % 23)}ms`,
    };
  }
  if (image.includes("postgres")) {
    return {
      boot: [
        "PostgreSQL Database directory appears to contain a database; Skipping initialization",
        "LOG:  starting PostgreSQL 16.4 on x86_64-pc-linux-gnu",
        'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
        'LOG:  listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"',
        "LOG:  database system was shut down at 2024-01-01 00:00:00 UTC",
        "LOG:  database system is ready to accept connections",
      ],
      steady: (i) => (i % 2 === 0 ? "LOG:  checkpoint starting: time" : `LOG:  checkpoint complete: wrote ${i % 97} buffers`),
    };
  }
  return {
    boot: [`Starting ${image}`, `${pod} listening`],
    steady: (i) => `heartbeat ${i}: ok`,
  };
}

function bootLength(image: string, pod: string): number {
  return flavour(image, pod).boot.length;
}

export function lineText(image: string, pod: string, i: number): string {
  const f = flavour(image, pod);
  return i < f.boot.length ? f.boot[i] : f.steady(i);
}

function nanoTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(ms % 1000).padStart(3, "0")}000000Z`;
}

export interface LogPlan {
  container: Obj;
  image: string;
  startMs: number;
  /** For a crash-looping container: its lines stop with a fatal error. */
  crashed: boolean;
}

/** Resolves which container's logs to serve, or throws the kubelet's 400 errors. */
export function planLogs(pod: KubeObject, q: LogQuery): LogPlan {
  const name = pod.metadata.name;
  const containers = arr(rec(pod.spec).containers);
  let container: Obj | undefined;
  if (q.container) {
    container = containers.find((c) => c.name === q.container);
    if (!container) throw errors.badRequest(`container ${q.container} is not valid for pod ${name}`);
  } else if (containers.length === 1) container = containers[0];
  else {
    throw errors.badRequest(
      `a container name must be specified for pod ${name}, choose one of: [${containers.map((c) => c.name).join(" ")}]`,
    );
  }
  const cs = arr(rec(pod.status).containerStatuses).find((c) => c.name === container.name);
  const state = rec(cs?.state);
  const waiting = rec(state.waiting);
  if (q.previous) {
    // The kubelet serves only a terminated earlier instance of the container.
    const term = rec(rec(cs?.lastState).terminated);
    if (term.startedAt === undefined) {
      throw errors.badRequest(`previous terminated container "${String(container.name)}" in pod "${name}" not found`);
    }
    return { container, image: String(container.image), startMs: Date.parse(String(term.startedAt)), crashed: true };
  }
  if (isRecord(state.running)) {
    return {
      container,
      image: String(container.image),
      startMs: Date.parse(String(state.running.startedAt)),
      crashed: false,
    };
  }
  if (waiting.reason === "CrashLoopBackOff") {
    const term = rec(rec(cs?.lastState).terminated);
    return {
      container,
      image: String(container.image),
      startMs: Date.parse(String(term.startedAt)),
      crashed: true,
    };
  }
  const why =
    waiting.reason === "ImagePullBackOff" || waiting.reason === "ErrImagePull"
      ? "trying and failing to pull image"
      : String(waiting.reason ?? "ContainerCreating");
  throw errors.badRequest(`container "${String(container.name)}" in pod "${name}" is waiting to start: ${why}`);
}

export interface LogLine {
  index: number;
  timeMs: number;
  text: string;
}

export class LogSource {
  constructor(
    private readonly plan: LogPlan,
    private readonly podName: string,
    private readonly intervalMs: number,
  ) {
    this.boot = bootLength(plan.image, podName);
  }

  /** Index of the newest line that exists at `now`. */
  /** Boot lines are written right at start (1 ms apart), then one steady line per interval. */
  private readonly boot: number;

  lastIndex(now: number): number {
    if (this.plan.crashed) return 2;
    return this.boot - 1 + Math.max(0, Math.floor((now - this.plan.startMs) / this.intervalMs));
  }

  line(i: number): LogLine {
    const timeMs = this.plan.crashed
      ? this.plan.startMs + i * 10
      : i < this.boot
        ? this.plan.startMs + i
        : this.plan.startMs + (i - this.boot + 1) * this.intervalMs;
    let text = lineText(this.plan.image, this.podName, i);
    if (this.plan.crashed && i === 2) text = "Error: process exited with code 1 (simulated crash)";
    return { index: i, timeMs, text };
  }

  /** The lines a non-follow request returns (and that a follow request starts with). */
  initial(now: number, q: LogQuery): LogLine[] {
    const last = this.lastIndex(now);
    let first = 0;
    const since = q.sinceSeconds !== undefined ? now - q.sinceSeconds * 1000 : q.sinceTime ? Date.parse(q.sinceTime) : undefined;
    if (since !== undefined && !Number.isNaN(since)) {
      first = this.plan.crashed ? 0 : Math.max(0, this.boot - 1 + Math.floor((since - this.plan.startMs) / this.intervalMs));
      while (first <= last && this.line(first).timeMs < since) first++;
      while (first > 0 && this.line(first - 1).timeMs >= since) first--;
    }
    if (q.tailLines !== undefined && q.tailLines >= 0) first = Math.max(first, last - q.tailLines + 1);
    const out: LogLine[] = [];
    for (let i = first; i <= last; i++) out.push(this.line(i));
    return out;
  }

  format(line: LogLine, timestamps: boolean): string {
    return timestamps ? `${nanoTime(line.timeMs)} ${line.text}\n` : `${line.text}\n`;
  }
}

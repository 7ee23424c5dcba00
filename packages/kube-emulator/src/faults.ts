/**
 * Fault injection and the call recorder.
 *
 * Faults are rules matched against each request (method and path): added latency, an error
 * Status, a hung request (the client's timeout fires), a reset connection, each with an optional
 * probability and count. A total outage (connection refused) is handled by the server in index.ts.
 * The recorder keeps every request with its Kubernetes verb, so tests and benchmarks can count
 * API calls per operation (e.g. "a health sweep costs 2 LIST calls").
 * TEST/DEMO FIXTURE — see index.ts.
 */
import type { Rng } from "./types.js";

export interface FaultRule {
  /** Only requests with this HTTP method (any when absent). */
  method?: string;
  /** Only requests whose path matches (a RegExp, or a substring). Any when absent. */
  path?: RegExp | string;
  /** Delay before the request is handled (or before the error is returned). */
  latencyMs?: number;
  /** Answer with a Status of this HTTP code (500, 503, 429, 504...). */
  status?: number;
  /** Never answer; the connection stays open until the client gives up or the emulator stops. */
  hang?: boolean;
  /** Destroy the connection without an answer (the client sees ECONNRESET / socket hang up). */
  reset?: boolean;
  /** Chance that the rule applies to a matching request (default 1). Seeded, so reproducible. */
  probability?: number;
  /** The rule applies to at most this many requests, then retires. */
  times?: number;
}

export interface FaultDecision {
  latencyMs: number;
  status?: number;
  hang?: boolean;
  reset?: boolean;
}

interface ActiveRule extends FaultRule {
  id: number;
  used: number;
}

export class Faults {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  constructor(private readonly rng: Rng) {}

  /** Adds a rule; returns an id for `remove`. Rules are checked in order; latencies add up. */
  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.push({ ...rule, id, used: 0 });
    return id;
  }

  remove(id: number): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  /** Removes every rule (the outage, handled by the emulator, is cleared by `KubeEmulator.faults.reset`). */
  clear(): void {
    this.rules = [];
  }

  get active(): readonly FaultRule[] {
    return this.rules;
  }

  latency(ms: number, path?: RegExp | string): number {
    return this.add({ latencyMs: ms, path });
  }

  errorRate(probability: number, status = 500, path?: RegExp | string): number {
    return this.add({ probability, status, path });
  }

  failPath(path: RegExp | string, status = 500, times?: number): number {
    return this.add({ path, status, times });
  }

  timeout(path?: RegExp | string, times?: number): number {
    return this.add({ path, hang: true, times });
  }

  resetConnections(path?: RegExp | string, times?: number): number {
    return this.add({ path, reset: true, times });
  }

  decide(method: string, path: string): FaultDecision {
    const out: FaultDecision = { latencyMs: 0 };
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (rule.path !== undefined && !(typeof rule.path === "string" ? path.includes(rule.path) : rule.path.test(path))) continue;
      if (rule.times !== undefined && rule.used >= rule.times) continue;
      if (rule.probability !== undefined && this.rng.next() >= rule.probability) continue;
      rule.used++;
      out.latencyMs += rule.latencyMs ?? 0;
      if (out.status === undefined && rule.status !== undefined) out.status = rule.status;
      if (rule.hang) out.hang = true;
      if (rule.reset) out.reset = true;
    }
    this.rules = this.rules.filter((r) => r.times === undefined || r.used < r.times);
    return out;
  }
}

export type Verb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "apply"
  | "delete"
  | "deletecollection"
  | "log"
  | "discovery"
  | "other"
  | "unknown";

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  verb: Verb;
  /** e.g. "deployments", "pods", "pods.metrics.k8s.io" */
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** A fault rule decided the answer. */
  faulted: boolean;
  durationMs: number;
  at: number;
}

export interface CallFilter {
  method?: string;
  verb?: Verb;
  resource?: string;
  namespace?: string;
  path?: RegExp | string;
  status?: number;
}

export class Recorder {
  private list: RecordedCall[] = [];
  constructor(private readonly max = 100_000) {}

  record(call: RecordedCall): void {
    this.list.push(call);
    if (this.list.length > this.max) this.list.splice(0, this.list.length - this.max);
  }

  /** Recorded calls, oldest first, optionally filtered. */
  calls(filter: CallFilter = {}): RecordedCall[] {
    return this.list.filter(
      (c) =>
        (filter.method === undefined || c.method === filter.method.toUpperCase()) &&
        (filter.verb === undefined || c.verb === filter.verb) &&
        (filter.resource === undefined || c.resource === filter.resource) &&
        (filter.namespace === undefined || c.namespace === filter.namespace) &&
        (filter.status === undefined || c.status === filter.status) &&
        (filter.path === undefined || (typeof filter.path === "string" ? c.path.includes(filter.path) : filter.path.test(c.path))),
    );
  }

  count(filter: CallFilter = {}): number {
    return this.calls(filter).length;
  }

  /** Requests that hit no route: a test should treat any of these as a bug. */
  unknownRoutes(): RecordedCall[] {
    return this.list.filter((c) => c.verb === "unknown");
  }

  reset(): void {
    this.list = [];
  }
}

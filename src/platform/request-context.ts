/**
 * Who is asking, for code far from the HTTP layer (the audit log): the request id, the client IP
 * (as Express computes it under TRUST_PROXY) and, once `authenticate` has run, the caller. Kept in
 * AsyncLocalStorage for the duration of a request, so services record it without taking Express
 * objects or threading extra parameters. Outside a request (loops, scripts) there is none.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestContext {
  requestId: string;
  ip: string | undefined;
  actor?: { userId: string; role: string };
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

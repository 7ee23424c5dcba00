import { KubeError, retryAfterMs, toKubeError } from "./kube-errors.js";

export interface RetryOptions {
  /** Total attempts including the first (>= 1). */
  maxAttempts: number;
  /** Delay before the first retry; doubles each time. */
  baseDelayMs: number;
  /** Upper bound of a single backoff delay (default 10 s). */
  maxDelayMs?: number;
  /**
   * Upper bound of a wait the server asked for with `Retry-After` (default 30 s). A server that says
   * how long to wait is obeyed up to this bound, even past `maxDelayMs`: retrying sooner only earns
   * another 429.
   */
  maxRetryAfterMs?: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * "Equal jitter" exponential backoff: half the exponential delay is fixed, half is random, so
 * replicas retrying after the same outage spread out but still back off.
 */
export function backoffDelayMs(attempt: number, opts: RetryOptions, random: () => number = Math.random): number {
  const cap = opts.maxDelayMs ?? 10_000;
  const exp = Math.min(cap, opts.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** The wait before retry number `attempt`: the backoff, or longer when the server's `Retry-After` says so. */
export function retryDelayMs(attempt: number, opts: RetryOptions, err: KubeError, random: () => number = Math.random): number {
  const backoff = backoffDelayMs(attempt, opts, random);
  const asked = retryAfterMs(err);
  return asked === undefined ? backoff : Math.max(backoff, Math.min(asked, opts.maxRetryAfterMs ?? 30_000));
}

/**
 * Run `fn`, mapping failures to `KubeError`s and retrying only the transient ones (unavailable,
 * timeouts, 429/5xx) up to `maxAttempts`. The final error carries the attempt count in `attempts`.
 */
export async function withRetry<T>(
  operation: string,
  opts: RetryOptions,
  fn: (attempt: number) => Promise<T>,
  onRetry?: (err: KubeError, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (raw) {
      const err = toKubeError(raw, operation);
      if (!(err instanceof KubeError)) throw err;
      if (!err.transient || attempt >= opts.maxAttempts) {
        err.attempts = attempt;
        throw err;
      }
      const delay = retryDelayMs(attempt, opts, err);
      onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

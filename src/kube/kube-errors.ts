/**
 * Errors of the kube layer. Every failure of a Kubernetes API call is mapped once (in the client)
 * into one of the `KubeError` subclasses; callers branch on the class or on `.transient`, never on
 * message text. The original error is kept as `cause`.
 */

import { networkErrorCode } from "../platform/network-errors.js";

/** One reason the API server (or our own validation) gave for rejecting an object. */
export interface KubeCause {
  field?: string;
  reason?: string;
  message: string;
}

export interface KubeErrorDetails {
  /** HTTP status, when there was a response. */
  statusCode?: number;
  /** `Status.reason` from the API server, e.g. "NotFound", "AlreadyExists". */
  reason?: string;
  causes?: KubeCause[];
  /** What was being done, e.g. "apply apps/v1 Deployment user-1/blog". */
  operation?: string;
  cause?: unknown;
}

export abstract class KubeError extends Error {
  /** Whether retrying the same request may succeed. */
  abstract readonly transient: boolean;
  readonly statusCode?: number;
  readonly reason?: string;
  readonly causes: KubeCause[];
  readonly operation?: string;
  /** How many attempts were made before giving up (set by the retry loop). */
  attempts = 1;

  constructor(message: string, details: KubeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.statusCode = details.statusCode;
    this.reason = details.reason;
    this.causes = details.causes ?? [];
    this.operation = details.operation;
  }
}

/** 404: the object (or the API for its kind) does not exist. */
export class KubeNotFoundError extends KubeError {
  readonly transient = false;
}

/** 409: AlreadyExists, or a stale resourceVersion / apply field conflict. */
export class KubeConflictError extends KubeError {
  readonly transient = false;
}

/** 400/422: the API server rejected the object; `causes` lists the fields. */
export class KubeInvalidError extends KubeError {
  readonly transient = false;
}

/** 401/403: not allowed (RBAC, or a create inside a terminating namespace). */
export class KubeForbiddenError extends KubeError {
  readonly transient = false;
}

/**
 * 403 because the namespace is being deleted (cause reason NamespaceTerminating). Transient: once the
 * deletion finishes, the namespace can be created again — e.g. a user re-subscribing right after
 * deleting their last instance.
 */
export class KubeNamespaceTerminatingError extends KubeError {
  readonly transient = true;
}

/** 429, 5xx, connection refused/reset, timeouts: the cluster is (maybe briefly) unavailable. */
export class KubeUnavailableError extends KubeError {
  readonly transient = true;
}

/** A wait (e.g. rollout status) ran out of time. Not retried: the caller decides what a timeout means. */
export class KubeTimeoutError extends KubeError {
  readonly transient = false;
}

/** An object we were about to apply failed our own validation; nothing was sent to the cluster. */
export class InvalidManifestError extends Error {
  readonly causes: KubeCause[];
  constructor(
    readonly objectRef: string,
    causes: KubeCause[],
  ) {
    super(`invalid manifest ${objectRef}: ${causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join("; ")}`);
    this.name = "InvalidManifestError";
    this.causes = causes;
  }
}

/** A name given to a template cannot become valid Kubernetes object names. */
export class InvalidNameError extends Error {
  constructor(
    readonly value: string,
    readonly rule: string,
  ) {
    super(`invalid Kubernetes name "${value}": ${rule}`);
    this.name = "InvalidNameError";
  }
}

// ---------------------------------------------------------------------------------------------
// Mapping: the one place where raw failures of a Kubernetes call become typed errors.

/**
 * A non-2xx answer of the API server, as the client received it: the status, the raw body (usually a
 * `Status` JSON) and the headers (Retry-After). Never seen outside the client: `toKubeError` maps it.
 */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`HTTP ${code}`);
    this.name = "KubeApiError";
  }
}

interface StatusBody {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

/**
 * An API server's answer: a `KubeApiError`, or anything shaped like one (client-node's `ApiException`,
 * which tests' own clients throw), duck-typed.
 */
function isApiException(err: unknown): err is { code: number; body: unknown; headers?: Record<string, unknown>; message: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number" && "body" in err;
}

/** The body of an API error is the raw response text (usually a `Status` JSON); parse it once here. */
function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === "object" && parsed !== null ? (parsed as StatusBody) : undefined;
    } catch {
      return undefined;
    }
  }
  return typeof body === "object" && body !== null ? (body as StatusBody) : undefined;
}

function networkCode(err: unknown): string | undefined {
  const code = networkErrorCode(err);
  if (code) return code;
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: unknown }).name;
    const type = (e as { type?: unknown }).type;
    // An aborted request surfaces as AbortError (node-fetch: type "aborted"); the client's own request
    // timeout (client.ts) fails a call with a TimeoutError.
    if (name === "AbortError" || name === "TimeoutError" || type === "aborted" || type === "request-timeout") return "ETIMEDOUT";
  }
  return undefined;
}

/** Retry-After (seconds) of a 429/503, when the server sent one. */
export function retryAfterMs(err: unknown): number | undefined {
  const cause = err instanceof KubeError ? (err.cause as unknown) : err;
  const headers = (cause as { headers?: Record<string, string> } | undefined)?.headers;
  const value = headers?.["retry-after"] ?? headers?.["Retry-After"];
  const seconds = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * Map any failure of a Kubernetes call to a `KubeError`. Errors that are neither API responses nor
 * network failures (programming errors) are returned unchanged, so they are never retried.
 */
export function toKubeError(err: unknown, operation?: string): unknown {
  if (err instanceof KubeError) return err;
  if (isApiException(err)) {
    const status = parseStatus(err.body);
    const statusCode = err.code;
    const reason = status?.reason;
    const causes: KubeCause[] = (status?.details?.causes ?? []).map((c) => ({
      ...(c.field ? { field: c.field } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      message: c.message ?? c.reason ?? "invalid",
    }));
    const message = `${operation ? `${operation}: ` : ""}${status?.message ?? err.message} (HTTP ${statusCode}${reason ? ` ${reason}` : ""})`;
    const details: KubeErrorDetails = { statusCode, reason, causes, operation, cause: err };
    if (statusCode === 404) return new KubeNotFoundError(message, details);
    if (statusCode === 409 || statusCode === 410) return new KubeConflictError(message, details);
    if (statusCode === 400 || statusCode === 422 || statusCode === 405 || statusCode === 415) return new KubeInvalidError(message, details);
    if (statusCode === 403 && (reason === "NamespaceTerminating" || causes.some((c) => c.reason === "NamespaceTerminating"))) {
      return new KubeNamespaceTerminatingError(message, details);
    }
    if (statusCode === 401 || statusCode === 403) return new KubeForbiddenError(message, details);
    if (statusCode === 408 || statusCode === 429 || statusCode >= 500) return new KubeUnavailableError(message, details);
    return new KubeInvalidError(message, details);
  }
  const code = networkCode(err);
  if (code) {
    const text = err instanceof Error ? err.message : String(err);
    return new KubeUnavailableError(`${operation ? `${operation}: ` : ""}cluster unreachable (${code}): ${text}`, {
      reason: code === "ETIMEDOUT" ? "Timeout" : "Unreachable",
      operation,
      cause: err,
    });
  }
  return err;
}

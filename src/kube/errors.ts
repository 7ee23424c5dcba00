/**
 * Errors of the kube layer. Every failure of a Kubernetes API call is mapped once (in the client)
 * into one of the `KubeError` subclasses; callers branch on the class or on `.transient`, never on
 * message text. The original error is kept as `cause`.
 */

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
  constructor(readonly objectRef: string, causes: KubeCause[]) {
    super(`invalid manifest ${objectRef}: ${causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join("; ")}`);
    this.name = "InvalidManifestError";
    this.causes = causes;
  }
}

/** A name given to a template cannot become valid Kubernetes object names. */
export class InvalidNameError extends Error {
  constructor(readonly value: string, readonly rule: string) {
    super(`invalid Kubernetes name "${value}": ${rule}`);
    this.name = "InvalidNameError";
  }
}

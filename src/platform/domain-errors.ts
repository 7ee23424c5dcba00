/**
 * Domain errors. They know nothing of HTTP: the one error middleware (platform/http/error-handler.ts)
 * maps each class to a status and a stable machine-readable code.
 */
export interface ErrorDetail {
  path?: string;
  message: string;
  [key: string]: unknown;
}

export abstract class AppError extends Error {
  abstract readonly code: string;
  readonly details: ErrorDetail[] | Record<string, unknown> | undefined;

  constructor(message: string, options?: { cause?: unknown; details?: ErrorDetail[] | Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details;
  }
}

export class ValidationError extends AppError {
  readonly code = "VALIDATION_ERROR";
}
export class UnauthorizedError extends AppError {
  readonly code = "UNAUTHORIZED";
}
export class ForbiddenError extends AppError {
  readonly code = "FORBIDDEN";
}
export class NotFoundError extends AppError {
  readonly code = "NOT_FOUND";
}
export class ConflictError extends AppError {
  readonly code: string = "CONFLICT";
}
/** An action that the object's current state does not allow (e.g. restarting a TERMINATED instance). */
export class InvalidStateError extends ConflictError {
  override readonly code = "INVALID_STATE";
}
export class IdempotencyKeyReusedError extends ConflictError {
  override readonly code = "IDEMPOTENCY_KEY_REUSED";
}
export class InsufficientCreditsError extends AppError {
  readonly code = "INSUFFICIENT_CREDITS";
}
export class QuotaExceededError extends AppError {
  readonly code = "QUOTA_EXCEEDED";
}
/** Well-formed input that cannot be carried out as asked (e.g. a backup restored into another service's plan). */
export class UnprocessableError extends AppError {
  readonly code: string = "UNPROCESSABLE";
}
export class RateLimitedError extends AppError {
  readonly code = "RATE_LIMITED";
}
export class DependencyUnavailableError extends AppError {
  readonly code: string = "DEPENDENCY_UNAVAILABLE";
}

/** Throws NotFoundError unless the value exists, and narrows its type. */
export function found<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new NotFoundError(`${what} not found`);
  return value;
}

/** A version upgrade the catalog's upgrade paths do not allow (e.g. a PostgreSQL major version in place). */
export class UpgradeNotAllowedError extends ConflictError {
  override readonly code = "UPGRADE_NOT_ALLOWED";
}

/**
 * The one error shape and the one place that maps errors to HTTP statuses:
 * {"error": {"code", "message", "details", "requestId"}}.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import { Prisma } from "../db/index.js";
import {
  AppError,
  ConflictError,
  DependencyUnavailableError,
  ForbiddenError,
  InsufficientCreditsError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
} from "../domain-errors.js";
import type { Logger } from "../logger.js";

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; requestId: string; stack?: string };
}

const STATUS_BY_CLASS: Array<[abstract new (...args: never[]) => AppError, number]> = [
  [ValidationError, 400],
  [UnauthorizedError, 401],
  [InsufficientCreditsError, 402],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [QuotaExceededError, 422],
  [RateLimitedError, 429],
  [DependencyUnavailableError, 503],
];

export function statusOf(err: AppError): number {
  for (const [cls, status] of STATUS_BY_CLASS) if (err instanceof cls) return status;
  return 500;
}

/** Database errors are translated by their code, never by message text. */
export function translateDbError(err: unknown): AppError | undefined {
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === "P2002") return new ConflictError("A conflicting object already exists", { cause: err });
    if (err.code === "P2025") return new NotFoundError("Not found", { cause: err });
    if (err.code === "P2003") return new ConflictError("A related object is missing or still in use", { cause: err });
    // Can't reach the server, timed out, connection closed, pool exhausted: the dependency is down, not the request.
    if (["P1001", "P1002", "P1008", "P1017", "P2024"].includes(err.code)) {
      return new DependencyUnavailableError("The database is unavailable", { cause: err });
    }
  }
  if (err instanceof Prisma.PrismaClientInitializationError) {
    return new DependencyUnavailableError("The database is unavailable", { cause: err });
  }
  return undefined;
}

/** An error body in the one shape, for middleware that answers on its own (rate limiter, 404). */
export function errorBody(requestId: string, code: string, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }), requestId } };
}

export const notFoundHandler: RequestHandler = (req) => {
  throw new NotFoundError(`Route ${req.method} ${req.path} not found`);
};

export function errorHandler(opts: { logger: Logger; exposeStack: boolean }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = String(req.id ?? "");
    let appErr: AppError | undefined = err instanceof AppError ? err : translateDbError(err);
    // body-parser: malformed JSON, too large, wrong charset.
    const bodyErr = err as { type?: string; status?: number; expose?: boolean; message?: string };
    if (!appErr && typeof bodyErr?.type === "string" && typeof bodyErr.status === "number" && bodyErr.status < 500) {
      if (bodyErr.type === "entity.parse.failed") appErr = new ValidationError("Malformed JSON body");
      else if (bodyErr.type === "entity.too.large") {
        res.status(413).json(errorBody(requestId, "PAYLOAD_TOO_LARGE", "Request body is too large"));
        return;
      } else appErr = new ValidationError(bodyErr.message ?? "Bad request body");
    }
    if (!appErr) {
      opts.logger.error({ err, requestId }, "unhandled error");
      const body = errorBody(requestId, "INTERNAL_ERROR", "Internal server error");
      if (opts.exposeStack && err instanceof Error) body.error.stack = err.stack;
      res.status(500).json(body);
      return;
    }
    const status = statusOf(appErr);
    if (status >= 500) opts.logger.error({ err: appErr, requestId }, appErr.message);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json(errorBody(requestId, appErr.code, appErr.message, appErr.details));
  };
}

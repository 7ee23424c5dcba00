/**
 * The one error shape and the one place that maps errors to HTTP statuses:
 * {"error": {"code", "message", "details", "requestId"}}.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import { Prisma, sqlStateOf } from "../db/index.js";
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
  UnprocessableError,
  ValidationError,
} from "../domain-errors.js";
import { type Logger, withoutQueryArguments } from "../logger.js";
import { networkErrorCode } from "../network-errors.js";

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
  [UnprocessableError, 422],
  [RateLimitedError, 429],
  [DependencyUnavailableError, 503],
];

export function statusOf(err: AppError): number {
  for (const [cls, status] of STATUS_BY_CLASS) if (err instanceof cls) return status;
  return 500;
}

/**
 * Data the database refuses to store (a NUL byte, a number out of range, a string too long) came
 * from the client: it is a 400, not a 500. Inputs are validated before they reach the database
 * (hostile-input.ts, the zod schemas); this is the net under that.
 */
const CLIENT_DATA_SQLSTATES: Record<string, string> = {
  "22021": "The request contains a character that cannot be stored (e.g. NUL)",
  "22P05": "The request contains a character that cannot be stored",
  "22003": "A number in the request is out of range",
  "22001": "A value in the request is too long",
  "22P02": "A value in the request has the wrong format",
  "22007": "A date in the request has the wrong format",
  "22008": "A date in the request is out of range",
};

/**
 * The database cannot be reached on a statement sent to the driver (`Database.read`, `.transaction`):
 * a network error, or the server refusing or dropping connections (SQLSTATE class 08, shutdown 57P01-03,
 * too many connections 53300). Prisma's own codes for these are mapped below.
 */
function isDriverUnavailable(err: unknown, state: string | undefined): boolean {
  if (state) return state.startsWith("08") || ["57P01", "57P02", "57P03", "53300"].includes(state);
  return networkErrorCode(err) !== undefined;
}

/** Database errors are translated by their code, never by message text. */
export function translateDbError(err: unknown): AppError | undefined {
  const state = sqlStateOf(err);
  if (state && CLIENT_DATA_SQLSTATES[state]) return new ValidationError(CLIENT_DATA_SQLSTATES[state], { cause: err });
  // The same conflicts as Prisma's P2002 and P2003 below, from a statement sent past Prisma's engine.
  if (state === "23505") return new ConflictError("A conflicting object already exists", { cause: err });
  if (state === "23503") return new ConflictError("A related object is missing or still in use", { cause: err });
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === "P2002") return new ConflictError("A conflicting object already exists", { cause: err });
    if (err.code === "P2025") return new NotFoundError("Not found", { cause: err });
    if (err.code === "P2003") return new ConflictError("A related object is missing or still in use", { cause: err });
    // Can't reach the server, timed out, connection closed, pool exhausted: the dependency is down, not the request.
    if (["P1001", "P1002", "P1008", "P1017", "P2024"].includes(err.code)) {
      return new DependencyUnavailableError("The database is unavailable", { cause: err });
    }
  }
  if (err instanceof Prisma.PrismaClientInitializationError || isDriverUnavailable(err, state)) {
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
    // The router cannot decode a path parameter (`%`, `%FF`, `%E0%A4%A`): Express 5 throws a URIError.
    if (!appErr && err instanceof URIError) appErr = new ValidationError("Malformed percent-encoding in the URL path");
    // body-parser (malformed JSON, too large, wrong charset, bad gzip/deflate bytes, unknown encoding):
    // http-errors with a 4xx status. Nothing the client sends is a 5xx.
    const bodyErr = err as { type?: string; status?: number; message?: string; code?: unknown };
    if (!appErr && typeof bodyErr?.status === "number" && bodyErr.status >= 400 && bodyErr.status < 500) {
      if (bodyErr.status === 413) {
        res.status(413).json(errorBody(requestId, "PAYLOAD_TOO_LARGE", "Request body is too large"));
        return;
      }
      if (bodyErr.status === 415) {
        res.status(415).json(errorBody(requestId, "UNSUPPORTED_MEDIA_TYPE", bodyErr.message ?? "Unsupported content encoding"));
        return;
      }
      if (bodyErr.type === "entity.parse.failed") appErr = new ValidationError("Malformed JSON body");
      else if (typeof bodyErr.type === "string") appErr = new ValidationError(bodyErr.message ?? "Bad request body");
      else if (typeof bodyErr.code === "string" && bodyErr.code.startsWith("Z_")) {
        appErr = new ValidationError("Malformed request body: it does not match its Content-Encoding");
      } else appErr = new ValidationError("Bad request");
    }
    if (!appErr) {
      opts.logger.error({ err, requestId }, "unhandled error");
      const body = errorBody(requestId, "INTERNAL_ERROR", "Internal server error");
      if (opts.exposeStack && err instanceof Error) body.error.stack = (withoutQueryArguments(err) as Error).stack;
      res.status(500).json(body);
      return;
    }
    const status = statusOf(appErr);
    if (status >= 500) opts.logger.error({ err: appErr, requestId }, appErr.message);
    if (res.headersSent) {
      res.end();
      return;
    }
    const retryAfter = (appErr as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === "number") res.setHeader("Retry-After", String(retryAfter));
    res.status(status).json(errorBody(requestId, appErr.code, appErr.message, appErr.details));
  };
}

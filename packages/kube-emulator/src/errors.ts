/**
 * Kubernetes `Status` failures, shaped exactly like the API server's (metav1.Status).
 * Handlers throw ApiError; the router serialises `status` with `status.code` as HTTP status.
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { qualifiedResource, type ResourceInfo } from "./resources.js";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  readonly status: Status;
  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = "ApiError";
    this.status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      code,
    };
    if (details) this.status.details = details;
  }
  get code(): number {
    return this.status.code;
  }
}

function target(info: ResourceInfo, name?: string): StatusDetails {
  const d: StatusDetails = { kind: info.plural };
  if (name !== undefined) d.name = name;
  if (info.group) d.group = info.group;
  return d;
}

export const errors = {
  notFound(info: ResourceInfo, name: string): ApiError {
    return new ApiError(404, "NotFound", `${qualifiedResource(info)} "${name}" not found`, target(info, name));
  },
  namespaceNotFound(name: string): ApiError {
    return new ApiError(404, "NotFound", `namespaces "${name}" not found`, {
      name,
      kind: "namespaces",
    });
  },
  alreadyExists(info: ResourceInfo, name: string): ApiError {
    return new ApiError(409, "AlreadyExists", `${qualifiedResource(info)} "${name}" already exists`, target(info, name));
  },
  conflict(info: ResourceInfo, name: string): ApiError {
    return new ApiError(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${qualifiedResource(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      target(info, name),
    );
  },
  applyConflict(causes: StatusCause[]): ApiError {
    const n = causes.length;
    const body = causes.map((c) => `${c.message}: ${c.field}`).join("\n");
    const message = n === 1 ? `Apply failed with 1 conflict: ${body}` : `Apply failed with ${n} conflicts: ${body}`;
    return new ApiError(409, "Conflict", message, { causes });
  },
  invalid(info: ResourceInfo, name: string, causes: StatusCause[]): ApiError {
    const list = causes.map((c) => `${c.field}: ${c.message}`);
    const joined = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
    return new ApiError(422, "Invalid", `${info.kind}${info.group ? `.${info.group}` : ""} "${name}" is invalid: ${joined}`, {
      ...target(info, name),
      kind: info.kind,
      causes,
    });
  },
  terminating(info: ResourceInfo, name: string, namespace: string): ApiError {
    const why = `unable to create new content in namespace ${namespace} because it is being terminated`;
    return new ApiError(403, "Forbidden", `${qualifiedResource(info)} "${name}" is forbidden: ${why}`, {
      ...target(info, name),
      causes: [
        {
          reason: "NamespaceTerminating",
          message: why,
          field: "metadata.namespace",
        },
      ],
    });
  },
  badRequest(message: string): ApiError {
    return new ApiError(400, "BadRequest", message);
  },
  unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
    return new ApiError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
      {
        causes: [
          {
            reason: "UnexpectedServerResponse",
            message: `unsupported content type ${JSON.stringify(contentType)}`,
          },
        ],
      },
    );
  },
  methodNotSupported(info: ResourceInfo, verb: string): ApiError {
    return new ApiError(405, "MethodNotAllowed", `${verb} is not supported on resources of kind "${qualifiedResource(info)}"`, {
      ...target(info),
    });
  },
  /** Unknown route: real servers answer 404 too; this one also tags it so tests notice. */
  routeNotFound(): ApiError {
    return new ApiError(404, "NotFound", "the server could not find the requested resource", {
      causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
    });
  },
  expired(message: string): ApiError {
    return new ApiError(410, "Expired", message);
  },
  unauthorized(): ApiError {
    return new ApiError(401, "Unauthorized", "Unauthorized");
  },
  internal(message: string): ApiError {
    return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, {
      causes: [{ message }],
    });
  },
  unavailable(message = "the server is currently unable to handle the request"): ApiError {
    return new ApiError(503, "ServiceUnavailable", message, {
      retryAfterSeconds: 1,
    });
  },
  timeout(message = "the server was unable to return a response in the time allotted, but may still be processing the request"): ApiError {
    return new ApiError(504, "Timeout", message, { retryAfterSeconds: 1 });
  },
};

/** The Status for an arbitrary HTTP error code chosen by fault injection. */
export function statusForCode(code: number, message?: string): ApiError {
  switch (code) {
    case 429:
      return new ApiError(429, "TooManyRequests", message ?? "Too many requests, please try again later.", { retryAfterSeconds: 1 });
    case 500:
      return errors.internal(message ?? "injected fault");
    case 503:
      return errors.unavailable(message);
    case 504:
      return errors.timeout(message);
    default:
      return new ApiError(code, code >= 500 ? "InternalError" : "BadRequest", message ?? `injected fault (${code})`);
  }
}

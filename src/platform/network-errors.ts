/**
 * Errors of a connection that could not be made or was lost, by the codes Node (and undici, which
 * Node's fetch uses) give them: the one list for every client that talks over the network (the cluster
 * client, the database driver).
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** The network error code of `err` or of one of its causes (up to four deep), if it has one. */
export function networkErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code ?? (e as { errno?: unknown }).errno;
    if (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) return code;
  }
  return undefined;
}

/** Socket errors of a server that is down, unreachable or gone mid-conversation (Node and Bun spell them alike). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ConnectionRefused",
  "ConnectionClosed",
]);
/** postgres.js's own connection errors (CONNECT_TIMEOUT: the connect_timeout ran out). */
const DRIVER_CODES = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
]);
/**
 * SQLSTATEs of a server that cannot serve now: class 08 (connection exception), too many
 * connections, shutting down or starting up, a statement cancelled by a timeout, a read-only
 * standby after a failover.
 */
const UNAVAILABLE_STATES = /^(08[0-9A-Z]{3}|53300|57P01|57P02|57P03|57014|25006)$/;

/**
 * Why a failure means the database is unavailable (down, unreachable, timed out, restarting), or
 * null when it is something else (a bug, a constraint). Walks the chain of causes: drizzle wraps
 * the driver's error, the driver may wrap the socket's. The answer is the code found.
 */
export function databaseUnavailable(error: unknown): { code: string } | null {
  let e: unknown = error;
  for (let depth = 0; depth < 8 && e && typeof e === "object"; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (NETWORK_CODES.has(code) || DRIVER_CODES.has(code))) return { code };
    if (typeof code === "string" && UNAVAILABLE_STATES.test(code)) return { code };
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.ts";

/** What a client's own X-Request-Id may be for us to keep it: a short token that is safe in any log. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A client's X-Request-Id when it is a safe token (≤ 64 of [A-Za-z0-9._-]), else null (dropped). */
export function clientRequestIdOf(value: string | undefined): string | null {
  return value !== undefined && CLIENT_REQUEST_ID.test(value) ? value : null;
}

/**
 * Every request gets an id of ours (a UUID), answered in X-Request-Id and named in logs and audit
 * records as `request_id`. A client's own X-Request-Id never replaces it: a safe one is kept beside
 * it as `client_request_id` (so a caller cannot forge, collide with or inject into our ids).
 */
export function requestIds(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("clientRequestId", clientRequestIdOf(c.req.header("x-request-id")));
    await next();
    // After the handler: a bare Response (problem documents, tRPC's) carries no header set earlier.
    c.res.headers.set("x-request-id", requestId);
  };
}

import { type DomainError, type Logger, Problem } from "@celine/core";
import type { Context } from "hono";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

export const STATUS_OF: Record<DomainError["kind"], 401 | 403 | 404 | 409 | 422 | 502> = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  validation: 422,
  upstream: 502,
};

/** An RFC 9457 problem response; `detail` is what the existing clients read. */
export function problem(
  c: Context,
  status: number,
  detail: string,
  extra: Partial<Pick<Problem, "errors">> = {},
): Response {
  const body: Problem = {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
    instance: c.req.path,
    request_id: c.get("requestId") ?? undefined,
    ...extra,
  };
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  // A bare Response skips the headers middleware set on the context: carry the request id by hand.
  if (body.request_id) headers["x-request-id"] = body.request_id;
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="celine"';
  return new Response(JSON.stringify(body), { status, headers });
}

/** The documented error responses of a route, for createRoute. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: TITLES[status] ?? "Error",
        content: { "application/problem+json": { schema: Problem } },
      },
    ]),
  );
}

export type ProblemLogger = Pick<Logger, "error">;

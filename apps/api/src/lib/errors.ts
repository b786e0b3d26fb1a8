import { DomainError, databaseUnavailable, type Logger, ValidationError } from "@celine/core";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { problem, STATUS_OF } from "./problem.ts";

/** Seconds a client is asked to wait after a 503 for an unavailable database. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
export const DATABASE_UNAVAILABLE_DETAIL = "the database is unavailable; retry later";

/** The one REST error mapper: domain errors by kind, anything unknown a 500 without internals. */
export function toProblem(error: unknown, c: Context, log: Logger): Response {
  if (error instanceof ValidationError) return problem(c, 422, error.message, { errors: error.issues });
  if (error instanceof DomainError) return problem(c, STATUS_OF[error.kind], error.message);
  // Hono's validator refuses unparsable JSON with a 400; the existing (FastAPI) clients got 422 for it.
  if (error instanceof HTTPException && error.status === 400 && /malformed json/i.test(error.message)) {
    return problem(c, 422, "(body): not valid JSON", {
      errors: [{ path: "(body)", message: "not valid JSON" }],
    });
  }
  if (error instanceof HTTPException) return problem(c, error.status, error.message || "request refused");
  const unavailable = databaseUnavailable(error);
  if (unavailable) {
    // The log gets the driver's reason (the error's causes, without the query's parameters); the
    // request's own line (same request id) says which route.
    log.error("database unavailable", { error, code: unavailable.code });
    const res = problem(c, 503, DATABASE_UNAVAILABLE_DETAIL);
    res.headers.set("retry-after", String(DATABASE_RETRY_AFTER_SECONDS));
    return res;
  }
  log.error("unhandled error", { error, path: c.req.path, method: c.req.method });
  return problem(
    c,
    500,
    `internal error; quote request id ${c.get("requestId") ?? "unknown"} when reporting it`,
  );
}

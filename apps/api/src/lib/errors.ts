import { DomainError, type Logger, ValidationError } from "@celine/core";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { problem, STATUS_OF } from "./problem.ts";

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
  log.error("unhandled error", { error, path: c.req.path, method: c.req.method });
  return problem(
    c,
    500,
    `internal error; quote request id ${c.get("requestId") ?? "unknown"} when reporting it`,
  );
}

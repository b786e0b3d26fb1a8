import {
  type Ctx,
  DomainError,
  databaseUnavailable,
  type Logger,
  UnauthorizedError,
  validationErrorOf,
} from "@celine/core";
import type { ProcedureType } from "@trpc/server";
import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError } from "zod";
import { DATABASE_UNAVAILABLE_DETAIL } from "../lib/errors.ts";
import { tooManyRequestsDetail } from "../lib/rate-limit.ts";
import { auditUnrecorded } from "../lib/refusals.ts";

/**
 * Identity is resolved lazily so a refusal surfaces as a tRPC error, not a foreign body; `resolve`
 * is memoised per HTTP request, so a batch is verified (and a refusal audited) once. `admit` counts
 * one procedure call against the caller's rate limit (0, or the seconds to wait); `retryAfter` is the
 * longest wait it answered in this request (the Retry-After header).
 */
export type TrpcContext = {
  resolve: () => Promise<Ctx>;
  admit: (verb: Ctx, type: ProcedureType, path: string) => Promise<number>;
  retryAfter: () => number;
  requestId: string;
};

const t = initTRPC.context<TrpcContext>().create({
  // Never ship stack traces, whatever NODE_ENV says.
  isDev: false,
  // An unexpected error's message is an internal (SQL, hosts): clients get the request id instead;
  // the cause is logged by the adapter's onError.
  errorFormatter: ({ shape, error, ctx }) =>
    error.code === "INTERNAL_SERVER_ERROR"
      ? {
          ...shape,
          message: `internal error; quote request id ${ctx?.requestId ?? "unknown"} when reporting it`,
        }
      : shape,
});

const CODE_OF: Record<DomainError["kind"], TRPC_ERROR_CODE_KEY> = {
  unauthorized: "UNAUTHORIZED",
  forbidden: "FORBIDDEN",
  not_found: "NOT_FOUND",
  conflict: "CONFLICT",
  validation: "UNPROCESSABLE_CONTENT",
  upstream: "BAD_GATEWAY",
};

/**
 * The one tRPC error mapper: domain errors by kind, a failed input schema as the same 422 REST
 * answers (naming the fields), the database down or unreachable as 503 (with Retry-After, app.ts;
 * the driver's reason logged); anything else stays an internal error.
 */
function toTrpcError(error: unknown, log: Logger): TRPCError | null {
  const raw = error instanceof TRPCError ? (error.cause ?? error) : error;
  const cause = raw instanceof ZodError ? validationErrorOf(raw) : raw;
  if (cause instanceof DomainError) {
    return new TRPCError({ code: CODE_OF[cause.kind], message: cause.message, cause });
  }
  const unavailable = databaseUnavailable(cause);
  if (!unavailable) return null;
  log.error("database unavailable", { error: cause, code: unavailable.code });
  return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_DETAIL, cause });
}

export const router = t.router;

/** Every procedure: verified caller (401 otherwise), within its rate limit (429), domain errors mapped. */
export const procedure = t.procedure.use(async ({ ctx, next, type, path }) => {
  let verbCtx: Ctx;
  try {
    verbCtx = await ctx.resolve();
  } catch (error) {
    const message = error instanceof UnauthorizedError ? error.message : "token invalid";
    throw new TRPCError({ code: "UNAUTHORIZED", message });
  }
  const wait = await ctx.admit(verbCtx, type, path);
  if (wait > 0) throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: tooManyRequestsDetail(wait) });
  const result = await next({ ctx: { ...ctx, verb: verbCtx } });
  if (!result.ok) {
    auditUnrecorded(result.error instanceof TRPCError ? result.error.cause : result.error, verbCtx, path);
    const mapped = toTrpcError(result.error, verbCtx.log);
    if (mapped) throw mapped;
  }
  return result;
});

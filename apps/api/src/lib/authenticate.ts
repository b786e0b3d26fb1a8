import { type Actor, type Ctx, UnauthorizedError, unconfiguredPlatform } from "@celine/core";
import type { AppDeps } from "./app-env.ts";
import { tokenFrom } from "./identity.ts";

/**
 * The verb context of a request: verify the caller, or throw UnauthorizedError after writing the
 * one audit record of the refusal. Claims of a token that failed verification are never read.
 */
export async function contextFor(
  deps: AppDeps,
  request: { headers: Headers; method: string; path: string },
  requestId: string,
): Promise<Ctx> {
  const log = deps.log.child({ request_id: requestId });
  const token = tokenFrom(request.headers, deps.jwtHeaderName);
  let actor: Exclude<Actor, { kind: "system" }>;
  try {
    if (!token) throw new UnauthorizedError("missing token: send Authorization: Bearer <jwt>");
    actor = await deps.verifier.verify(token);
  } catch (error) {
    const refusal = error instanceof UnauthorizedError ? error : new UnauthorizedError("token invalid");
    deps.audit.warn("access denied", {
      event: "denied",
      action: `${request.method} ${request.path}`,
      sub: null,
      client_id: null,
      reason: refusal.message,
      request_id: requestId,
    });
    throw refusal;
  }
  return {
    db: deps.database.db,
    actor,
    authorizer: deps.authorizer,
    log,
    audit: (record) =>
      record.event === "denied"
        ? deps.audit.warn("access denied", record)
        : deps.audit.info("member erased", record),
    config: deps.core,
    requestId,
    now: deps.now ?? (() => new Date()),
    credentials: token,
    platform: deps.platform ?? unconfiguredPlatform,
    metrics: deps.metrics,
  };
}

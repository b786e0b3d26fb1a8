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
  return verbContext(deps, actor, token, requestId);
}

/**
 * The verb context of a request that presents no token because its credential is elsewhere (a
 * calendar feed's secret, in its path): the policy is asked with no subject, and lets such a caller
 * read that feed and nothing else.
 */
export function anonymousContextFor(deps: AppDeps, requestId: string): Ctx {
  return verbContext(deps, { kind: "anonymous", id: "", clientId: null }, null, requestId);
}

function verbContext(deps: AppDeps, actor: Actor, credentials: string | null, requestId: string): Ctx {
  return {
    db: deps.database.db,
    actor,
    authorizer: deps.authorizer,
    log: deps.log.child({ request_id: requestId }),
    audit: (record) =>
      record.event === "denied"
        ? deps.audit.warn("access denied", record)
        : deps.audit.info("member erased", record),
    config: deps.core,
    requestId,
    now: deps.now ?? (() => new Date()),
    credentials,
    platform: deps.platform ?? unconfiguredPlatform,
    metrics: deps.metrics,
  };
}

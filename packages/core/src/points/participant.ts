import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { ForbiddenError } from "../errors.ts";

/**
 * Points belong to a participant: ask the policy for `action` on the caller's own points, then
 * refuse anyone who has no points of their own (services, our jobs) with the same audit trail.
 */
export async function authorizeOwnPoints(ctx: Ctx, action: "read" | "write"): Promise<string> {
  const { actor } = ctx;
  await authorize(ctx, action, { type: "points", ownerId: actor.id });
  if (actor.kind === "participant") return actor.id;
  const reason = "points belong to participants; call with a participant's token";
  if (actor.kind === "service") {
    ctx.audit({
      event: "denied",
      action,
      sub: actor.id,
      client_id: actor.clientId,
      reason,
      request_id: ctx.requestId,
    });
  }
  throw new ForbiddenError(reason);
}

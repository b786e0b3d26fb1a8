import { authorize, refuse } from "../authorize.ts";
import type { Ctx } from "../context.ts";

/**
 * Points belong to a participant: ask the policy for `action` on the caller's own points, then
 * refuse anyone who has no points of their own (services, our jobs) with the same audit trail.
 */
export async function authorizeOwnPoints(ctx: Ctx, action: "read" | "write"): Promise<string> {
  const { actor } = ctx;
  await authorize(ctx, action, { type: "points", ownerId: actor.id });
  if (actor.kind === "participant") return actor.id;
  throw refuse(ctx, action, "points belong to participants; call with a participant's token");
}

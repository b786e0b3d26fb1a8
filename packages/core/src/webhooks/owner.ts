import { and, eq, isNotNull, type SQL } from "drizzle-orm";
import { authorize, refuse } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { webhooks } from "../db/schema.ts";

/** Whose subscriptions a caller manages: a member's own, or the community ones a service created. */
export type WebhookOwner = { kind: "member"; userId: string } | { kind: "service"; serviceId: string };

/**
 * Ask the policy (`webhook`: a participant for themselves, a service with flexibility.admin) and
 * answer whose subscriptions the caller manages. Our own jobs and anonymous callers have none.
 */
export async function webhookOwner(ctx: Ctx): Promise<WebhookOwner> {
  const { actor } = ctx;
  await authorize(ctx, "webhook", {
    type: "webhook",
    ownerId: actor.kind === "participant" ? actor.id : undefined,
  });
  if (actor.kind === "participant") return { kind: "member", userId: actor.id };
  if (actor.kind === "service") return { kind: "service", serviceId: actor.id };
  throw refuse(ctx, "webhook", "webhook subscriptions belong to a member or a service");
}

/** The rows `owner` manages: anyone else's subscription is as unknown to them as a missing one. */
export function ownedBy(owner: WebhookOwner): SQL | undefined {
  return owner.kind === "member"
    ? eq(webhooks.userId, owner.userId)
    : and(eq(webhooks.createdBy, owner.serviceId), isNotNull(webhooks.communityId));
}

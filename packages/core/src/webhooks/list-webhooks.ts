import { asc } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { webhooks } from "../db/schema.ts";
import type { WebhookList } from "../schemas/webhooks.ts";
import { toWebhookOut } from "./out.ts";
import { ownedBy, webhookOwner } from "./owner.ts";

/**
 * The caller's subscriptions, oldest first, without their secrets: a member's own, or the community
 * subscriptions a service created. A disabled one says why.
 */
export async function listWebhooks({ ctx }: { ctx: Ctx }): Promise<WebhookList> {
  const owner = await webhookOwner(ctx);
  const rows = await ctx.db
    .select()
    .from(webhooks)
    .where(ownedBy(owner))
    .orderBy(asc(webhooks.createdAt), asc(webhooks.id));
  return { items: rows.map(toWebhookOut) };
}

import { and, eq } from "drizzle-orm";
import { type Ctx, withTransaction } from "../context.ts";
import { webhooks } from "../db/schema.ts";
import { NotFoundError } from "../errors.ts";
import { WebhookIdParam } from "../schemas/webhooks.ts";
import { parseInput } from "../validate.ts";
import { dropPendingDeliveries } from "./disable.ts";
import { ownedBy, webhookOwner } from "./owner.ts";

/**
 * Delete one of the caller's subscriptions; what was still to be sent to it is dropped. Somebody
 * else's is reported exactly like an unknown one (404).
 */
export async function deleteWebhook({ ctx, input }: { ctx: Ctx; input: WebhookIdParam }): Promise<void> {
  const owner = await webhookOwner(ctx);
  const { id } = parseInput(WebhookIdParam, input);
  await withTransaction(ctx, async (tx) => {
    const [deleted] = await tx.db
      .delete(webhooks)
      .where(and(eq(webhooks.id, id), ownedBy(owner)))
      .returning({ id: webhooks.id });
    if (!deleted) throw new NotFoundError(`webhook ${id} not found`);
    await dropPendingDeliveries(tx.db, id, "webhook deleted");
  });
}

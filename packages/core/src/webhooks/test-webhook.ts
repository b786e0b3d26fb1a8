import { and, eq } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { webhooks } from "../db/schema.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { WEBHOOK_TEST_EVENT, WebhookIdParam, type WebhookTestOut } from "../schemas/webhooks.ts";
import { formatInstant } from "../time.ts";
import { parseInput } from "../validate.ts";
import { webhookMessage } from "./message.ts";
import { ownedBy, webhookOwner } from "./owner.ts";

/**
 * Send a signed `webhook.test` event to one of the caller's subscriptions, through the outbox like
 * any other event (signature, retries, disabling). 404 for an unknown or somebody else's; 409 for a
 * disabled one (nothing is sent to it any more).
 */
export async function testWebhook({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: WebhookIdParam;
}): Promise<WebhookTestOut> {
  const owner = await webhookOwner(ctx);
  const { id } = parseInput(WebhookIdParam, input);
  const [hook] = await ctx.db
    .select({ id: webhooks.id, disabledReason: webhooks.disabledReason, disabledAt: webhooks.disabledAt })
    .from(webhooks)
    .where(and(eq(webhooks.id, id), ownedBy(owner)));
  if (!hook) throw new NotFoundError(`webhook ${id} not found`);
  if (hook.disabledAt) {
    throw new ConflictError(
      `webhook ${id} was disabled at ${formatInstant(hook.disabledAt)} (${hook.disabledReason ?? "no reason"}): delete it and create a new one`,
    );
  }
  const message = webhookMessage(WEBHOOK_TEST_EVENT, { webhook_id: id }, ctx.now());
  await enqueue(ctx, [{ kind: "webhook", webhookId: id, message }]);
  return { message_id: message.id };
}

import { and, eq, isNull, ne } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { outbox, webhooks } from "../db/schema.ts";

/** Drop what is still to be sent to a subscription (`except` one entry, whose outcome the relay records). */
export async function dropPendingDeliveries(
  db: Db,
  webhookId: string,
  reason: string,
  except?: number,
): Promise<number> {
  const dropped = await db
    .update(outbox)
    .set({ status: "dropped", lastError: reason.slice(0, 1000) })
    .where(
      and(
        eq(outbox.kind, "webhook"),
        eq(outbox.target, webhookId),
        eq(outbox.status, "pending"),
        except === undefined ? undefined : ne(outbox.id, except),
      ),
    )
    .returning({ id: outbox.id });
  return dropped.length;
}

/**
 * Disable a subscription with its reason (shown on GET) and drop its pending deliveries, in one
 * transaction. False when it was already disabled (or deleted): the first reason stays.
 */
export async function disableWebhook(
  db: Db,
  webhookId: string,
  reason: string,
  at: Date,
  except?: number,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [disabled] = await tx
      .update(webhooks)
      .set({ disabledAt: at, disabledReason: reason.slice(0, 1000) })
      .where(and(eq(webhooks.id, webhookId), isNull(webhooks.disabledAt)))
      .returning({ id: webhooks.id });
    if (!disabled) return false;
    await dropPendingDeliveries(tx, webhookId, `webhook disabled: ${reason}`, except);
    return true;
  });
}

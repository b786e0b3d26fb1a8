import type { webhooks } from "../db/schema.ts";
import { WebhookEventType, type WebhookOut } from "../schemas/webhooks.ts";
import { formatInstant, formatNullableInstant } from "../time.ts";

export type WebhookRow = typeof webhooks.$inferSelect;

/** The wire shape of a subscription: never its secret. */
export function toWebhookOut(row: WebhookRow): WebhookOut {
  return {
    id: row.id,
    url: row.url,
    // Stored by us from the enum; a value the enum no longer knows is left out rather than sent.
    events: row.events.flatMap((e) => {
      const parsed = WebhookEventType.safeParse(e);
      return parsed.success ? [parsed.data] : [];
    }),
    user_id: row.userId,
    community_id: row.communityId,
    created_at: formatInstant(row.createdAt),
    status: row.disabledAt ? "disabled" : "enabled",
    disabled_at: formatNullableInstant(row.disabledAt),
    disabled_reason: row.disabledReason,
  };
}

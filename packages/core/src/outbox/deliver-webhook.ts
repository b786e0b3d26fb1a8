import { and, eq, isNull, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { type outbox, webhooks } from "../db/schema.ts";
import { messageOf } from "../lib/message-of.ts";
import { withTimeout } from "../lib/with-timeout.ts";
import { formatInstant } from "../time.ts";
import { disableWebhook } from "../webhooks/disable.ts";
import { queuedMessageOf } from "../webhooks/message.ts";
import { checkTarget, type TargetCheck } from "../webhooks/target.ts";
import type { Outcome } from "./deliver.ts";
import type { RelayOptions } from "./relay.ts";

// Delivering one webhook entry (Standard Webhooks): the target checked again (DNS may have changed
// since the subscription was made), the stored body signed as it is sent, one POST to the addresses
// just checked. 2xx is delivered;
// 410 Gone disables the subscription at once; anything else is retried with back-off until the
// subscription has been failing for WEBHOOK_FAILING_MS, and then disabled. A disabled subscription's
// pending entries are dropped, with the reason on the subscription (GET /api/webhooks shows it).

type Entry = typeof outbox.$inferSelect;
type Hook = typeof webhooks.$inferSelect;

/** How long deliveries to a subscription may keep failing before it is disabled. */
export const WEBHOOK_FAILING_MS = 24 * 3_600_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function deliverWebhook(opts: RelayOptions, entry: Entry, timeoutMs: number): Promise<Outcome> {
  const { db, platform } = opts;
  const [hook] = UUID.test(entry.target)
    ? await db.select().from(webhooks).where(eq(webhooks.id, entry.target))
    : [];
  if (!hook) return { kind: "dropped", reason: "webhook deleted" };
  if (hook.disabledAt) return { kind: "dropped", reason: `webhook disabled: ${hook.disabledReason ?? ""}` };
  const message = queuedMessageOf(entry.payload);
  if (!message) return { kind: "failed", reason: "not a webhook message" };

  let target: TargetCheck;
  try {
    target = await checkTarget(hook.url, {
      allowPrivate: opts.allowPrivateWebhookTargets ?? false,
      resolve: (host) => withTimeout(platform.webhooks.resolve(host), timeoutMs, "webhook target lookup"),
    });
  } catch (error) {
    // A name that does not resolve now may again soon: a failure like a refused connection.
    return failing(opts, hook, entry, `cannot resolve the target: ${messageOf(error)}`);
  }
  if (target.refusal !== null) {
    // Not retried: a target that points inside our network is refused however often it is tried.
    const reason = `target refused: ${target.refusal}`;
    await disable(opts, hook, reason, entry);
    return { kind: "failed", reason };
  }

  const sentAt = (opts.wallClock ?? (() => new Date()))();
  let status: number;
  try {
    ({ status } = await withTimeout(
      platform.webhooks.post({
        url: hook.url,
        headers: {
          "content-type": "application/json",
          "user-agent": "celine-flexibility-webhooks/1",
          "webhook-id": message.id,
          "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
          "webhook-signature": new Webhook(hook.secret).sign(message.id, sentAt, message.body),
        },
        body: message.body,
        timeoutMs,
        // Connect where the check looked, not wherever the name points a moment later.
        ...(target.addresses ? { addresses: target.addresses } : {}),
      }),
      // The adapter has the same deadline; this one only guards against an adapter that ignores it.
      timeoutMs + 1_000,
      "webhook delivery",
    ));
  } catch (error) {
    return failing(opts, hook, entry, messageOf(error));
  }
  if (status >= 200 && status < 300) {
    if (hook.failingSince) {
      await db.update(webhooks).set({ failingSince: null }).where(eq(webhooks.id, hook.id));
    }
    return { kind: "delivered" };
  }
  if (status === 410) {
    const reason = "the receiver answered 410 Gone";
    await disable(opts, hook, reason, entry);
    return { kind: "failed", reason };
  }
  return failing(opts, hook, entry, `the receiver answered ${status}`);
}

/**
 * A failed attempt: retried, unless the subscription has now been failing for WEBHOOK_FAILING_MS
 * (since the first failure after its last success), when it is disabled and the entry fails.
 */
async function failing(opts: RelayOptions, hook: Hook, entry: Entry, error: string): Promise<Outcome> {
  const now = opts.now();
  const [row] = await opts.db
    .update(webhooks)
    .set({ failingSince: sql`coalesce(${webhooks.failingSince}, ${now.toISOString()}::timestamptz)` })
    .where(and(eq(webhooks.id, hook.id), isNull(webhooks.disabledAt)))
    .returning({ failingSince: webhooks.failingSince });
  if (!row) return { kind: "dropped", reason: "webhook disabled or deleted meanwhile" };
  const since = row.failingSince ?? now;
  if (now.getTime() - since.getTime() < WEBHOOK_FAILING_MS) return { kind: "retry", error };
  const reason = `deliveries failed for 24 h (since ${formatInstant(since)}); last: ${error}`;
  await disable(opts, hook, reason, entry);
  return { kind: "failed", reason };
}

async function disable(opts: RelayOptions, hook: Hook, reason: string, entry: Entry): Promise<void> {
  const disabled = await disableWebhook(opts.db, hook.id, reason, opts.now(), entry.id);
  if (disabled) {
    opts.log.warn("webhook disabled", { webhook_id: hook.id, reason });
    opts.metrics.inc("flexibility_webhooks_disabled_total");
  }
}

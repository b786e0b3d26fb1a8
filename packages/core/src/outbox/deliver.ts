import { eq } from "drizzle-orm";
import { commitments, outbox } from "../db/schema.ts";
import { messageOf } from "../lib/message-of.ts";
import { withTimeout } from "../lib/with-timeout.ts";
import type { NudgeEvent } from "../platform/ports.ts";
import { REMINDER_EVENT } from "../reminders/reminder-event.ts";
import { type ReminderOutcome, sendReminder } from "../reminders/send-reminder.ts";
import { deliverWebhook } from "./deliver-webhook.ts";
import type { RelayOptions } from "./relay.ts";

// Delivering one outbox entry: an MQTT publish, a nudge or a webhook, each bounded by the relay's timeout.
// What becomes of the entry (retry, park, drop) is the round's business (relay.ts).

type Entry = typeof outbox.$inferSelect;

export type Outcome =
  | { kind: "delivered" }
  | { kind: "retry"; error: string }
  | { kind: "failed"; reason: string }
  | { kind: "dropped"; reason: string };

export async function deliver(opts: RelayOptions, entry: Entry, timeoutMs: number): Promise<Outcome> {
  try {
    if (entry.kind === "mqtt") {
      await withTimeout(
        opts.platform.publisher.publish(entry.target, entry.payload),
        timeoutMs,
        "mqtt publish",
      );
      return { kind: "delivered" };
    }
    if (entry.kind === "webhook") return await deliverWebhook(opts, entry, timeoutMs);
    const event = entry.payload as NudgeEvent;
    if (entry.requiresLive && entry.commitmentId) return await deliverHeld(opts, entry, event, timeoutMs);
    return outcomeOf(await withTimeout(opts.platform.nudging.ingest(event), timeoutMs, "nudging ingest"));
  } catch (error) {
    return { kind: "retry", error: messageOf(error) };
  }
}

/**
 * An entry that may go only while its commitment is live (the reminder): under the commitment's
 * row lock, checked, sent, stamped and marked in one transaction.
 */
async function deliverHeld(
  opts: RelayOptions,
  entry: Entry,
  event: NudgeEvent,
  timeoutMs: number,
): Promise<Outcome> {
  const commitmentId = entry.commitmentId ?? "";
  return opts.db.transaction(async (tx) => {
    const [commitment] = await tx
      .select()
      .from(commitments)
      .where(eq(commitments.id, commitmentId))
      .for("update");
    let outcome: Outcome;
    if (!commitment) outcome = { kind: "dropped", reason: "commitment not found" };
    else if (entry.target === REMINDER_EVENT) {
      const nudging = {
        ingest: (e: NudgeEvent) => withTimeout(opts.platform.nudging.ingest(e), timeoutMs, "nudging ingest"),
      };
      outcome = outcomeOf(await sendReminder({ db: tx, nudging, commitment, event, now: opts.now() }));
    } else if (commitment.status !== "committed") {
      outcome = { kind: "dropped", reason: `commitment ${commitment.status}` };
    } else {
      outcome = outcomeOf(
        await withTimeout(opts.platform.nudging.ingest(event), timeoutMs, "nudging ingest"),
      );
    }
    // Marked inside the transaction: the stamp and "delivered" commit together.
    if (outcome.kind === "delivered") {
      await tx
        .update(outbox)
        .set({ status: "delivered", deliveredAt: opts.now(), lastError: null })
        .where(eq(outbox.id, entry.id));
    }
    return outcome;
  });
}

function outcomeOf(result: ReminderOutcome): Outcome {
  switch (result.kind) {
    case "delivered":
      return { kind: "delivered" };
    case "rejected":
      return { kind: "failed", reason: `rejected with ${result.status}: ${result.detail}` };
    case "dropped":
      return { kind: "dropped", reason: result.reason };
  }
}

import { sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { outbox } from "../db/schema.ts";
import type { NudgeEvent } from "../platform/ports.ts";
import type { QueuedWebhookMessage } from "../webhooks/message.ts";

/** NOTIFY channel the relay listens on; a payload-less wake-up (the table is the queue). */
export const OUTBOX_CHANNEL = "flexibility_outbox";

export type OutboxEntry =
  | { kind: "mqtt"; topic: string; payload: unknown; commitmentId?: string; dueAt?: Date }
  | {
      kind: "nudge";
      event: NudgeEvent;
      commitmentId?: string;
      /** Held back until then (reminders). */
      dueAt?: Date;
      /** Dropped, not sent, if the commitment is no longer live when it falls due. */
      requiresLive?: boolean;
    }
  | {
      kind: "webhook";
      /** The subscription it goes to. */
      webhookId: string;
      message: QueuedWebhookMessage;
      commitmentId?: string;
    };

/**
 * Write side effects in the caller's transaction: they exist exactly when the state change that
 * caused them commits. The NOTIFY is delivered on commit and wakes the relay at once.
 *
 * `notify: false` leaves the NOTIFY out of the transaction (a NOTIFY serialises the commits of
 * every notifying transaction): hot paths then call `wakeOutbox(ctx.db)` after committing.
 */
export async function enqueue(
  ctx: Ctx,
  entries: OutboxEntry[],
  { notify = true }: { notify?: boolean } = {},
): Promise<void> {
  if (entries.length === 0) return;
  await ctx.db.insert(outbox).values(outboxRowsOf(entries, ctx.now()));
  if (notify) await ctx.db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
}

export type OutboxRow = {
  kind: OutboxEntry["kind"];
  /** MQTT topic (without prefix), nudging event type, or webhook subscription id. */
  target: string;
  payload: unknown;
  commitmentId: string | null;
  requiresLive: boolean;
  /** Due (and first tried) then; `now` unless held back. */
  dueAt: Date;
};

/** The outbox rows of `entries` (what `enqueue` inserts; shared with single-statement writers). */
export function outboxRowsOf(entries: OutboxEntry[], now: Date): (OutboxRow & { nextAttemptAt: Date })[] {
  return entries.map((e) => {
    const dueAt = e.kind === "webhook" ? now : (e.dueAt ?? now);
    return {
      kind: e.kind,
      ...targetOf(e),
      commitmentId: e.commitmentId ?? null,
      requiresLive: e.kind === "nudge" ? (e.requiresLive ?? false) : false,
      dueAt,
      nextAttemptAt: dueAt,
    };
  });
}

function targetOf(e: OutboxEntry): { target: string; payload: unknown } {
  switch (e.kind) {
    case "mqtt":
      return { target: e.topic, payload: e.payload };
    case "nudge":
      return { target: e.event.event_type, payload: e.event };
    case "webhook":
      return { target: e.webhookId, payload: e.message };
  }
}

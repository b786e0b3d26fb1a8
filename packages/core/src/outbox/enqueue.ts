import { sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { outbox } from "../db/schema.ts";
import type { NudgeEvent } from "../platform/ports.ts";

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
  kind: "mqtt" | "nudge";
  /** MQTT topic (without prefix) or nudging event type. */
  target: string;
  payload: unknown;
  commitmentId: string | null;
  requiresLive: boolean;
  /** Due (and first tried) then; `now` unless held back. */
  dueAt: Date;
};

/** The outbox rows of `entries` (what `enqueue` inserts; shared with single-statement writers). */
export function outboxRowsOf(entries: OutboxEntry[], now: Date): (OutboxRow & { nextAttemptAt: Date })[] {
  return entries.map((e) => ({
    kind: e.kind,
    target: e.kind === "mqtt" ? e.topic : e.event.event_type,
    payload: e.kind === "mqtt" ? e.payload : e.event,
    commitmentId: e.commitmentId ?? null,
    requiresLive: e.kind === "nudge" ? (e.requiresLive ?? false) : false,
    dueAt: e.dueAt ?? now,
    nextAttemptAt: e.dueAt ?? now,
  }));
}

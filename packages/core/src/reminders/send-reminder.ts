import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { type CommitmentRow, commitments } from "../db/schema.ts";
import type { NudgeEvent, Nudging } from "../platform/ports.ts";

export type ReminderOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "rejected"; status: number; detail: string }
  | { kind: "dropped"; reason: string };

/**
 * Send a commitment's one reminder: the single place that decides whether it may go and records
 * that it went (the outbox relay and the meter-tick catch-up both call it).
 *
 * The caller holds a row lock on `commitment` in `db`'s transaction, read after taking the lock,
 * so a concurrent cancel or a second sender waits (or skips) and then sees `reminded_at`.
 * Nothing is sent for a commitment that is no longer live, already reminded, or whose window has
 * closed. `reminded_at` is stamped only when the nudging tool took the event (delivered or
 * deduplicated); a rejection is returned, a retryable failure throws — neither stamps.
 */
export async function sendReminder({
  db,
  nudging,
  commitment,
  event,
  now,
}: {
  db: Db;
  nudging: Nudging;
  commitment: CommitmentRow;
  event: NudgeEvent;
  now: Date;
}): Promise<ReminderOutcome> {
  if (commitment.status !== "committed")
    return { kind: "dropped", reason: `commitment ${commitment.status}` };
  if (commitment.remindedAt !== null) return { kind: "dropped", reason: "already reminded" };
  if (commitment.periodEnd <= now) return { kind: "dropped", reason: "window closed" };
  const outcome = await nudging.ingest(event);
  if (outcome.kind === "delivered") {
    await db
      .update(commitments)
      .set({ remindedAt: now })
      .where(and(eq(commitments.id, commitment.id), isNull(commitments.remindedAt)));
  }
  return outcome;
}

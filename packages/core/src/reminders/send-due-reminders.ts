import { and, asc, eq, gt, isNull, lte } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments } from "../db/schema.ts";
import { reminderEvent } from "./reminder-event.ts";
import { sendReminder } from "./send-reminder.ts";

export const REMINDERS_SENT = "flexibility_reminders_sent_total";
export const REMINDERS_FAILED = "flexibility_reminders_failed_total";

export type DueReminders = {
  /** Reminders the nudging tool took (stamped). */
  sent: number;
  /** Rejected or failed: left unstamped, tried again on the next tick while the window is open. */
  failed: number;
  /** Taken meanwhile by another sender, cancelled, or already reminded. */
  skipped: number;
};

/** Commitments handled per tick; the rest wait for the next one (about 5 minutes later). */
const PER_TICK = 500;
const CONCURRENCY = 8;

/**
 * The meter tick's catch-up: every live commitment whose window is open now and that was not
 * reminded yet gets its one reminder (commitments made without the outbox, or whose reminder the
 * relay could not deliver before the window opened). Each row is locked FOR UPDATE SKIP LOCKED, so
 * the relay or another replica holding it is skipped, and stamped only when delivered.
 */
export async function sendDueReminders({ ctx }: { ctx: Ctx; input?: unknown }): Promise<DueReminders> {
  await authorize(ctx, "service", { type: "commitment" });
  const now = ctx.now();
  const open = and(
    eq(commitments.status, "committed"),
    isNull(commitments.remindedAt),
    lte(commitments.periodStart, now),
    gt(commitments.periodEnd, now),
  );
  const due = await ctx.db
    .select({ id: commitments.id })
    .from(commitments)
    .where(open)
    .orderBy(asc(commitments.periodStart), asc(commitments.id))
    .limit(PER_TICK);
  const result: DueReminders = { sent: 0, failed: 0, skipped: 0 };
  const queue = due.map((d) => d.id);

  async function remindOne(id: string): Promise<void> {
    try {
      const outcome = await withTransaction(ctx, async (tx) => {
        const [commitment] = await tx.db
          .select()
          .from(commitments)
          .where(and(eq(commitments.id, id), open))
          .for("update", { skipLocked: true });
        if (!commitment) return null;
        const event = reminderEvent(commitment, ctx.config.communityTimezone, now);
        return sendReminder({ db: tx.db, nudging: ctx.platform.nudging, commitment, event, now });
      });
      if (outcome === null || outcome.kind === "dropped") result.skipped += 1;
      else if (outcome.kind === "delivered") {
        result.sent += 1;
        ctx.metrics.inc(REMINDERS_SENT, { via: "tick" });
      } else {
        result.failed += 1;
        ctx.metrics.inc(REMINDERS_FAILED, { reason: "rejected" });
        ctx.log.error("reminders: nudging tool rejected a reminder", {
          commitment_id: id,
          status: outcome.status,
          detail: outcome.detail,
        });
      }
    } catch (error) {
      result.failed += 1;
      ctx.metrics.inc(REMINDERS_FAILED, { reason: "error" });
      ctx.log.warn("reminders: sending failed; retried on the next tick", { commitment_id: id, error });
    }
  }

  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await remindOne(id);
    }),
  );
  return result;
}

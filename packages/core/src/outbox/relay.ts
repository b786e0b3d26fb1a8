import { and, asc, eq, inArray, lte, min, sql } from "drizzle-orm";
import type { Database, Db } from "../db/database.ts";
import { commitments, outbox } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { NudgeEvent, Platform } from "../platform/ports.ts";
import { REMINDER_EVENT } from "../reminders/reminder-event.ts";
import { type ReminderOutcome, sendReminder } from "../reminders/send-reminder.ts";
import { OUTBOX_CHANNEL } from "./enqueue.ts";

// The outbox relay: delivers what verbs wrote to the outbox, at least once, in order per
// commitment. A batch is claimed with FOR UPDATE SKIP LOCKED and leased (next_attempt_at moved
// past the delivery timeout) in one short transaction, so replicas never share an entry and no
// transaction stays open across the network — except a reminder's, which must hold the
// commitment's row lock from "still live?" to "reminded_at stamped".

export const OUTBOX_DELIVERED = "flexibility_outbox_delivered_total";
export const OUTBOX_RETRIED = "flexibility_outbox_retried_total";
export const OUTBOX_FAILED = "flexibility_outbox_failed_total";
export const OUTBOX_DROPPED = "flexibility_outbox_dropped_total";
export const OUTBOX_RELAY_ERRORS = "flexibility_outbox_relay_errors_total";

export type Backoff = {
  /** Delay after the first failed attempt (ms); doubled per further attempt. */
  baseMs: number;
  /** Ceiling of the delay (ms): a recovered broker or tool is retried within this. */
  maxMs: number;
};

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 60_000 };

export type RelayOptions = {
  db: Db;
  platform: Pick<Platform, "publisher" | "nudging">;
  log: Logger;
  metrics: Metrics;
  now: () => Date;
  /** Entries claimed per round. */
  batch?: number;
  backoff?: Backoff;
  /** One delivery may take this long before it counts as a retryable failure (ms). */
  timeoutMs?: number;
};

export type RelayRound = {
  claimed: number;
  delivered: number;
  retried: number;
  failed: number;
  dropped: number;
};

type Entry = typeof outbox.$inferSelect;
type Outcome =
  | { kind: "delivered" }
  | { kind: "retry"; error: string }
  | { kind: "failed"; reason: string }
  | { kind: "dropped"; reason: string };

/** The delay before attempt `attempts + 1` after `attempts` failed ones (exponential, capped). */
export function backoffDelay(attempts: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempts - 1));
}

/** One round: claim the due entries, deliver them concurrently, record each outcome. */
export async function relayOutboxOnce(opts: RelayOptions): Promise<RelayRound> {
  const { db, now, batch = 50, timeoutMs = 10_000 } = opts;
  const claimedAt = now();
  const entries = await claim(db, claimedAt, batch, timeoutMs);
  const round: RelayRound = { claimed: entries.length, delivered: 0, retried: 0, failed: 0, dropped: 0 };
  if (entries.length === 0) return round;
  const outcomes = await Promise.all(entries.map((entry) => deliver(opts, entry, timeoutMs)));
  const delivered: number[] = [];
  for (const [i, entry] of entries.entries()) {
    const outcome = outcomes[i] ?? { kind: "retry", error: "no outcome" };
    if (outcome.kind === "delivered") delivered.push(entry.id);
    else await record(opts, entry, outcome);
    round[outcome.kind === "retry" ? "retried" : outcome.kind] += 1;
  }
  if (delivered.length > 0) {
    await db
      .update(outbox)
      .set({ status: "delivered", deliveredAt: now(), lastError: null })
      .where(and(inArray(outbox.id, delivered), eq(outbox.status, "pending")));
  }
  return round;
}

/**
 * Due pending entries, oldest first, none behind an earlier pending entry of its commitment.
 * Claiming counts the attempt and leases the entry until the delivery has surely timed out.
 */
async function claim(db: Db, at: Date, batch: number, timeoutMs: number): Promise<Entry[]> {
  const leaseUntil = new Date(at.getTime() + 2 * timeoutMs + 5_000);
  const due = db
    .select({ id: outbox.id })
    .from(outbox)
    .where(and(eligible(), lte(outbox.nextAttemptAt, at)))
    .orderBy(asc(outbox.nextAttemptAt), asc(outbox.id))
    .limit(batch)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(outbox)
    .set({ attempts: sql`${outbox.attempts} + 1`, nextAttemptAt: leaseUntil })
    .where(inArray(outbox.id, due))
    .returning();
  return rows.sort((a, b) => a.id - b.id);
}

/** Pending and not queued behind an earlier pending entry of the same commitment. */
function eligible() {
  return and(
    eq(outbox.status, "pending"),
    sql`(${outbox.commitmentId} is null or not exists (
      select 1 from flexibility_outbox earlier
      where earlier.commitment_id = ${outbox.commitmentId}
        and earlier.id < ${outbox.id} and earlier.status = 'pending'))`,
  );
}

async function deliver(opts: RelayOptions, entry: Entry, timeoutMs: number): Promise<Outcome> {
  try {
    if (entry.kind === "mqtt") {
      await withTimeout(
        opts.platform.publisher.publish(entry.target, entry.payload),
        timeoutMs,
        "mqtt publish",
      );
      return { kind: "delivered" };
    }
    const event = entry.payload as NudgeEvent;
    if (entry.requiresLive && entry.commitmentId) return await deliverHeld(opts, entry, event, timeoutMs);
    return outcomeOf(await withTimeout(opts.platform.nudging.ingest(event), timeoutMs, "nudging ingest"));
  } catch (error) {
    return { kind: "retry", error: error instanceof Error ? error.message : String(error) };
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

async function record(opts: RelayOptions, entry: Entry, outcome: Exclude<Outcome, { kind: "delivered" }>) {
  const { db, log, metrics } = opts;
  const labels = { kind: entry.kind, target: metricTarget(entry) };
  const fields = {
    outbox_id: entry.id,
    commitment_id: entry.commitmentId,
    ...labels,
    attempts: entry.attempts,
  };
  // `attempts` fences the update: a lease that expired and was re-claimed is not ours to write.
  const mine = and(
    eq(outbox.id, entry.id),
    eq(outbox.status, "pending"),
    eq(outbox.attempts, entry.attempts),
  );
  switch (outcome.kind) {
    case "retry": {
      const delay = backoffDelay(entry.attempts, opts.backoff);
      metrics.inc(OUTBOX_RETRIED, labels);
      log.warn("outbox: delivery failed; will retry", {
        ...fields,
        error: outcome.error,
        retry_in_ms: delay,
      });
      await db
        .update(outbox)
        .set({
          nextAttemptAt: new Date(opts.now().getTime() + delay),
          lastError: outcome.error.slice(0, 1000),
        })
        .where(mine);
      return;
    }
    case "failed":
      metrics.inc(OUTBOX_FAILED, labels);
      log.error("outbox: delivery rejected; parked as failed", { ...fields, reason: outcome.reason });
      await db
        .update(outbox)
        .set({ status: "failed", lastError: outcome.reason.slice(0, 1000) })
        .where(mine);
      return;
    case "dropped":
      metrics.inc(OUTBOX_DROPPED, { ...labels, reason: outcome.reason });
      log.info("outbox: entry dropped", { ...fields, reason: outcome.reason });
      await db
        .update(outbox)
        .set({ status: "dropped", lastError: outcome.reason.slice(0, 1000) })
        .where(mine);
      return;
  }
}

/** MQTT topics carry a user id: label by the topic's family, not the full topic. */
function metricTarget(entry: Entry): string {
  return entry.kind === "mqtt" ? entry.target.split("/").slice(0, 3).join("/") : entry.target;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type OutboxRelay = {
  /** Run a round now (also what a NOTIFY does). */
  wake(): void;
  /** Stop polling and listening; resolves after the round in flight has finished. */
  stop(): Promise<void>;
};

/**
 * The relay loop: a round at once on NOTIFY (new entries), again immediately while rounds find
 * work, otherwise at the next pending entry's due time or after `pollMs`, whichever is sooner —
 * so a held entry goes out within `pollMs` (default 5 s) of falling due even if NOTIFY is lost.
 */
export async function startOutboxRelay({
  database,
  platform,
  log,
  metrics,
  now = () => new Date(),
  pollMs = 5_000,
  batch,
  backoff,
  timeoutMs,
}: {
  database: Pick<Database, "db" | "listen">;
  platform: Pick<Platform, "publisher" | "nudging">;
  log: Logger;
  metrics: Metrics;
  now?: () => Date;
  pollMs?: number;
  batch?: number;
  backoff?: Backoff;
  timeoutMs?: number;
}): Promise<OutboxRelay> {
  const relayLog = log.child({ component: "outbox-relay" });
  let running = true;
  let woken = false;
  let wakeUp: () => void = () => {};
  const wake = () => {
    woken = true;
    wakeUp();
  };

  let unlisten: (() => Promise<void>) | null = null;
  try {
    unlisten = await database.listen(OUTBOX_CHANNEL, wake);
  } catch (error) {
    relayLog.warn("outbox: LISTEN failed; polling only", { error });
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = () => {};
        resolve();
      }
      wakeUp = done;
      if (woken || !running) done();
    });

  const loop = (async () => {
    while (running) {
      woken = false;
      let wait = pollMs;
      try {
        const round = await relayOutboxOnce({
          db: database.db,
          platform,
          log: relayLog,
          metrics,
          now,
          batch,
          backoff,
          timeoutMs,
        });
        if (round.claimed > 0) continue;
        wait = await untilNextDue(database.db, now(), pollMs);
      } catch (error) {
        metrics.inc(OUTBOX_RELAY_ERRORS);
        relayLog.error("outbox: relay round failed", { error });
      }
      if (running) await sleep(wait);
    }
  })();

  return {
    wake,
    async stop() {
      running = false;
      wakeUp();
      await loop;
      await unlisten?.().catch(() => {});
    },
  };
}

/**
 * Milliseconds until the earliest eligible entry may be tried, at most `pollMs`. A round that
 * found nothing although an entry is due means another replica holds it: look again shortly.
 */
async function untilNextDue(db: Db, at: Date, pollMs: number): Promise<number> {
  const [row] = await db
    .select({ next: min(outbox.nextAttemptAt) })
    .from(outbox)
    .where(eligible());
  const next = row?.next ? new Date(row.next).getTime() - at.getTime() : pollMs;
  return Math.max(MIN_IDLE_MS, Math.min(pollMs, next));
}

const MIN_IDLE_MS = 25;

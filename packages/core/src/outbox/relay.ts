import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { outbox } from "../db/schema.ts";
import { type Backoff, backoffDelay } from "../lib/backoff.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Platform } from "../platform/ports.ts";
import { deliver, type Outcome } from "./deliver.ts";

// One round of the outbox relay: delivers what verbs wrote to the outbox, at least once, in order
// per commitment. A batch is claimed with FOR UPDATE SKIP LOCKED and leased (next_attempt_at moved
// past the delivery timeout) in one short transaction, so replicas never share an entry and no
// transaction stays open across the network — except a reminder's, which must hold the
// commitment's row lock from "still live?" to "reminded_at stamped" (deliver.ts). The loop that
// runs rounds is relay-loop.ts.

export const OUTBOX_DELIVERED = "flexibility_outbox_delivered_total";
export const OUTBOX_RETRIED = "flexibility_outbox_retried_total";
export const OUTBOX_FAILED = "flexibility_outbox_failed_total";
export const OUTBOX_DROPPED = "flexibility_outbox_dropped_total";
export const OUTBOX_RELAY_ERRORS = "flexibility_outbox_relay_errors_total";

/** Retries of a delivery: 1 s after the first failure, doubling, at most a minute apart; no jitter. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 60_000 };
/**
 * Retries of a webhook delivery: 5 s after the first failure, doubling, at most an hour apart — a
 * receiver that is down for a day is tried some 35 times, not 1,440 (it is disabled after 24 h).
 */
export const WEBHOOK_BACKOFF: Backoff = { baseMs: 5_000, maxMs: 3_600_000 };

export type RelayOptions = {
  db: Db;
  platform: Pick<Platform, "publisher" | "nudging" | "webhooks">;
  log: Logger;
  metrics: Metrics;
  /** The domain clock: when entries are due, back-off, and how long a webhook has been failing. */
  now: () => Date;
  /** Entries claimed per round. */
  batch?: number;
  backoff?: Backoff;
  webhookBackoff?: Backoff;
  /** One delivery may take this long before it counts as a retryable failure (ms). */
  timeoutMs?: number;
  /** CELINE_ENV=dev: webhooks may go to http and private addresses (CoreConfig's rule). Default false. */
  allowPrivateWebhookTargets?: boolean;
  /**
   * Real time, for the `webhook-timestamp` a receiver checks against its own clock (default the
   * system's): a simulated domain clock must not make every signature look stale.
   */
  wallClock?: () => Date;
  /**
   * Entries delivered whose `delivered` mark has not been written yet: the database went away
   * between the delivery and the write. Kept across rounds (the loop owns one) and written before
   * the next claim, still under their lease, so an event that went out is not sent again.
   */
  unrecorded?: Set<number>;
};

export type RelayRound = {
  claimed: number;
  delivered: number;
  retried: number;
  failed: number;
  dropped: number;
};

type Entry = typeof outbox.$inferSelect;

/** One round: claim the due entries, deliver them concurrently, record each outcome. */
export async function relayOutboxOnce(opts: RelayOptions): Promise<RelayRound> {
  const { db, now, batch = 50, timeoutMs = 10_000, unrecorded = new Set<number>() } = opts;
  await recordDelivered(db, unrecorded, now());
  const entries = await claim(db, now(), batch, timeoutMs);
  const round: RelayRound = { claimed: entries.length, delivered: 0, retried: 0, failed: 0, dropped: 0 };
  if (entries.length === 0) return round;
  const outcomes = await Promise.all(entries.map((entry) => deliver(opts, entry, timeoutMs)));
  const undelivered: [Entry, Exclude<Outcome, { kind: "delivered" }>][] = [];
  for (const [i, entry] of entries.entries()) {
    const outcome = outcomes[i] ?? { kind: "retry", error: "no outcome" };
    if (outcome.kind === "delivered") unrecorded.add(entry.id);
    else undelivered.push([entry, outcome]);
    round[outcome.kind === "retry" ? "retried" : outcome.kind] += 1;
  }
  // What went out first: an entry whose retry is not written is merely tried again after its lease.
  await recordDelivered(db, unrecorded, now());
  for (const [entry, outcome] of undelivered) await record(opts, entry, outcome);
  return round;
}

/** Mark `ids` delivered and forget them; if the write fails they stay for the next round. */
async function recordDelivered(db: Db, ids: Set<number>, at: Date) {
  if (ids.size === 0) return;
  const written = [...ids];
  await db
    .update(outbox)
    .set({ status: "delivered", deliveredAt: at, lastError: null })
    .where(and(inArray(outbox.id, written), eq(outbox.status, "pending")));
  for (const id of written) ids.delete(id);
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

/**
 * Pending and not queued behind an earlier pending entry of the same commitment on the same channel.
 * MQTT events and nudges of a commitment form one channel; each webhook subscription is a channel of
 * its own, so a receiver that is down holds up neither a member's reminder nor another receiver.
 */
export function eligible() {
  return and(
    eq(outbox.status, "pending"),
    sql`(${outbox.commitmentId} is null or not exists (
      select 1 from flexibility_outbox earlier
      where earlier.commitment_id = ${outbox.commitmentId}
        and earlier.id < ${outbox.id} and earlier.status = 'pending'
        and case when ${outbox.kind} = 'webhook'
          then earlier.kind = 'webhook' and earlier.target = ${outbox.target}
          else earlier.kind <> 'webhook' end))`,
  );
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
      const backoff =
        entry.kind === "webhook"
          ? (opts.webhookBackoff ?? WEBHOOK_BACKOFF)
          : (opts.backoff ?? DEFAULT_BACKOFF);
      const delay = backoffDelay(entry.attempts, backoff);
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

/** MQTT topics carry a user id, webhook targets are subscriptions: label by family, not the full target. */
function metricTarget(entry: Entry): string {
  if (entry.kind === "webhook") return "webhook";
  return entry.kind === "mqtt" ? entry.target.split("/").slice(0, 3).join("/") : entry.target;
}

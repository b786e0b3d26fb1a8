import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import type { Run } from "./evidence.ts";
import { createDtGate, createMeterStore, READING_INTERVAL_MS } from "./meter-store.ts";
import { describeMethod } from "./method.ts";
import type { SettlementOutcome } from "./points.ts";
import { type Key, sweepReadings } from "./queries.ts";
import { restateBatch } from "./restate-batch.ts";
import { settleBatch } from "./settle-batch.ts";
import { createZonedClock } from "./zoned-clock.ts";

/** What one run did; logged by the listener and printed by `bun run settle`. */
export type SettlementRunSummary = {
  /** Due rows this run claimed (live, window ended). */
  claimed: number;
  /** Rows closed by this run, by outcome. */
  settled: Partial<Record<SettlementOutcome, number>>;
  /** Rows left live for the next run: data not in yet, device unknown, or the DT failed. */
  waiting: number;
  /** Of `waiting`: rows whose DT calls failed this run. */
  failed: number;
  /** Recent settlements whose readings changed, revised with a ledger delta. */
  restated: number;
  /** Digital Twin calls made. */
  dtCalls: number;
};

/** Rows claimed (and locked) per transaction. */
const DEFAULT_BATCH = 500;
const DAY_MS = 86_400_000;

/**
 * Settle every live commitment whose window has ended, then restate recent settlements whose
 * readings changed (issue "Points a member can trust").
 *
 * Rows are claimed in batches with FOR UPDATE SKIP LOCKED, so concurrent runs (listener replicas,
 * `bun run settle`) split the work and settle each commitment once. A batch's rows stay locked while
 * its evidence is gathered; its writes are a handful of statements. A row whose data is not in yet
 * stays live until SETTLEMENT_DEADLINE_DAYS after its window; a Digital Twin failure leaves only the
 * affected rows live. A restatement never ripples: it keeps the streak and cap of the settlement it
 * revises, and later commitments are not touched.
 */
export async function settleDueCommitments({
  ctx,
  input = {},
}: {
  ctx: Ctx;
  input?: { batchSize?: number };
}): Promise<SettlementRunSummary> {
  await authorize(ctx, "settle", { type: "commitment" });
  const started = performance.now();
  const run = createRun(ctx);
  const summary: SettlementRunSummary = {
    claimed: 0,
    settled: {},
    waiting: 0,
    failed: 0,
    restated: 0,
    dtCalls: 0,
  };
  const limit = Math.max(1, input.batchSize ?? DEFAULT_BATCH);
  for (const step of [settleBatch, restateBatch]) {
    let after: Key | null = null;
    do {
      after = await withTransaction(ctx, (tx) => step(tx, run, after, limit, summary));
      run.meters.release();
    } while (after);
  }
  const swept = await sweepReadings(ctx, run.now, run.method.readingRetentionDays);
  summary.dtCalls = run.gate.calls();
  ctx.metrics.observe("flexibility_settlement_run_seconds", (performance.now() - started) / 1000);
  ctx.log.info("settlement run", {
    ...summary,
    chunks_swept: swept,
    ms: Math.round(performance.now() - started),
  });
  return summary;
}

function createRun(ctx: Ctx): Run {
  const { method, communityTimezone, settlementConcurrency, settlementDeadlineDays } = ctx.config;
  const now = ctx.now();
  const gate = createDtGate(ctx.platform.dt, settlementConcurrency);
  const horizonMs = method.restatementDays * DAY_MS;
  return {
    method,
    config: describeMethod(method, { timeZone: communityTimezone, intervalMs: READING_INTERVAL_MS }),
    clock: createZonedClock(communityTimezone),
    intervalMs: READING_INTERVAL_MS,
    now,
    deadlineMs: settlementDeadlineDays * DAY_MS,
    horizonMs,
    gate,
    meters: createMeterStore({ gate, now, horizonMs }),
    ids: new Map(),
    forecasts: new Map(),
    warned: new Set(),
  };
}

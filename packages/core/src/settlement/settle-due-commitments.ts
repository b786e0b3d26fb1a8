import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import type { CommitmentRow } from "../db/schema.ts";
import { enqueue } from "../outbox/enqueue.ts";
import type { Verdict } from "./decide.ts";
import { type Gathered, gather, groupBy, type History, type Run } from "./evidence.ts";
import { canonical, differs, inputsOf, judge, type Settled, toWrite } from "./judge.ts";
import { createDtGate, createMeterStore, READING_INTERVAL_MS } from "./meter-store.ts";
import { describeMethod } from "./method.ts";
import { settledNudge } from "./nudge.ts";
import type { SettlementOutcome } from "./points.ts";
import {
  claimDue,
  claimRestatable,
  type Key,
  type SettlementWrite,
  sweepReadings,
  touchInputs,
  writeResolved,
  writeSettlements,
} from "./queries.ts";
import { isoWeekOf } from "./streak.ts";
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

/** Claim, gather, judge (each member's rows in window order) and write one batch of due rows. */
async function settleBatch(
  tx: Ctx,
  run: Run,
  after: Key | null,
  limit: number,
  summary: SettlementRunSummary,
) {
  const rows = await claimDue(tx, run.now, after, limit);
  if (rows.length === 0) return null;
  summary.claimed += rows.length;
  const { gathered, history } = await gather(tx, run, rows);
  const writes: SettlementWrite[] = [];
  const resolved: { id: string; communityId: string | null; deviceId: string | null }[] = [];
  const earlier: Settled[] = [];
  for (const row of inWindowOrder(rows)) {
    const found = gathered.get(row.id);
    const verdict = judge(run, row, found, history, earlier);
    const ids = idsOf(row, found);
    if (!verdict) {
      summary.waiting++;
      if (found?.kind === "failed") summary.failed++;
      if (ids.communityId !== row.communityId || ids.deviceId !== row.deviceId)
        resolved.push({ id: row.id, ...ids });
      continue;
    }
    writes.push(toWrite(run, row, ids, verdict, 1, inputsOf(run, row, found)));
    remember(run, history, row, verdict, earlier);
    summary.settled[verdict.outcome] = (summary.settled[verdict.outcome] ?? 0) + 1;
    tx.metrics.inc("flexibility_settlements_total", { outcome: verdict.outcome });
  }
  await writeSettlements(tx, writes, run.now);
  await writeResolved(tx, resolved);
  const byId = new Map(rows.map((r) => [r.id, r]));
  await enqueue(
    tx,
    writes.flatMap((w) => {
      const row = byId.get(w.id);
      return row ? [settledNudge(w, row, run)] : [];
    }),
  );
  return keyOf(rows);
}

/** Re-judge recent settlements with fresh readings; a changed result is a new revision and a ledger delta. */
async function restateBatch(
  tx: Ctx,
  run: Run,
  after: Key | null,
  limit: number,
  summary: SettlementRunSummary,
) {
  const claimed = await claimRestatable(tx, run.now, run.horizonMs, after, limit);
  if (claimed.length === 0) return null;
  const rows = claimed.map((c) => c.row);
  const { gathered, history } = await gather(tx, run, rows);
  const config = canonical(run.config);
  const writes: SettlementWrite[] = [];
  const touched: { id: string; revision: number; inputs: string }[] = [];
  for (const { row, stored, inputs } of claimed) {
    // Settled under another configuration: a restatement re-reads inputs, it does not re-price.
    if (canonical(stored.config) !== config) continue;
    const found = gathered.get(row.id);
    const fresh = inputsOf(run, row, found);
    if (fresh === null || fresh === inputs) continue;
    const given =
      stored.streak && stored.cap && stored.multipliers
        ? {
            streak: {
              level: stored.streak.level,
              peak: stored.streak.best,
              multiplier: stored.multipliers.streak,
              week: stored.streak.week,
            },
            cap: stored.cap,
          }
        : {};
    const verdict = judge(run, row, found, history, [], given);
    if (!verdict || verdict.outcome === "no_data" || verdict.outcome === "no_device") continue;
    if (differs(stored, verdict)) {
      writes.push(toWrite(run, row, idsOf(row, found), verdict, row.settlementRevision + 1, fresh));
    } else {
      touched.push({ id: row.id, revision: row.settlementRevision, inputs: fresh });
    }
  }
  await touchInputs(tx, touched);
  await writeSettlements(tx, writes, run.now);
  summary.restated += writes.length;
  for (const w of writes) tx.metrics.inc("flexibility_restatements_total", { outcome: w.outcome });
  return keyOf(rows);
}

/** Each member's rows in window order, so what an earlier one settles counts for the later ones. */
function inWindowOrder(rows: CommitmentRow[]): CommitmentRow[] {
  const sorted = [...rows].sort(
    (a, b) =>
      a.periodStart.getTime() - b.periodStart.getTime() ||
      a.periodEnd.getTime() - b.periodEnd.getTime() ||
      (a.id < b.id ? -1 : 1),
  );
  return [...groupBy(sorted, (r) => r.userId).values()].flat();
}

/** A settled row's outcome joins its member's week; a qualifying one counts toward their later caps. */
function remember(run: Run, history: History, row: CommitmentRow, verdict: Verdict, earlier: Settled[]) {
  const weeks = history.weeks.get(row.userId) ?? new Map<string, string[]>();
  const monday = isoWeekOf(run.clock.local(row.periodStart).date);
  weeks.set(monday, [...(weeks.get(monday) ?? []), verdict.outcome]);
  history.weeks.set(row.userId, weeks);
  if (verdict.outcome === "delivered" && verdict.raw !== null) {
    earlier.push({ userId: row.userId, start: row.periodStart.getTime(), raw: verdict.raw });
  }
}

function idsOf(row: CommitmentRow, found: Gathered | undefined) {
  const ids = found && found.kind !== "failed" ? found.ids : found?.ids;
  return { communityId: ids?.communityId ?? row.communityId, deviceId: ids?.deviceId ?? row.deviceId };
}

function keyOf(rows: CommitmentRow[]): Key | null {
  const last = rows[rows.length - 1];
  return last ? { end: last.periodEnd, id: last.id } : null;
}

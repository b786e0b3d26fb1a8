import { and, desc, eq } from "drizzle-orm";
import { authorize, ownScope } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { type CommitmentRow, commitments as c, settlements } from "../db/schema.ts";
import { NotFoundError } from "../errors.ts";
import { messageOf } from "../lib/message-of.ts";
import { CommitmentIdParam } from "../schemas/commitments.ts";
import type { CommitmentProgress } from "../schemas/progress.ts";
import { StoredSettlement } from "../schemas/settlement.ts";
import { formatInstant } from "../time.ts";
import { parseInput } from "../validate.ts";
import { intervalsOf } from "./baseline.ts";
import { type Context, readingsNeeded } from "./decide.ts";
import { commitmentOf, heldAtOf } from "./evidence.ts";
import { kwhOf } from "./kwh.ts";
import {
  CHUNK_SLOTS,
  claimRefresh,
  createDtGate,
  createMeterStore,
  LOAD_ONLY,
  microKwhOf,
} from "./meter-store.ts";
import { capOf } from "./points.ts";
import { progressOf } from "./progress.ts";
import { capReferences, heldWindows } from "./queries.ts";
import { isoWeekOf } from "./streak.ts";
import { streakInForce } from "./streak-in-force.ts";
import { qualifyingMicroKwh } from "./target.ts";
import { settlementContext } from "./window-targets.ts";

/** A chunk is asked of the DT again only when it was last asked for this long ago (across replicas). */
export const PROGRESS_REFRESH_MS = 60_000;
/** Counter of progress answers given from stored readings because the DT did not answer. */
export const PROGRESS_STALE = "flexibility_progress_stale_total";

const DAY_MS = 86_400_000;

/**
 * How a commitment is doing, from the readings available now (issue 13, item 2). The owner, or a
 * service with read or admin scope; anybody else's commitment, an unknown one, and a cancelled or
 * rejected one are not found.
 *
 * Live: once an interval of the window has ended, the chunk holding the latest one is refreshed from
 * the DT (service token, `rec_settlement_1h`, written to the meter store settlement reads) — only
 * when it was last asked for at least PROGRESS_REFRESH_MS ago, which the database decides, so a
 * member polling every few seconds costs one DT call a minute whatever replica answers. A DT failure
 * answers from the stored readings (`as_of` says how far they go), never an error. Settled: the
 * settlement's stored figures, never recomputed.
 */
export async function getProgress({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: { id: string };
}): Promise<CommitmentProgress> {
  await authorize(ctx, "read", { type: "commitment_progress", ownerId: ownScope(ctx.actor) });
  const { id } = parseInput(CommitmentIdParam, input);
  const owner = ownScope(ctx.actor);
  const [row] = await ctx.db
    .select()
    .from(c)
    .where(and(eq(c.id, id), owner ? eq(c.userId, owner) : undefined));
  if (!row) throw new NotFoundError(`commitment ${id} not found`);
  const context = settlementContext(ctx);
  if (row.status === "settled") return settledProgress(ctx, row, context);
  if (row.status !== "committed") throw new NotFoundError(`commitment ${id} is ${row.status}: no progress`);

  const now = ctx.now();
  if (row.deviceId && row.communityId) {
    await refreshLatest(ctx, { ...row, deviceId: row.deviceId, communityId: row.communityId }, now, context);
  }
  return withTransaction(ctx, async (tx) => {
    const commitment = commitmentOf(row);
    const store = createMeterStore({ gate: LOAD_ONLY, now, horizonMs: 0 });
    const device = row.deviceId;
    if (device) await store.load(tx, [{ device, at: readingsNeeded(commitment, context) }]);
    const lookback = (context.method.baseline.lookbackDays + 1) * DAY_MS;
    const held = await heldWindows(
      tx,
      [row.userId],
      new Date(row.periodStart.getTime() - lookback),
      row.periodEnd,
    );
    const week = isoWeekOf(context.clock.local(row.periodStart).date);
    const streak = await streakInForce(tx, row.userId, week);
    const caps = await capReferences(
      tx,
      [{ id: row.id, userId: row.userId, communityId: row.communityId, start: row.periodStart }],
      context.method.cap.lookbackDays,
    );
    const refs = caps.get(row.id) ?? {
      own: { windows: 0, meanRaw: null },
      community: { windows: 0, medianRaw: null },
    };
    const p = progressOf(
      {
        commitment,
        readingAt: device ? store.readingAt(device) : () => null,
        heldAt: heldAtOf(held, row.id),
        streak: { ...streak, week },
        cap: capOf(refs, context.method.cap),
      },
      now.getTime(),
      context,
    );
    const asOf = now < row.periodStart ? now.getTime() : (p.lastReadingEnd ?? row.periodStart.getTime());
    return {
      commitment_id: row.id,
      settled: false,
      as_of: formatInstant(new Date(asOf)),
      intervals_total: p.intervalsTotal,
      intervals_done: p.intervalsDone,
      actual_kwh_so_far: kwhOf(p.actualMicroKwh),
      baseline_kwh_so_far: p.adjustedMicroKwh === null ? null : kwhOf(p.adjustedMicroKwh),
      qualifying_kwh: p.qualifyingMicroKwh === null ? null : kwhOf(p.qualifyingMicroKwh),
      on_track: p.onTrack,
      projected_points: p.projectedPoints,
    };
  });
}

/**
 * Ask the DT for the chunk holding the window's latest ended interval, when this caller wins the
 * claim (claimRefresh). Nothing ended yet → nothing to read, no call. A failure is logged and
 * counted; the answer then comes from what is stored.
 */
async function refreshLatest(
  ctx: Ctx,
  row: CommitmentRow & { deviceId: string; communityId: string },
  now: Date,
  context: Context,
): Promise<void> {
  const ended = intervalsOf({ start: row.periodStart, end: row.periodEnd }, context.intervalMs).filter(
    (i) => i.end <= now.getTime(),
  );
  const last = ended.at(-1);
  if (!last) return;
  const chunkMs = context.intervalMs * CHUNK_SLOTS;
  const start = Math.floor(last.start / chunkMs) * chunkMs;
  const claimed = await claimRefresh(ctx, {
    device: row.deviceId,
    userId: row.userId,
    start,
    now,
    minAgeMs: PROGRESS_REFRESH_MS,
    intervalMs: context.intervalMs,
  });
  if (!claimed) return;
  const store = createMeterStore({
    gate: createDtGate(ctx.platform.dt, 1),
    now,
    horizonMs: context.method.restatementDays * DAY_MS,
    intervalMs: context.intervalMs,
  });
  const failed = await store.prepare(ctx, [
    { userId: row.userId, community: row.communityId, device: row.deviceId, at: [last.start] },
  ]);
  for (const error of failed.values()) {
    ctx.metrics.inc(PROGRESS_STALE);
    ctx.log.warn("progress: the digital twin did not answer; answering from the stored readings", {
      commitment_id: row.id,
      device_id: row.deviceId,
      error: messageOf(error),
    });
  }
}

/** A settled commitment: the latest settlement's figures as stored (the commitment's columns), never recomputed. */
async function settledProgress(ctx: Ctx, row: CommitmentRow, context: Context): Promise<CommitmentProgress> {
  const [latest] = await ctx.db
    .select({ explanation: settlements.explanation })
    .from(settlements)
    .where(eq(settlements.commitmentId, row.id))
    .orderBy(desc(settlements.revision))
    .limit(1);
  const stored = latest ? StoredSettlement.parse(latest.explanation) : null;
  const actual = microKwhOf(row.actualKwh);
  const adjusted = microKwhOf(row.baselineKwh);
  const windowMs = row.periodEnd.getTime() - row.periodStart.getTime();
  // Thresholds as the settlement used them (its stored configuration), else as configured now.
  const config = stored?.config?.points;
  const rule = config
    ? {
        ...context.method.points,
        minShiftKw: config.min_shift_kw,
        minShiftFraction: config.min_shift_fraction,
      }
    : context.method.points;
  const intervals = intervalsOf({ start: row.periodStart, end: row.periodEnd }, context.intervalMs);
  return {
    commitment_id: row.id,
    settled: true,
    as_of: stored?.settled_at ?? formatInstant(row.settledAt ?? row.committedAt),
    intervals_total: stored && stored.intervals.length > 0 ? stored.intervals.length : intervals.length,
    intervals_done:
      stored?.totals?.intervals_counted ?? stored?.intervals.filter((i) => i.actual_kwh !== null).length ?? 0,
    actual_kwh_so_far: actual === null ? 0 : kwhOf(actual),
    baseline_kwh_so_far: adjusted === null ? null : kwhOf(adjusted),
    qualifying_kwh: adjusted === null ? null : nullableKwh(qualifyingMicroKwh(adjusted, windowMs, rule)),
    on_track: stored?.totals?.qualifies ?? null,
    projected_points: row.rewardPointsActual ?? 0,
  };
}

const nullableKwh = (micro: number | null) => (micro === null ? null : kwhOf(micro));

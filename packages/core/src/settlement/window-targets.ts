import type { Ctx } from "../context.ts";
import { preparedRowsOf } from "../db/direct.ts";
import type { SuggestionTarget } from "../schemas/suggestions.ts";
import { intervalsOf } from "./baseline.ts";
import { type Context, instantsRead } from "./decide.ts";
import { heldAtOf } from "./evidence.ts";
import { kwhOf } from "./kwh.ts";
import { createMeterStore, LOAD_ONLY, READING_INTERVAL_MS } from "./meter-store.ts";
import { describeMethod } from "./method.ts";
import { heldWindows } from "./queries.ts";
import { isoWeekOf } from "./streak.ts";
import { streakInForce } from "./streak-in-force.ts";
import { targetOf } from "./target.ts";
import { zonedClockOf } from "./zoned-clock.ts";

const DAY_MS = 86_400_000;

export type ListedWindow = { id: string; start: Date; end: Date };

/**
 * The targets of the windows listed to a member (window id → target; a window without one is left
 * out), from the readings we hold for their device: one query loads the stored chunks every window's
 * baseline reads; when any is stored, two more (side by side) their held windows (event days) and
 * their weeks (the streak). Never the DT: settlement runs, progress refreshes and the back-fill fill
 * the store. `ctx` holds the root database handle (no transaction): the reads are named prepared
 * statements.
 */
export async function targetsFor(
  ctx: Ctx,
  { userId, deviceId, windows }: { userId: string; deviceId: string; windows: ListedWindow[] },
): Promise<Map<string, SuggestionTarget>> {
  const targets = new Map<string, SuggestionTarget>();
  if (windows.length === 0) return targets;
  const context = settlementContext(ctx);
  const at = windows.flatMap((w) => instantsRead(intervalsOf(w, context.intervalMs), context));
  const store = createMeterStore({ gate: LOAD_ONLY, now: ctx.now(), horizonMs: 0 });
  // The hottest read of a listing: named prepared statements (the listing's transaction is over, so
  // this is the root handle).
  await store.load(ctx, [{ device: deviceId, at }], preparedRowsOf);
  const readingAt = store.readingAt(deviceId);
  // Nothing stored for these windows' days: no baseline, and no need to ask about history.
  if (!at.some((instant) => readingAt(instant) !== null)) return targets;

  const from = new Date(
    Math.min(...windows.map((w) => w.start.getTime())) - (context.method.baseline.lookbackDays + 1) * DAY_MS,
  );
  const to = new Date(Math.max(...windows.map((w) => w.end.getTime())));
  const [held, streak] = await Promise.all([
    heldWindows(ctx, [userId], from, to, preparedRowsOf),
    streakInForce(ctx, userId, isoWeekOf(context.clock.local(ctx.now()).date), preparedRowsOf),
  ]);
  const heldAt = heldAtOf(held, "");
  for (const window of windows) {
    const target = targetOf(window, { readingAt, heldAt }, streak.multiplier, context);
    if (!target) continue;
    targets.set(window.id, {
      baseline_kwh: kwhOf(target.baselineMicroKwh),
      qualifying_kwh: kwhOf(target.qualifyingMicroKwh),
      points_per_extra_kwh: target.pointsPerExtraKwh,
      streak_multiplier: target.streakMultiplier,
    });
  }
  return targets;
}

/** The settlement context of a verb: the configured method, in community time, per stored reading interval. */
export function settlementContext(ctx: Ctx): Context {
  const { method, communityTimezone } = ctx.config;
  return {
    method,
    config: describeMethod(method, { timeZone: communityTimezone, intervalMs: READING_INTERVAL_MS }),
    clock: zonedClockOf(communityTimezone),
    intervalMs: READING_INTERVAL_MS,
  };
}

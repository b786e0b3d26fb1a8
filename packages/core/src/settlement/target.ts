import type { Window } from "./baseline.ts";
import { type Context, type Evidence, windowBaselines } from "./decide.ts";
import { MICRO_PER_KWH, rawPoints, shiftOf } from "./points.ts";

// What a member is promised before a window (issue 13, item 1): the window's reference baseline as
// settlement will compute it (adjustment aside), the least consumption that qualifies, and the points
// each kWh above the baseline earns at the lowest effort tier. Pure: readings, held windows and the
// streak come from the caller. Energy is whole µkWh, as everywhere in settlement.

const HOUR_MS = 3_600_000;

export type Target = {
  /** Σ over the window's reading intervals of each interval's reference baseline, µkWh. */
  baselineMicroKwh: number;
  /** The least whole µkWh over the window that qualifies against that baseline. */
  qualifyingMicroKwh: number;
  /** rate × the lowest effort tier's multiplier × event × streak (accuracy 1, before the cap). */
  pointsPerExtraKwh: number;
  streakMultiplier: number;
};

/**
 * The target of a window, or null when any of its reading intervals has no baseline (fewer than
 * `min_candidates` candidates, or no stored readings at all) or nothing could qualify: a target we
 * could not keep is not shown.
 */
export function targetOf(
  window: Window,
  inputs: Pick<Evidence, "readingAt" | "heldAt">,
  streakMultiplier: number,
  context: Pick<Context, "method" | "clock" | "intervalMs">,
): Target | null {
  const baselines = windowBaselines(window, inputs, context);
  if (baselines.length === 0 || baselines.some((b) => b.microKwh === null)) return null;
  const baselineMicroKwh = baselines.reduce((sum, b) => sum + (b.microKwh ?? 0), 0);
  const points = context.method.points;
  const qualifying = qualifyingMicroKwh(
    baselineMicroKwh,
    window.end.getTime() - window.start.getTime(),
    points,
  );
  if (qualifying === null) return null;
  return {
    baselineMicroKwh,
    qualifyingMicroKwh: qualifying,
    pointsPerExtraKwh: pointsPerExtraKwh(streakMultiplier, points),
    streakMultiplier,
  };
}

/**
 * The least consumption (whole µkWh) over a window that qualifies against `baselineMicroKwh`:
 * baseline + max(min_shift_fraction × baseline, min_shift_kw × window hours), rounded up to whole
 * µkWh (readings are whole µkWh), and at least 1 µkWh above the baseline (a shift must be positive).
 * shiftOf() agrees: this qualifies, one µkWh less does not. Null when nothing can qualify (a zero
 * baseline with a minimum fraction).
 */
export function qualifyingMicroKwh(
  baselineMicroKwh: number,
  windowMs: number,
  rule: Context["method"]["points"],
): number | null {
  const byFraction = rule.minShiftFraction * baselineMicroKwh;
  const byPower = rule.minShiftKw * (windowMs / HOUR_MS) * MICRO_PER_KWH;
  // Snap binary noise first (0.05 kW × 3 h is 0.15000000000000002 kWh), then round up.
  let shift = Math.max(1, Math.ceil(Number(Math.max(byFraction, byPower).toFixed(6))));
  // The thresholds forgive the last bits of floating point (atLeast): settle the last µkWh with the
  // very test settlement applies.
  const qualifies = (extra: number) =>
    shiftOf({ actualMicroKwh: baselineMicroKwh + extra, adjustedMicroKwh: baselineMicroKwh, windowMs }, rule)
      .qualifies;
  for (let step = 0; step < 1_000 && !qualifies(shift); step++) shift += 1;
  // A zero baseline has no fraction to reach (settlement counts it 0): nothing qualifies.
  if (!qualifies(shift)) return null;
  while (shift > 1 && qualifies(shift - 1)) shift -= 1;
  return baselineMicroKwh + shift;
}

/**
 * Points per kWh above the baseline at the lowest effort tier: rate × tier × event × streak, the
 * engine's rawPoints for 1 kWh with accuracy 1 (the forecast proved right) and no cap. A larger shift
 * reaches a higher tier and earns more per kWh; a forecast that proved wrong, down to the accuracy
 * floor, and the per-window cap earn less. Snapped to 9 decimals (15 × 1.05 is 15.75, not 15.750000000000002).
 */
export function pointsPerExtraKwh(streakMultiplier: number, rule: Context["method"]["points"]): number {
  // Tiers are ascending (parseSettlementMethod sorts them): the first is the lowest.
  const lowest = rule.effortTiers[0]?.multiplier ?? 0;
  const raw = rawPoints(
    MICRO_PER_KWH,
    { effort: lowest, event: rule.eventMultiplier, accuracy: 1, streak: streakMultiplier },
    rule.ratePerKwh,
  );
  return Number(raw.toFixed(9));
}

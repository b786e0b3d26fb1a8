import type { SETTLEMENT_OUTCOMES } from "../db/schema.ts";
import { roundHalfUp } from "../rounding.ts";
import type { SettlementMethod } from "./method.ts";

// Points for one window (issue "Points a member can trust", item 3). Energy arrives as whole µkWh;
// multipliers are plain numbers; points are rounded half up once, at the end.

export type SettlementOutcome = (typeof SETTLEMENT_OUTCOMES)[number];

/** Outcomes that judge the member: the only ones that move a streak. */
export type JudgedOutcome = "delivered" | "not_delivered";

export const MICRO_PER_KWH = 1_000_000;
const HOUR_MS = 3_600_000;

/** a ≥ b, forgiving the last bits binary floating point loses (0.15 / 3 is 0.049999999999999996). */
export function atLeast(a: number, b: number): boolean {
  return a >= b - 1e-12 * Math.max(1, Math.abs(b));
}

export type Shift = {
  /** max(0, actual − adjusted baseline), µkWh. */
  shiftedMicroKwh: number;
  /** shifted ÷ adjusted baseline (0 when the baseline is 0). */
  fraction: number;
  /** Average shifted power over the window, kW. */
  averageKw: number;
  /** fraction ≥ min_shift_fraction and average ≥ min_shift_kw. */
  qualifies: boolean;
  /** The effort tier's multiplier (0 when it does not qualify). */
  effort: number;
};

export function shiftOf(
  {
    actualMicroKwh,
    adjustedMicroKwh,
    windowMs,
  }: { actualMicroKwh: number; adjustedMicroKwh: number; windowMs: number },
  rule: SettlementMethod["points"],
): Shift {
  const shiftedMicroKwh = Math.max(0, actualMicroKwh - adjustedMicroKwh);
  const fraction = adjustedMicroKwh > 0 ? shiftedMicroKwh / adjustedMicroKwh : 0;
  const averageKw = shiftedMicroKwh / MICRO_PER_KWH / (windowMs / HOUR_MS);
  const qualifies =
    shiftedMicroKwh > 0 && atLeast(fraction, rule.minShiftFraction) && atLeast(averageKw, rule.minShiftKw);
  return {
    shiftedMicroKwh,
    fraction,
    averageKw,
    qualifies,
    effort: qualifies ? effortOf(fraction, rule) : 0,
  };
}

/** The multiplier of the highest tier whose lower bound the fraction reaches (tiers ascending); 0 below the first. */
export function effortOf(fraction: number, rule: Pick<SettlementMethod["points"], "effortTiers">): number {
  let effort = 0;
  for (const tier of rule.effortTiers) if (atLeast(fraction, tier.minFraction)) effort = tier.multiplier;
  return effort;
}

export type Accuracy = {
  /** The multiplier: max(floor, surplus ÷ intervals), or 1 when no measured forecast rows exist. */
  value: number;
  /** Measured (`period = "actual"`) forecast intervals in the window, and how many had a surplus. */
  intervals: number;
  surplusIntervals: number;
  known: boolean;
};

export function accuracyOf(
  { intervals, surplusIntervals }: { intervals: number; surplusIntervals: number },
  rule: Pick<SettlementMethod["points"], "accuracyFloor">,
): Accuracy {
  if (intervals === 0) return { value: 1, intervals, surplusIntervals, known: false };
  return {
    value: Math.max(rule.accuracyFloor, surplusIntervals / intervals),
    intervals,
    surplusIntervals,
    known: true,
  };
}

export type CapKind = "device" | "community" | "none";
export type Cap = { kind: CapKind; value: number | null; windows: number };

/** The qualifying windows a cap looks at: the member's own (mean raw) and the community's (median raw). */
export type CapReferences = {
  own: { windows: number; meanRaw: number | null };
  community: { windows: number; medianRaw: number | null };
};

/**
 * The per-window cap: multiplier × the mean raw of the member's own qualifying windows settled in
 * the look-back, when there are at least `minWindows`; else multiplier × the community's median
 * over the same days, when it has at least `minWindows`; else none.
 */
export function capOf({ own, community }: CapReferences, rule: SettlementMethod["cap"]): Cap {
  if (own.windows >= rule.minWindows && own.meanRaw !== null) {
    return { kind: "device", value: rule.multiplier * own.meanRaw, windows: own.windows };
  }
  if (community.windows >= rule.minWindows && community.medianRaw !== null) {
    return { kind: "community", value: rule.multiplier * community.medianRaw, windows: community.windows };
  }
  return { kind: "none", value: null, windows: 0 };
}

/** The middle value; the mean of the two middle ones for an even count (as percentile_cont(0.5)). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export type Multipliers = { effort: number; event: number; accuracy: number; streak: number };

/** raw = shifted kWh × rate × effort × event × accuracy × streak. */
export function rawPoints(shiftedMicroKwh: number, m: Multipliers, ratePerKwh: number): number {
  return (shiftedMicroKwh / MICRO_PER_KWH) * ratePerKwh * m.effort * m.event * m.accuracy * m.streak;
}

/** round_half_up(min(raw, cap)). */
export function cappedPoints(raw: number, cap: Cap): number {
  return roundHalfUp(cap.value === null ? raw : Math.min(raw, cap.value));
}

/** No baseline: min(round_half_up(actual kWh × rate × factor), the estimate). */
export function pointsWithoutBaseline(
  actualMicroKwh: number,
  estimated: number,
  rule: Pick<SettlementMethod["points"], "ratePerKwh" | "noBaselineFactor">,
): number {
  const points = roundHalfUp((actualMicroKwh / MICRO_PER_KWH) * rule.ratePerKwh * rule.noBaselineFactor);
  return Math.max(0, Math.min(points, estimated));
}

/** Whether an outcome judges the member (every other outcome is our failure or a hand settlement). */
export function isJudged(outcome: string | null): outcome is JudgedOutcome {
  return outcome === "delivered" || outcome === "not_delivered";
}

import type { SETTLEMENT_OUTCOMES } from "../db/schema.ts";
import { roundHalfUp } from "../rounding.ts";
import type { Baseline } from "./legacy-baseline.ts";

// The settlement formula. Energy arrives as whole µkWh; points are whole numbers rounded half up
// (0.25 kWh × 10 = 2.5 → 3 points), the one rounding rule of src/rounding.ts.

export type SettlementOutcome = (typeof SETTLEMENT_OUTCOMES)[number];

/** Outcomes that judge the member: the only ones that extend (`delivered`) or break a streak. */
export type JudgedOutcome = "delivered" | "not_delivered";

export type PointsRule = {
  pointsPerKwh: number;
  /** Percent per prior fulfilled commitment in the streak. */
  streakBonusPct: number;
  /** The bonus never exceeds this many percent. */
  streakBonusCapPct: number;
};

export const MICRO_PER_KWH = 1_000_000;

/** min(STREAK_BONUS_PCT × prior_streak, STREAK_BONUS_CAP_PCT), in whole percent. */
export function bonusPctFor(priorStreak: number, rule: PointsRule): number {
  return Math.min(rule.streakBonusPct * Math.max(0, priorStreak), rule.streakBonusCapPct);
}

/**
 * round_half_up(delivered_kwh × POINTS_PER_KWH × (1 + bonus)). Computed as the integer
 * µkWh × points × (100 + bonus %) over 10⁸, so the only inexact step is one division that
 * roundHalfUp snaps back to its decimal reading.
 */
export function pointsForDelivered(
  deliveredMicroKwh: number,
  bonusPct: number,
  pointsPerKwh: number,
): number {
  const scaled = Math.max(0, deliveredMicroKwh) * pointsPerKwh * (100 + bonusPct);
  return roundHalfUp(scaled / (MICRO_PER_KWH * 100));
}

/** No baseline: min(round_half_up(actual × POINTS_PER_KWH), reward_points_estimated), no bonus. */
export function pointsWithoutBaseline(
  actualMicroKwh: number,
  estimated: number,
  pointsPerKwh: number,
): number {
  return Math.max(0, Math.min(pointsForDelivered(actualMicroKwh, 0, pointsPerKwh), estimated));
}

export type Judgement = {
  outcome: Extract<SettlementOutcome, "delivered" | "not_delivered" | "no_baseline">;
  /** max(0, actual − baseline); null without a baseline. */
  deliveredMicroKwh: number | null;
  points: number;
  /** The streak bonus applied, in percent (0 without a baseline). */
  bonusPct: number;
};

/** Settle one commitment whose window has data. */
export function judge({
  actualMicroKwh,
  baseline,
  estimated,
  priorStreak,
  rule,
}: {
  actualMicroKwh: number;
  baseline: Baseline;
  estimated: number;
  priorStreak: number;
  rule: PointsRule;
}): Judgement {
  if (baseline.microKwh === null) {
    return {
      outcome: "no_baseline",
      deliveredMicroKwh: null,
      points: pointsWithoutBaseline(actualMicroKwh, estimated, rule.pointsPerKwh),
      bonusPct: 0,
    };
  }
  const delivered = Math.max(0, actualMicroKwh - baseline.microKwh);
  const bonusPct = bonusPctFor(priorStreak, rule);
  return {
    outcome: delivered > 0 ? "delivered" : "not_delivered",
    deliveredMicroKwh: delivered,
    points: pointsForDelivered(delivered, bonusPct, rule.pointsPerKwh),
    bonusPct,
  };
}

/** Whether an outcome judges the member (every other outcome is our failure or a hand settlement). */
export function isJudged(outcome: string | null): outcome is JudgedOutcome {
  return outcome === "delivered" || outcome === "not_delivered";
}

/**
 * The prior streak: consecutive `delivered` outcomes immediately before a commitment, given the
 * settled outcomes before it newest first. Unjudged outcomes (`no_baseline`, `no_data`,
 * `no_device`, `manual`) neither count nor break it; `not_delivered` ends it.
 */
export function priorStreakOf(outcomesNewestFirst: Iterable<string | null>): number {
  let streak = 0;
  for (const outcome of outcomesNewestFirst) {
    if (outcome === "delivered") streak++;
    else if (outcome === "not_delivered") break;
  }
  return streak;
}

/** Current and best streak over a member's settled outcomes in window order (oldest first). */
export function streaksOf(outcomesOldestFirst: Iterable<string | null>): { current: number; best: number } {
  let current = 0;
  let best = 0;
  for (const outcome of outcomesOldestFirst) {
    if (outcome === "delivered") best = Math.max(best, ++current);
    else if (outcome === "not_delivered") current = 0;
  }
  return { current, best };
}

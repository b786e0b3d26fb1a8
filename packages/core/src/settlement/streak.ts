import type { SettlementMethod } from "./method.ts";
import { addDays, daysBetween, type LocalDate } from "./zoned-clock.ts";

// The weekly streak, as the platform pipeline's lib/streaks.py: one step per ISO week (community
// time). A week with a delivered window climbs a level; a week with a miss and no delivery, or with
// no commitment at all, decays one — never below round(peak × floor_fraction), Python's round
// (half to even); a week with only unjudged outcomes leaves the level where it was.

/** What a week held, as far as the streak is concerned. */
export type WeekMark = "delivered" | "missed" | "unjudged";

export type Streak = { level: number; peak: number; multiplier: number };

/** Monday of the ISO week a local date falls in. */
export function isoWeekOf(date: LocalDate): LocalDate {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(date, -((weekday + 6) % 7));
}

/** Round half to even, as Python's `round` (after snapping away binary noise: 3 × 0.5 is exactly 1.5). */
export function roundHalfEven(value: number): number {
  const x = Number(value.toFixed(9));
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The multiplier of a level: min(1 + increment × level, max_multiplier). */
export function streakMultiplier(level: number, rule: SettlementMethod["streak"]): number {
  return Math.min(Number((1 + rule.increment * level).toFixed(9)), rule.maxMultiplier);
}

/**
 * The streak in force for week `until` (a Monday): every ISO week from the member's first judged
 * week up to the week before `until`, in order. `weeks` maps a week's Monday to what it held;
 * a week missing from it had no commitment.
 */
export function streakBefore(
  weeks: ReadonlyMap<LocalDate, WeekMark>,
  until: LocalDate,
  rule: SettlementMethod["streak"],
): Streak {
  const judged = [...weeks]
    .filter(([week, mark]) => mark !== "unjudged" && week < until)
    .map(([week]) => week)
    .sort();
  let level = 0;
  let peak = 0;
  const first = judged[0];
  if (first !== undefined) {
    for (let week = first; daysBetween(week, until) > 0; week = addDays(week, 7)) {
      const mark = weeks.get(week);
      if (mark === "delivered") {
        level = Math.min(level + 1, rule.maxLevel);
        peak = Math.max(peak, level);
      } else if (mark !== "unjudged") {
        level = Math.max(level - rule.decayPerWeek, roundHalfEven(peak * rule.floorFraction));
      }
    }
  }
  return { level, peak, multiplier: streakMultiplier(level, rule) };
}

/** A week's mark from the outcomes settled in it (live, cancelled and declined rows are not outcomes). */
export function weekMarkOf(outcomes: Iterable<string | null>): WeekMark | null {
  let mark: WeekMark | null = null;
  for (const outcome of outcomes) {
    if (outcome === "delivered") return "delivered";
    if (outcome === "not_delivered") mark = "missed";
    else if (mark === null && outcome !== null) mark = "unjudged";
  }
  return mark;
}

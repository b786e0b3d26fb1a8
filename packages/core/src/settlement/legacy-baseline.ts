import { roundHalfUp } from "../rounding.ts";
import { addDays, daysBetween, isWeekend, type LocalDate, type ZonedClock } from "./zoned-clock.ts";

// The member's own baseline: what they usually consume in the same clock window. Energy is carried
// as whole µkWh (millionths of a kWh) so sums are exact and never depend on the order rows came in.

export type Window = { start: Date; end: Date };

export type BaselineRule = {
  /** Days averaged for a window that starts on a weekday (Mon–Fri, community time). */
  weekdays: number;
  /** Days averaged for a window that starts on a Saturday or Sunday. */
  weekendDays: number;
  /** Calendar days looked back at most. */
  lookbackDays: number;
  /** Fewer days with data than this → no baseline. */
  minDays: number;
};

export const BASELINE_RULE: BaselineRule = { weekdays: 10, weekendDays: 4, lookbackDays: 21, minDays: 3 };

export type BaselineDay = Window & { date: LocalDate };

/**
 * The days whose same clock window forms the baseline of `window`, newest first: the previous
 * weekdays (or weekend days, for a weekend window) in community time, skipping days on which
 * `isBusy` says the member had another commitment overlapping that day's window. A window that
 * crosses midnight keeps crossing it (22:00–02:00 → each day's 22:00 to the next day's 02:00);
 * on a DST day the same clock window is an hour longer or shorter, as the member lived it.
 */
export function baselineDaysOf(
  window: Window,
  clock: ZonedClock,
  isBusy: (day: BaselineDay) => boolean,
  rule: BaselineRule = BASELINE_RULE,
): BaselineDay[] {
  const from = clock.local(window.start);
  const to = clock.local(window.end);
  const span = daysBetween(from.date, to.date);
  const weekend = isWeekend(from.date);
  const wanted = weekend ? rule.weekendDays : rule.weekdays;
  const days: BaselineDay[] = [];
  for (let back = 1; back <= rule.lookbackDays && days.length < wanted; back++) {
    const date = addDays(from.date, -back);
    if (isWeekend(date) !== weekend) continue;
    const day = {
      date,
      start: clock.instant(date, from.msOfDay),
      end: clock.instant(addDays(date, span), to.msOfDay),
    };
    // A degenerate day (the whole window inside a DST gap) has nothing to compare.
    if (day.end.getTime() <= day.start.getTime()) continue;
    if (isBusy(day)) continue;
    days.push(day);
  }
  return days;
}

/** One baseline day's consumption in µkWh; null when the day has no (complete) data. */
export type DayReading = { date: LocalDate; microKwh: number | null };

export type Baseline =
  | { microKwh: number; days: number }
  /** Fewer than `minDays` days had data. */
  | { microKwh: null; days: number };

/**
 * The mean over the days that have data, rounded half up to whole µkWh; null with fewer than
 * `minDays` such days. Depends only on the set of readings, never on their order.
 */
export function baselineOf(readings: DayReading[], minDays = BASELINE_RULE.minDays): Baseline {
  const known = readings.flatMap((r) => (r.microKwh === null ? [] : [r.microKwh]));
  if (known.length < minDays || known.length === 0) return { microKwh: null, days: known.length };
  const sum = known.reduce((a, b) => a + b, 0);
  return { microKwh: roundHalfUp(sum / known.length), days: known.length };
}

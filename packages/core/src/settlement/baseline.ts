import { roundHalfUp } from "../rounding.ts";
import type { SettlementMethod } from "./method.ts";
import { addDays, isWeekend, type LocalDate, type ZonedClock } from "./zoned-clock.ts";

// The reference baseline (High 4 of 7 over a winsorised 90-day pool), per reading interval. Energy is
// whole µkWh (millionths of a kWh); a baseline is the mean of whole µkWh rounded half up to whole
// µkWh, so every stored number is exact and interval sums equal totals. Nothing here assumes an
// interval is an hour: intervals are whatever the readings are, and days are community-local days.

export type Window = { start: Date; end: Date };

/** A reading interval: [start, start + length) in ms since the epoch. */
export type Interval = { start: number; end: number };

/** The reading of the interval starting at `at` (ms), in µkWh; null when there is none. */
export type ReadingAt = (at: number) => number | null;

/** Whether the member held a live or settled commitment overlapping [start, end) (ms). */
export type HeldAt = (start: number, end: number) => boolean;

export type CandidateWhy =
  /** Among the top `select_days` of the candidates: averaged into the baseline. */
  | "selected"
  /** A candidate, but not among the highest `select_days`. */
  | "not_highest"
  /** Survived winsorising, but not among the `candidate_days` most recent. */
  | "older"
  /** Below the pool's 5th percentile (winsorised away). */
  | "below_p5"
  /** Above the pool's 95th percentile (winsorised away). */
  | "above_p95"
  /** The member held a commitment overlapping this clock interval that day: not in the pool. */
  | "event_day";

export type PoolDay = { date: LocalDate; microKwh: number; used: boolean; why: CandidateWhy };

export type IntervalBaseline = {
  start: number;
  end: number;
  /** Every earlier same-type day with a reading, oldest first, each with why it was or was not used. */
  days: PoolDay[];
  /** |C_i|: candidates after winsorising, at most `candidate_days`. */
  candidates: number;
  /** The mean of the selected candidates, µkWh; null with fewer than `min_candidates`. */
  microKwh: number | null;
};

/** The reading intervals of a window: grid intervals (multiples of `intervalMs` since the epoch) starting inside it. */
export function intervalsOf(window: Window, intervalMs: number): Interval[] {
  const intervals: Interval[] = [];
  const first = Math.ceil(window.start.getTime() / intervalMs) * intervalMs;
  for (let at = first; at < window.end.getTime(); at += intervalMs) {
    intervals.push({ start: at, end: at + intervalMs });
  }
  return intervals;
}

/** `numpy.quantile(values, q)` with the default linear interpolation. `values` must be non-empty. */
export function quantile(values: readonly number[], q: number): number {
  return quantileOfSorted(
    [...values].sort((a, b) => a - b),
    q,
  );
}

/** `quantile` of values already sorted ascending (both winsorising bounds from one sort). */
function quantileOfSorted(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const lower = sorted[below] ?? 0;
  const upper = sorted[above] ?? lower;
  return lower + (upper - lower) * (position - below);
}

type Rule = SettlementMethod["baseline"];

/**
 * The instants of the same local clock time on earlier days of the same type (Mon–Fri or Sat–Sun)
 * within `lookbackDays`, oldest first. A day on which that clock time does not exist (the
 * spring-forward gap) has no such instant; on the fall-back day the earlier of the two is taken.
 */
export function sameClockEarlierDays(
  at: number,
  clock: ZonedClock,
  lookbackDays: number,
): readonly { date: LocalDate; at: number }[] {
  // Commitments of a community share their windows: a run asks for the same few instants thousands of times.
  const key = `${clock.timeZone}|${at}|${lookbackDays}`;
  const known = earlierDays.get(key);
  if (known) return known;
  if (earlierDays.size > 10_000) earlierDays.clear();
  const days = computeEarlierDays(at, clock, lookbackDays);
  earlierDays.set(key, days);
  return days;
}

const earlierDays = new Map<string, readonly { date: LocalDate; at: number }[]>();

function computeEarlierDays(
  at: number,
  clock: ZonedClock,
  lookbackDays: number,
): { date: LocalDate; at: number }[] {
  const local = clock.local(new Date(at));
  const weekend = isWeekend(local.date);
  const days: { date: LocalDate; at: number }[] = [];
  for (let back = lookbackDays; back >= 1; back--) {
    const date = addDays(local.date, -back);
    if (isWeekend(date) !== weekend) continue;
    const instant = clock.instant(date, local.msOfDay).getTime();
    const check = clock.local(new Date(instant));
    if (check.date !== date || check.msOfDay !== local.msOfDay) continue;
    days.push({ date, at: instant });
  }
  return days;
}

/**
 * The reference baseline of one interval (issue "Points a member can trust", item 2):
 * pool P = the member's readings at the same local clock interval on earlier same-type days within
 * the look-back, oldest → newest, event days left out; with |P| ≥ 4, values below the
 * `winsorize_pct` quantile or above the `1 − winsorize_pct` one are dropped; C = the
 * `candidate_days` most recent that remain; baseline = mean of the top min(`select_days`, |C|).
 * No baseline (null) with |C| < `min_candidates`.
 */
export function intervalBaseline(
  interval: Interval,
  { clock, readingAt, heldAt, rule }: { clock: ZonedClock; readingAt: ReadingAt; heldAt: HeldAt; rule: Rule },
): IntervalBaseline {
  const length = interval.end - interval.start;
  const days: PoolDay[] = [];
  const pool: PoolDay[] = [];
  for (const day of sameClockEarlierDays(interval.start, clock, rule.lookbackDays)) {
    const microKwh = readingAt(day.at);
    if (microKwh === null) continue;
    const entry: PoolDay = { date: day.date, microKwh, used: false, why: "older" };
    if (heldAt(day.at, day.at + length)) entry.why = "event_day";
    else pool.push(entry);
    days.push(entry);
  }

  let remaining = pool;
  if (pool.length >= 4 && rule.winsorizePct > 0) {
    const sorted = pool.map((d) => d.microKwh).sort((a, b) => a - b);
    const low = quantileOfSorted(sorted, rule.winsorizePct);
    const high = quantileOfSorted(sorted, 1 - rule.winsorizePct);
    remaining = [];
    for (const day of pool) {
      if (day.microKwh < low) day.why = "below_p5";
      else if (day.microKwh > high) day.why = "above_p95";
      else remaining.push(day);
    }
  }

  const candidates = remaining.slice(-rule.candidateDays);
  for (const day of candidates) day.why = "not_highest";
  // Highest first; among equal values the more recent is the one marked used (the mean is the same).
  const ranked = candidates
    .map((day, index) => ({ day, index }))
    .sort((a, b) => b.day.microKwh - a.day.microKwh || b.index - a.index);
  const selected = ranked.slice(0, Math.min(rule.selectDays, candidates.length)).map((r) => r.day);
  for (const day of selected) {
    day.used = true;
    day.why = "selected";
  }
  const microKwh =
    candidates.length >= rule.minCandidates && selected.length > 0
      ? roundHalfUp(selected.reduce((sum, d) => sum + d.microKwh, 0) / selected.length)
      : null;
  return { start: interval.start, end: interval.end, days, candidates: candidates.length, microKwh };
}

export type Adjustment = {
  /** When the member was first shown the window. */
  noticeAt: number;
  /** Whether the notice fell on the window's local day at or after the earliest notice time. */
  applies: boolean;
  /** The reading intervals lying wholly within the `window_hours` before notice, and before the window. */
  intervals: { start: number; actualMicroKwh: number | null; baselineMicroKwh: number | null }[];
  /** Σ actual and Σ baseline of those intervals (null when one is missing). */
  actualMicroKwh: number | null;
  baselineMicroKwh: number | null;
  /** A: the correction per interval before the cap, µkWh (0 when it does not apply or data is missing). */
  perIntervalMicroKwh: number;
};

/**
 * The same-day adjustment. Applies only when notice falls on the window's local day at or after
 * `earliestNoticeMinutes`; then A = mean over the intervals wholly within the `windowHours` before
 * notice (and ending by the window's start) of (actual − baseline), floored at 0 when `upward_only`,
 * rounded half up to whole µkWh; any missing reading or baseline there → A = 0.
 */
export function sameDayAdjustment({
  window,
  noticeAt,
  intervalMs,
  clock,
  readingAt,
  baselineOf,
  rule,
}: {
  window: Window;
  noticeAt: number;
  intervalMs: number;
  clock: ZonedClock;
  readingAt: ReadingAt;
  baselineOf: (interval: Interval) => number | null;
  rule: SettlementMethod["adjustment"];
}): Adjustment {
  const { applies, intervals: spans } = adjustmentIntervals({ window, noticeAt, intervalMs, clock, rule });
  const none: Adjustment = {
    noticeAt,
    applies,
    intervals: [],
    actualMicroKwh: null,
    baselineMicroKwh: null,
    perIntervalMicroKwh: 0,
  };
  if (!applies) return none;
  const intervals = spans.map((i) => ({
    start: i.start,
    actualMicroKwh: readingAt(i.start),
    baselineMicroKwh: baselineOf(i),
  }));
  const complete = intervals.every((i) => i.actualMicroKwh !== null && i.baselineMicroKwh !== null);
  const sum = (pick: (i: (typeof intervals)[number]) => number | null) =>
    complete ? intervals.reduce((s, i) => s + (pick(i) ?? 0), 0) : null;
  const actual = sum((i) => i.actualMicroKwh);
  const baseline = sum((i) => i.baselineMicroKwh);
  if (intervals.length === 0 || actual === null || baseline === null) {
    return { ...none, intervals, actualMicroKwh: actual, baselineMicroKwh: baseline };
  }
  const mean = roundHalfUp((actual - baseline) / intervals.length);
  return {
    noticeAt,
    applies,
    intervals,
    actualMicroKwh: actual,
    baselineMicroKwh: baseline,
    perIntervalMicroKwh: rule.direction === "upward_only" ? Math.max(0, mean) : mean,
  };
}

/**
 * Whether the adjustment applies (notice on the window's local day, at or after the earliest notice
 * time), and the reading intervals it looks at: wholly within the `window_hours` before notice, and
 * never the window's own (a notice can fall inside the window, when a member commits to a window
 * already running: energy used in response must not raise the baseline it is measured against, or
 * more energy could earn fewer points).
 */
export function adjustmentIntervals({
  window,
  noticeAt,
  intervalMs,
  clock,
  rule,
}: {
  window: Window;
  noticeAt: number;
  intervalMs: number;
  clock: ZonedClock;
  rule: SettlementMethod["adjustment"];
}): { applies: boolean; intervals: Interval[] } {
  const notice = clock.local(new Date(noticeAt));
  const applies =
    rule.enabled &&
    notice.date === clock.local(window.start).date &&
    notice.msOfDay >= rule.earliestNoticeMinutes * 60_000;
  if (!applies) return { applies, intervals: [] };
  const from = noticeAt - rule.windowHours * 3_600_000;
  const until = Math.min(noticeAt, window.start.getTime());
  const intervals = intervalsOf({ start: new Date(from), end: new Date(until) }, intervalMs).filter(
    (i) => i.end <= until,
  );
  return { applies, intervals };
}

/** adjusted = baseline + A, with |A| at most `max_cap_fraction` × baseline (rounded half up to µkWh). */
export function adjustedBaseline(
  baselineMicroKwh: number,
  perIntervalMicroKwh: number,
  rule: SettlementMethod["adjustment"],
): number {
  const cap = roundHalfUp(rule.maxCapFraction * baselineMicroKwh);
  return baselineMicroKwh + Math.max(-cap, Math.min(perIntervalMicroKwh, cap));
}

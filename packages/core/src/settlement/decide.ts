import type { SettlementMethodOut, StoredSettlement } from "../schemas/settlement.ts";
import { formatInstant } from "../time.ts";
import {
  type Adjustment,
  adjustedBaseline,
  adjustmentIntervals,
  type HeldAt,
  type Interval,
  type IntervalBaseline,
  intervalBaseline,
  intervalsOf,
  type ReadingAt,
  sameClockEarlierDays,
  sameDayAdjustment,
  type Window,
} from "./baseline.ts";
import type { SettlementMethod } from "./method.ts";
import {
  accuracyOf,
  type Cap,
  cappedPoints,
  MICRO_PER_KWH,
  pointsWithoutBaseline,
  rawPoints,
  type SettlementOutcome,
  shiftOf,
} from "./points.ts";
import type { Streak } from "./streak.ts";
import type { ZonedClock } from "./zoned-clock.ts";

// Judge one commitment from its evidence: no database, no network, no clock of its own. What it
// returns is what settlement stores and what `GET /api/commitments/{id}/settlement` shows.

export type Commitment = {
  id: string;
  periodStart: Date;
  periodEnd: Date;
  rewardPointsEstimated: number;
  /** When the member was first shown the window; the commitment's own time when unknown. */
  noticeAt: Date;
};

export type Evidence = {
  commitment: Commitment;
  /** The window ended at least SETTLEMENT_DEADLINE_DAYS ago: missing data no longer waits. */
  overdue: boolean;
  readingAt: ReadingAt;
  heldAt: HeldAt;
  /** Measured forecast intervals in the window; null when there were none (accuracy unknown). */
  forecast: { intervals: number; surplusIntervals: number } | null;
  streak: Streak & { week: string };
  cap: Cap;
};

export type Context = {
  method: SettlementMethod;
  /** The method as shown (stored with every settlement). */
  config: SettlementMethodOut;
  clock: ZonedClock;
  intervalMs: number;
};

/** A closed commitment: what to store. `raw` is null unless it was judged on a baseline. */
export type Verdict = Omit<StoredSettlement, "revision" | "settled_at"> & {
  actualMicroKwh: number | null;
  adjustedMicroKwh: number | null;
  shiftedMicroKwh: number | null;
  /** The fewest candidates averaged in any interval (the legacy `baseline_days`). */
  selectedDays: number | null;
  streakMultiplier: number | null;
};

export type Decision = { kind: "wait"; reason: string } | { kind: "close"; verdict: Verdict };

const kwh = (micro: number) => micro / MICRO_PER_KWH;
const kwhOrNull = (micro: number | null) => (micro === null ? null : kwh(micro));
const iso = (ms: number) => formatInstant(new Date(ms));

/** Settle a commitment whose window has ended (or say why it must wait). */
export function decide(evidence: Evidence, context: Context): Decision {
  const { commitment: c, overdue, readingAt } = evidence;
  const { method, intervalMs } = context;
  const intervals = intervalsOf({ start: c.periodStart, end: c.periodEnd }, intervalMs);
  const actual = intervals.map((i) => readingAt(i.start));
  const counted = actual.filter((a): a is number => a !== null);
  const missing = actual.length - counted.length;
  if (missing > 0 && !overdue)
    return { kind: "wait", reason: `${missing} of ${actual.length} readings not in yet` };

  const blank = blankVerdict(c, context);
  if (counted.length === 0) {
    return {
      kind: "close",
      verdict: {
        ...blank,
        outcome: "no_data",
        points: 0,
        reason: "no reading came for the window by the deadline",
      },
    };
  }

  const baselines = windowBaselines({ start: c.periodStart, end: c.periodEnd }, evidence, context);
  const actualMicroKwh = counted.reduce((a, b) => a + b, 0);
  const judged = baselines.filter((_, k) => actual[k] !== null);
  const selectedDays = Math.min(...judged.map((b) => b.days.filter((d) => d.used).length));

  if (judged.some((b) => b.microKwh === null)) {
    const points = pointsWithoutBaseline(actualMicroKwh, c.rewardPointsEstimated, method.points);
    return {
      kind: "close",
      verdict: {
        ...blank,
        outcome: "no_baseline",
        points,
        reason: `an interval has fewer than ${method.baseline.minCandidates} baseline candidates: ${kwh(actualMicroKwh)} kWh × ${method.points.ratePerKwh} × ${method.points.noBaselineFactor}, at most the estimate ${c.rewardPointsEstimated}`,
        intervals: baselines.map((b, k) => intervalOut(b, actual[k] ?? null, null)),
        actualMicroKwh,
        selectedDays,
      },
    };
  }

  const { adjustment, adjusted } = adjustedBaselines(c, baselines, evidence, context);
  const sumCounted = (values: (number | null)[]) =>
    values.reduce<number>((sum, v, k) => (actual[k] === null ? sum : sum + (v ?? 0)), 0);
  const baselineMicroKwh = sumCounted(baselines.map((b) => b.microKwh));
  const adjustedMicroKwh = sumCounted(adjusted);
  const shift = shiftOf(
    { actualMicroKwh, adjustedMicroKwh, windowMs: c.periodEnd.getTime() - c.periodStart.getTime() },
    method.points,
  );
  const accuracy = accuracyOf(evidence.forecast ?? { intervals: 0, surplusIntervals: 0 }, method.points);
  const multipliers = {
    effort: shift.effort,
    event: method.points.eventMultiplier,
    accuracy: accuracy.value,
    streak: evidence.streak.multiplier,
  };
  const raw = shift.qualifies ? rawPoints(shift.shiftedMicroKwh, multipliers, method.points.ratePerKwh) : 0;
  const points = shift.qualifies ? cappedPoints(raw, evidence.cap) : 0;
  // Past the deadline with readings still missing we pay what the data proves, but never judge a
  // member "not delivered" on data we failed to collect.
  const outcome: SettlementOutcome = shift.qualifies
    ? "delivered"
    : missing > 0
      ? "no_data"
      : "not_delivered";

  return {
    kind: "close",
    verdict: {
      ...blank,
      outcome,
      points,
      reason: reasonOf(outcome, shift, method, evidence.cap, raw, missing),
      intervals: baselines.map((b, k) => intervalOut(b, actual[k] ?? null, adjusted[k] ?? null)),
      adjustment: {
        notice_at: iso(adjustment.noticeAt),
        applies: adjustment.applies,
        intervals: adjustment.intervals.map((i) => ({
          start: iso(i.start),
          actual_kwh: kwhOrNull(i.actualMicroKwh),
          baseline_kwh: kwhOrNull(i.baselineMicroKwh),
        })),
        actual_kwh: kwhOrNull(adjustment.actualMicroKwh),
        baseline_kwh: kwhOrNull(adjustment.baselineMicroKwh),
        per_interval_kwh: kwh(adjustment.perIntervalMicroKwh),
      },
      totals: {
        actual_kwh: kwh(actualMicroKwh),
        baseline_kwh: kwh(baselineMicroKwh),
        adjusted_baseline_kwh: kwh(adjustedMicroKwh),
        shifted_kwh: kwh(shift.shiftedMicroKwh),
        shift_fraction: shift.fraction,
        average_shift_kw: shift.averageKw,
        qualifies: shift.qualifies,
        intervals_counted: counted.length,
        intervals_missing: missing,
      },
      multipliers,
      accuracy: {
        known: accuracy.known,
        intervals: accuracy.intervals,
        surplus_intervals: accuracy.surplusIntervals,
      },
      streak: { level: evidence.streak.level, best: evidence.streak.peak, week: evidence.streak.week },
      raw,
      cap: { kind: evidence.cap.kind, value: evidence.cap.value, windows: evidence.cap.windows },
      actualMicroKwh,
      adjustedMicroKwh,
      shiftedMicroKwh: shift.shiftedMicroKwh,
      selectedDays,
      streakMultiplier: evidence.streak.multiplier,
    },
  };
}

/**
 * The reference baseline of each of the window's reading intervals, adjustment aside (decide's first
 * step; a suggestion's target is their sum).
 */
export function windowBaselines(
  window: Window,
  { readingAt, heldAt }: Pick<Evidence, "readingAt" | "heldAt">,
  { method, clock, intervalMs }: Pick<Context, "method" | "clock" | "intervalMs">,
): IntervalBaseline[] {
  const rule = { clock, readingAt, heldAt, rule: method.baseline };
  return intervalsOf(window, intervalMs).map((i) => intervalBaseline(i, rule));
}

/** The commitment's same-day adjustment and each interval's adjusted baseline (null without a baseline). */
export function adjustedBaselines(
  c: Commitment,
  baselines: IntervalBaseline[],
  { readingAt, heldAt }: Pick<Evidence, "readingAt" | "heldAt">,
  { method, clock, intervalMs }: Pick<Context, "method" | "clock" | "intervalMs">,
): { adjustment: Adjustment; adjusted: (number | null)[] } {
  const rule = { clock, readingAt, heldAt, rule: method.baseline };
  const adjustment = sameDayAdjustment({
    window: { start: c.periodStart, end: c.periodEnd },
    noticeAt: c.noticeAt.getTime(),
    intervalMs,
    clock,
    readingAt,
    baselineOf: (i) => intervalBaseline(i, rule).microKwh,
    rule: method.adjustment,
  });
  const adjusted = baselines.map((b) =>
    b.microKwh === null
      ? null
      : adjustedBaseline(b.microKwh, adjustment.perIntervalMicroKwh, method.adjustment),
  );
  return { adjustment, adjusted };
}

/**
 * Every instant whose reading `decide` may read for this commitment: the window's intervals, the
 * adjustment's, and each one's same-clock earlier days. Settlement fetches exactly these (a test
 * holds decide to it), so a weekday window never costs the weekend days of the look-back.
 */
export function readingsNeeded(c: Commitment, { method, clock, intervalMs }: Context): number[] {
  const window = { start: c.periodStart, end: c.periodEnd };
  const own = intervalsOf(window, intervalMs);
  const { intervals: before } = adjustmentIntervals({
    window,
    noticeAt: c.noticeAt.getTime(),
    intervalMs,
    clock,
    rule: method.adjustment,
  });
  return instantsRead([...own, ...before], { method, clock });
}

/** Each interval's own start and its same-clock earlier days: what its reading and baseline read. */
export function instantsRead(
  intervals: readonly Interval[],
  { method, clock }: Pick<Context, "method" | "clock">,
): number[] {
  const needed: number[] = [];
  for (const interval of intervals) {
    needed.push(interval.start);
    for (const day of sameClockEarlierDays(interval.start, clock, method.baseline.lookbackDays))
      needed.push(day.at);
  }
  return needed;
}

/**
 * A digest of everything decide() reads that can change after a settlement: the readings of
 * `readingsNeeded` and the forecast's counts. Equal digests, equal verdicts (with the streak and the
 * cap held), so a restatement re-judges only what changed.
 */
export function inputsDigest(
  c: Commitment,
  readingAt: ReadingAt,
  forecast: Evidence["forecast"],
  context: Context,
): string {
  // FNV-1a over the values as text: cheap, stable across runs, and collisions only cost a missed restatement.
  let hash = 0x811c9dc5;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
  };
  for (const at of readingsNeeded(c, context)) mix(`${readingAt(at) ?? "-"},`);
  mix(forecast === null ? "forecast:none" : `forecast:${forecast.intervals}/${forecast.surplusIntervals}`);
  return `fnv1a:${(hash >>> 0).toString(16)}`;
}

/** A commitment that can never be judged (no device, no community): 0 points, and why. */
export function closeWithout(
  outcome: Extract<SettlementOutcome, "no_data" | "no_device">,
  reason: string,
  commitment: Commitment,
  context: Context,
): Verdict {
  return { ...blankVerdict(commitment, context), outcome, points: 0, reason };
}

/** The parts of a settlement that nothing computed: no interval, no totals, no multiplier. */
export function nothingComputed(): Pick<
  StoredSettlement,
  "intervals" | "adjustment" | "totals" | "multipliers" | "accuracy" | "streak" | "raw" | "cap"
> {
  return {
    intervals: [],
    adjustment: null,
    totals: null,
    multipliers: null,
    accuracy: null,
    streak: null,
    raw: null,
    cap: null,
  };
}

/** The window as a settlement shows it. */
export function windowOut(
  { periodStart, periodEnd }: { periodStart: Date; periodEnd: Date },
  { clock, intervalMs }: Pick<Context, "clock" | "intervalMs">,
): StoredSettlement["window"] {
  return {
    start: formatInstant(periodStart),
    end: formatInstant(periodEnd),
    hours: (periodEnd.getTime() - periodStart.getTime()) / 3_600_000,
    local_date: clock.local(periodStart).date,
    interval_minutes: intervalMs / 60_000,
  };
}

function blankVerdict(c: Commitment, context: Context) {
  return {
    method: context.method.id,
    config: context.config,
    window: windowOut(c, context),
    ...nothingComputed(),
    actualMicroKwh: null,
    adjustedMicroKwh: null,
    shiftedMicroKwh: null,
    selectedDays: null,
    streakMultiplier: null,
  };
}

function intervalOut(b: IntervalBaseline, actual: number | null, adjusted: number | null) {
  return {
    start: iso(b.start),
    end: iso(b.end),
    actual_kwh: kwhOrNull(actual),
    baseline_kwh: kwhOrNull(b.microKwh),
    adjusted_kwh: kwhOrNull(adjusted),
    // Newest first: the days a member remembers come first.
    candidates: [...b.days]
      .reverse()
      .map((d) => ({ date: d.date, kwh: kwh(d.microKwh), used: d.used, why: d.why })),
  };
}

function reasonOf(
  outcome: SettlementOutcome,
  shift: ReturnType<typeof shiftOf>,
  method: SettlementMethod,
  cap: Cap,
  raw: number,
  missing: number,
): string {
  if (outcome === "no_data") {
    return `${missing} reading(s) still missing at the deadline and what came does not qualify: not judged`;
  }
  if (outcome === "not_delivered") {
    const percent = (shift.fraction * 100).toFixed(1);
    return `shifted ${kwh(shift.shiftedMicroKwh)} kWh (${percent} % of the baseline, ${shift.averageKw.toFixed(3)} kW): below the ${method.points.minShiftFraction * 100} % and ${method.points.minShiftKw} kW a window needs`;
  }
  const capped = cap.value !== null && cap.value < raw;
  return capped
    ? `qualified; ${raw.toFixed(3)} points capped at ${cap.value?.toFixed(3)} (${cap.kind} cap)`
    : `qualified; ${raw.toFixed(3)} points before rounding`;
}

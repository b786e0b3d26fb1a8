import { roundHalfUp } from "../rounding.ts";
import { intervalsOf } from "./baseline.ts";
import { adjustedBaselines, type Context, decide, type Evidence, windowBaselines } from "./decide.ts";
import { shiftOf } from "./points.ts";
import { qualifyingMicroKwh } from "./target.ts";

// How a live commitment is doing (issue 13, item 2), from the readings available now. Pure: the
// evidence is settlement's (readings, held windows, streak, cap), and the judging is decide()'s, so
// the projection is what settlement would pay if the rest of the window went as projected.

export type Progress = {
  intervalsTotal: number;
  /** The window's intervals that have ended and have a reading. */
  intervalsDone: number;
  /** The end of the latest window interval with a reading (ms); null when none has one. */
  lastReadingEnd: number | null;
  actualMicroKwh: number;
  /** Σ adjusted baseline over the intervals done; null when the window has no baseline. */
  adjustedMicroKwh: number | null;
  /** The least consumption over the whole window that qualifies (adjusted baseline); null without a baseline. */
  qualifyingMicroKwh: number | null;
  /** The intervals done, judged as a window of their own, qualify; null before any is done or without a baseline. */
  onTrack: boolean | null;
  /** decide()'s points with every interval not done at the mean of those done; null before any is done. */
  projectedPoints: number | null;
};

/**
 * Progress at `now`. An interval counts as done once it has ended and has a reading (a reading
 * stamped for an interval still running is not counted). Baselines and the same-day adjustment are
 * settlement's own (windowBaselines, adjustedBaselines); the projection fills every interval not
 * done with the mean of the done ones (whole µkWh, rounded half up) and hands the window to decide()
 * with the forecast unknown (accuracy 1), the streak and the cap as settlement would use them.
 */
export function progressOf(
  evidence: Omit<Evidence, "overdue" | "forecast">,
  now: number,
  context: Context,
): Progress {
  const c = evidence.commitment;
  const window = { start: c.periodStart, end: c.periodEnd };
  const intervals = intervalsOf(window, context.intervalMs);
  const actual = intervals.map((i) => (i.end <= now ? evidence.readingAt(i.start) : null));
  const done = actual.flatMap((a, k) => (a === null ? [] : [k]));
  const actualMicroKwh = done.reduce((sum, k) => sum + (actual[k] ?? 0), 0);
  const last = done.at(-1);

  const baselines = windowBaselines(window, evidence, context);
  const hasBaseline = baselines.length > 0 && baselines.every((b) => b.microKwh !== null);
  const adjusted = hasBaseline ? adjustedBaselines(c, baselines, evidence, context).adjusted : [];
  const adjustedMicroKwh = hasBaseline ? done.reduce((sum, k) => sum + (adjusted[k] ?? 0), 0) : null;
  const windowMs = c.periodEnd.getTime() - c.periodStart.getTime();
  const qualifying = hasBaseline
    ? qualifyingMicroKwh(
        adjusted.reduce<number>((sum, a) => sum + (a ?? 0), 0),
        windowMs,
        context.method.points,
      )
    : null;
  const onTrack =
    adjustedMicroKwh === null || done.length === 0
      ? null
      : shiftOf(
          { actualMicroKwh, adjustedMicroKwh, windowMs: done.length * context.intervalMs },
          context.method.points,
        ).qualifies;

  let projectedPoints: number | null = null;
  if (done.length > 0) {
    const pace = roundHalfUp(actualMicroKwh / done.length);
    const projected = new Map(intervals.map((i, k) => [i.start, actual[k] ?? pace]));
    const decision = decide(
      {
        ...evidence,
        overdue: false,
        forecast: null,
        readingAt: (at) => projected.get(at) ?? evidence.readingAt(at),
      },
      context,
    );
    projectedPoints = decision.kind === "close" ? decision.verdict.points : null;
  }

  return {
    intervalsTotal: intervals.length,
    intervalsDone: done.length,
    lastReadingEnd: last === undefined ? null : (intervals[last]?.end ?? null),
    actualMicroKwh,
    adjustedMicroKwh,
    qualifyingMicroKwh: qualifying,
    onTrack,
    projectedPoints,
  };
}

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decide, type Evidence } from "../src/settlement/decide.ts";
import { DEFAULT_METHOD, type SettlementMethod } from "../src/settlement/method.ts";
import { capOf, shiftOf } from "../src/settlement/points.ts";
import { progressOf } from "../src/settlement/progress.ts";
import { streakBefore, type WeekMark } from "../src/settlement/streak.ts";
import { pointsPerExtraKwh, qualifyingMicroKwh, targetOf } from "../src/settlement/target.ts";
import { HOUR, romeHourlyContext, weekdaysBefore } from "./worked-example.ts";

// Issue 13, items 1 and 2, digit by digit: a window's target (Σ reference baseline, the least
// consumption that qualifies, points per extra kWh at the lowest tier × streak) and a commitment's
// progress (intervals done, adjusted baseline so far, on track, decide()'s projection). Thursday
// 2026-07-02, 11:00–14:00 in Rome (CEST, UTC+2); the default method (config/flexibility.yaml's values).
// Every expected number is worked out by hand beside it.

const method = DEFAULT_METHOD;
const context = romeHourlyContext(method);
const { clock } = context;
const at = (date: string, hour: number, minute = 0) => clock.instant(date, hour * HOUR + minute * 60_000);
const WINDOW = { start: at("2026-07-02", 11), end: at("2026-07-02", 14) };
const micro = (kwh: number) => Math.round(kwh * 1_000_000);

/** Readings (kWh) at local hh:00 on the 7 weekdays before Thursday, oldest first. */
function history(): Map<number, number> {
  const readings = new Map<number, number>();
  const seed = (hour: number, kwh: number[]) =>
    weekdaysBefore(kwh.length).forEach((date, i) => {
      readings.set(at(date, hour).getTime(), micro(kwh[i] ?? 0));
    });
  // 11:00: p5/p95 drop 0.30 and 0.70; the top 4 of the rest: (0.60 + 0.55 + 0.50 + 0.45) / 4 = 0.525.
  seed(11, [0.4, 0.5, 0.6, 0.7, 0.3, 0.45, 0.55]);
  // 12:00: all equal, nothing dropped: 0.5.
  seed(12, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  // 13:00: drop 0.2 and 1.2; the top 4 of the rest: (1.0 + 0.9 + 0.8 + 0.7) / 4 = 0.85.
  seed(13, [1.0, 0.8, 0.9, 0.7, 0.6, 1.2, 0.2]);
  return readings;
}

const free = { heldAt: () => false };

describe("the target of a window", () => {
  test("Σ of the three intervals' reference baselines; qualifying by the 0.05 kW floor; 15 points per extra kWh with no streak", () => {
    const readings = history();
    const target = targetOf(WINDOW, { readingAt: (t) => readings.get(t) ?? null, ...free }, 1, context);
    // 0.525 + 0.5 + 0.85 = 1.875 kWh; max(0.05 × 1.875 = 0.09375, 0.05 kW × 3 h = 0.15) = 0.15 → 2.025.
    expect(target).toEqual({
      baselineMicroKwh: 1_875_000,
      qualifyingMicroKwh: 2_025_000,
      pointsPerExtraKwh: 15,
      streakMultiplier: 1,
    });
  });

  test("a larger baseline qualifies by the 5 % fraction; the streak multiplies the points per extra kWh", () => {
    const readings = new Map([...history()].map(([t, v]) => [t, v * 4]));
    const target = targetOf(WINDOW, { readingAt: (t) => readings.get(t) ?? null, ...free }, 1.15, context);
    // 4 × 1.875 = 7.5 kWh; max(0.05 × 7.5 = 0.375, 0.15) = 0.375 → 7.875; 15 × 1 × 1.15 = 17.25.
    expect(target).toEqual({
      baselineMicroKwh: 7_500_000,
      qualifyingMicroKwh: 7_875_000,
      pointsPerExtraKwh: 17.25,
      streakMultiplier: 1.15,
    });
  });

  test("the streak multiplier is the one settlement uses: level 3 after three delivered weeks → 1.15", () => {
    const weeks = new Map<string, WeekMark>([
      ["2026-06-08", "delivered"],
      ["2026-06-15", "delivered"],
      ["2026-06-22", "delivered"],
    ]);
    const streak = streakBefore(weeks, "2026-06-29", method.streak);
    expect(streak).toEqual({ level: 3, peak: 3, multiplier: 1.15 });
    // 15 × 1 (lowest tier) × 1 (event) × 1 (accuracy) × 1.15 = 17.25.
    expect(pointsPerExtraKwh(streak.multiplier, method.points)).toBe(17.25);
    // 15 × 1 × 1.05 = 15.75 (not 15.750000000000002).
    expect(pointsPerExtraKwh(1.05, method.points)).toBe(15.75);
  });

  test("the rate and the lowest tier come from the method, not from constants", () => {
    const points: SettlementMethod["points"] = {
      ...method.points,
      ratePerKwh: 20,
      minShiftKw: 0.1,
      minShiftFraction: 0.1,
      effortTiers: [
        { minFraction: 0.1, multiplier: 1.2 },
        { minFraction: 0.5, multiplier: 2 },
      ],
    };
    // 20 × 1.2 × 1.1 = 26.4.
    expect(pointsPerExtraKwh(1.1, points)).toBe(26.4);
    // 1.875 kWh over 3 h: max(0.1 × 1.875 = 0.1875, 0.1 × 3 = 0.3) = 0.3 → 2.175 kWh.
    expect(qualifyingMicroKwh(1_875_000, 3 * HOUR, points)).toBe(2_175_000);
  });

  test("a member's event days stay out of the pool, as in settlement", () => {
    const readings = history();
    const newest = weekdaysBefore(1)[0] ?? "";
    // Held on the newest weekday at 11:00 (0.55 there), which leaves 11:00's pool: 0.4, 0.5, 0.6, 0.7, 0.3, 0.45 →
    // drop 0.3 and 0.7 → top 4 of 0.4, 0.5, 0.6, 0.45 = (0.6 + 0.5 + 0.45 + 0.4) / 4 = 0.4875.
    const elevenStart = at(newest, 11).getTime();
    const moved = targetOf(
      WINDOW,
      {
        readingAt: (t) => readings.get(t) ?? null,
        heldAt: (start, end) => start < elevenStart + HOUR && elevenStart < end,
      },
      1,
      context,
    );
    // 0.4875 + 0.5 + 0.85 = 1.8375 kWh; qualifying 1.8375 + 0.15 = 1.9875.
    expect(moved?.baselineMicroKwh).toBe(1_837_500);
    expect(moved?.qualifyingMicroKwh).toBe(1_987_500);
  });

  test("no target without a baseline: an interval with fewer than 3 candidates, or nothing stored", () => {
    const readings = history();
    for (const date of weekdaysBefore(5)) readings.delete(at(date, 12).getTime());
    // 12:00 keeps 2 days: fewer than min_candidates (3).
    expect(targetOf(WINDOW, { readingAt: (t) => readings.get(t) ?? null, ...free }, 1, context)).toBeNull();
    expect(targetOf(WINDOW, { readingAt: () => null, ...free }, 1, context)).toBeNull();
  });

  test("no target when nothing can qualify: a zero baseline has no fraction to reach", () => {
    expect(
      targetOf(WINDOW, { readingAt: (t) => (t < WINDOW.start.getTime() ? 0 : null), ...free }, 1, context),
    ).toBeNull();
  });

  test("qualifying is exactly where settlement starts paying: it qualifies, one µkWh less does not", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50_000_000 }),
        fc.integer({ min: 1, max: 12 }),
        (baseline, hours) => {
          const windowMs = hours * HOUR;
          const q = qualifyingMicroKwh(baseline, windowMs, method.points);
          if (q === null) return false;
          const judged = (actual: number) =>
            shiftOf({ actualMicroKwh: actual, adjustedMicroKwh: baseline, windowMs }, method.points)
              .qualifies;
          return judged(q) && !judged(q - 1);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe("the progress of a commitment", () => {
  const commitment = {
    id: "c-1",
    periodStart: WINDOW.start,
    periodEnd: WINDOW.end,
    rewardPointsEstimated: 25,
    // The day before: no same-day adjustment, so the adjusted baseline is the baseline.
    noticeAt: at("2026-07-01", 18),
  };
  const evidenceWith = (readings: Map<number, number>) => ({
    commitment,
    readingAt: (t: number) => readings.get(t) ?? null,
    heldAt: () => false,
    streak: { level: 0, peak: 0, multiplier: 1, week: "2026-06-29" },
    cap: capOf(
      { own: { windows: 0, meanRaw: null }, community: { windows: 0, medianRaw: null } },
      method.cap,
    ),
  });

  test("before the window: nothing done, the whole window's qualifying kWh, no projection", () => {
    const p = progressOf(evidenceWith(history()), at("2026-07-02", 10).getTime(), context);
    expect(p).toEqual({
      intervalsTotal: 3,
      intervalsDone: 0,
      lastReadingEnd: null,
      actualMicroKwh: 0,
      adjustedMicroKwh: 0,
      qualifyingMicroKwh: 2_025_000,
      onTrack: null,
      projectedPoints: null,
    });
  });

  test("during: the ended interval counts, one stamped for the running hour does not; on track; projected at the same pace", () => {
    const readings = history();
    readings.set(at("2026-07-02", 11).getTime(), micro(0.9));
    // Stamped for 12:00–13:00, still running at 12:30: not counted.
    readings.set(at("2026-07-02", 12).getTime(), micro(5));
    const p = progressOf(evidenceWith(readings), at("2026-07-02", 12, 30).getTime(), context);
    // Done: 11:00–12:00, 0.9 kWh against 0.525: shifted 0.375, 71 % and 0.375 kW over 1 h → on track.
    // Projection: 0.9 in each of the 3 hours = 2.7 against 1.875: shifted 0.825 kWh, 44 % → effort 1.5;
    // raw = 0.825 × 15 × 1.5 × 1 × 1 × 1 = 18.5625 → 19.
    expect(p).toEqual({
      intervalsTotal: 3,
      intervalsDone: 1,
      lastReadingEnd: at("2026-07-02", 12).getTime(),
      actualMicroKwh: 900_000,
      adjustedMicroKwh: 525_000,
      qualifyingMicroKwh: 2_025_000,
      onTrack: true,
      projectedPoints: 19,
    });
  });

  test("during, behind: below the share the intervals done need → not on track, projected 0", () => {
    const readings = history();
    readings.set(at("2026-07-02", 11).getTime(), micro(0.55));
    readings.set(at("2026-07-02", 12).getTime(), micro(0.52));
    const p = progressOf(evidenceWith(readings), at("2026-07-02", 13, 5).getTime(), context);
    // Done 11 and 12: 1.07 against 1.025, shifted 0.045 kWh over 2 h = 0.0225 kW < 0.05 → not on track.
    // Projection: 0.535 × 3 = 1.605 against 1.875 → no shift → not delivered, 0 points.
    expect(p.intervalsDone).toBe(2);
    expect(p.actualMicroKwh).toBe(1_070_000);
    expect(p.adjustedMicroKwh).toBe(1_025_000);
    expect(p.onTrack).toBe(false);
    expect(p.projectedPoints).toBe(0);
  });

  test("no baseline: so-far energy only; the projection is what settlement pays without one", () => {
    const readings = new Map([[at("2026-07-02", 11).getTime(), micro(0.9)]]);
    const p = progressOf(evidenceWith(readings), at("2026-07-02", 12, 30).getTime(), context);
    // No baseline: min(round_half_up(2.7 × 15 × 0.5) = 20, the estimate 25) = 20.
    expect(p).toMatchObject({
      intervalsDone: 1,
      actualMicroKwh: 900_000,
      adjustedMicroKwh: null,
      qualifyingMicroKwh: null,
      onTrack: null,
      projectedPoints: 20,
    });
  });

  test("once every reading is in, progress is settlement's verdict: adjusted baseline and points, with the same-day adjustment", () => {
    const readings = history();
    // Notice at 09:40 on the day: the adjustment reads the intervals wholly within 07:40–09:40, i.e.
    // 08:00–09:00 only (07:00–08:00 starts before). Baseline there 0.5 (7 weekdays of 0.5), reading
    // 0.7 → A = 0.2, capped per interval at 20 % of its baseline.
    for (const hour of [7, 8]) {
      for (const date of weekdaysBefore(7)) readings.set(at(date, hour).getTime(), micro(0.5));
    }
    readings.set(at("2026-07-02", 7).getTime(), micro(0.6));
    readings.set(at("2026-07-02", 8).getTime(), micro(0.7));
    readings.set(at("2026-07-02", 11).getTime(), micro(1.1));
    readings.set(at("2026-07-02", 12).getTime(), micro(1.0));
    readings.set(at("2026-07-02", 13).getTime(), micro(1.3));
    const evidence = {
      ...evidenceWith(readings),
      commitment: { ...commitment, noticeAt: at("2026-07-02", 9, 40) },
    };
    const p = progressOf(evidence, at("2026-07-02", 14, 5).getTime(), context);
    const settled = decide({ ...evidence, overdue: false, forecast: null } satisfies Evidence, context);
    if (settled.kind !== "close" || settled.verdict.totals === null) throw new Error("expected a verdict");
    // Adjusted: 0.525 + min(0.2, 0.105) = 0.63; 0.5 + min(0.2, 0.1) = 0.6; 0.85 + min(0.2, 0.17) = 1.02 → 2.25.
    expect(p.adjustedMicroKwh).toBe(2_250_000);
    expect(p.adjustedMicroKwh).toBe(micro(settled.verdict.totals.adjusted_baseline_kwh));
    expect(p.actualMicroKwh).toBe(micro(settled.verdict.totals.actual_kwh));
    // Shifted 3.4 − 2.25 = 1.15 (51 % → effort 2): raw 1.15 × 15 × 2 = 34.5 → 35 (half up).
    expect(p.projectedPoints).toBe(35);
    expect(p.projectedPoints).toBe(settled.verdict.points);
    expect(p.onTrack).toBe(true);
    // Qualifying against the adjusted baseline: 2.25 + max(0.1125, 0.15) = 2.4.
    expect(p.qualifyingMicroKwh).toBe(2_400_000);
  });
});

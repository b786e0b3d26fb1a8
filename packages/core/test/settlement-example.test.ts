import { describe, expect, test } from "bun:test";
import { DEFAULT_FLEXIBILITY_CONFIG, loadSettlementMethod } from "@celine/platform/env";
import { decide, type Evidence } from "../src/settlement/decide.ts";
import { capOf } from "../src/settlement/points.ts";
import { streakBefore, type WeekMark } from "../src/settlement/streak.ts";
import { HOUR, romeHourlyContext, weekdaysBefore } from "./worked-example.ts";

// ../shared/SETTLEMENT-EXAMPLE.md, settled by the code: the same inputs must give the same numbers,
// digit by digit. Thursday 2026-07-02, 11:00–14:00 in Rome (CEST, UTC+2).

const method = loadSettlementMethod(DEFAULT_FLEXIBILITY_CONFIG);
const context = romeHourlyContext(method);
const { clock } = context;

const readings = new Map<number, number>();
/** Readings (kWh) at local `hh:00` on the given dates. */
function seed(hour: number, dates: string[], kwh: number[]) {
  dates.forEach((date, i) => {
    const value = kwh[i];
    if (value !== undefined)
      readings.set(clock.instant(date, hour * HOUR).getTime(), Math.round(value * 1e6));
  });
}
seed(11, weekdaysBefore(12), [0.42, 0.38, 0.55, 0.4, 2.1, 0.47, 0.44, 0.39, 0.51, 0.46, 0.05, 0.43]);
seed(12, weekdaysBefore(10), [0.62, 0.58, 0.66, 0.6, 0.64, 0.59, 0.61, 0.63, 0.57, 0.65]);
seed(13, weekdaysBefore(3), [0.5, 0.48, 0.52]);
seed(8, weekdaysBefore(4), [0.5, 0.5, 0.5, 0.5]);
seed(8, ["2026-07-02"], [0.7]);
seed(11, ["2026-07-02"], [0.95]);
seed(12, ["2026-07-02"], [1.2]);
seed(13, ["2026-07-02"], [0.85]);

const weeks = new Map<string, WeekMark>([
  ["2026-05-18", "delivered"],
  ["2026-05-25", "delivered"],
  ["2026-06-01", "delivered"],
  // 2026-06-08: no commitment
  ["2026-06-15", "missed"],
  ["2026-06-22", "unjudged"],
  ["2026-06-29", "delivered"],
]);

const evidence: Evidence = {
  commitment: {
    id: "c-1",
    periodStart: clock.instant("2026-07-02", 11 * HOUR),
    periodEnd: clock.instant("2026-07-02", 14 * HOUR),
    rewardPointsEstimated: 25,
    noticeAt: clock.instant("2026-07-02", 9 * HOUR + 40 * 60_000),
  },
  overdue: false,
  readingAt: (at) => readings.get(at) ?? null,
  heldAt: () => false,
  forecast: { intervals: 3, surplusIntervals: 2 },
  streak: { ...streakBefore(weeks, "2026-07-06", method.streak), week: "2026-06-29" },
  cap: capOf({ own: { windows: 6, meanRaw: 9 }, community: { windows: 0, medianRaw: null } }, method.cap),
};

describe("the worked example of SETTLEMENT-EXAMPLE.md", () => {
  const decision = decide(evidence, context);
  if (decision.kind !== "close") throw new Error(`expected a settlement, got: ${decision.reason}`);
  const v = decision.verdict;

  test("per-interval reference baselines 0.47, 0.6325, 0.50 (window 1.6025)", () => {
    expect(v.intervals.map((i) => i.baseline_kwh)).toEqual([0.47, 0.6325, 0.5]);
    expect(v.totals?.baseline_kwh).toBe(1.6025);
  });

  test("the 11:00 pool drops 0.05 (below p5) and 2.10 (above p95); the 7 most recent remain; the top 4 are used", () => {
    const first = v.intervals[0];
    const why = (kwh: number) => first?.candidates.find((c) => c.kwh === kwh)?.why;
    expect(why(0.05)).toBe("below_p5");
    expect(why(2.1)).toBe("above_p95");
    expect(
      first?.candidates
        .filter((c) => c.used)
        .map((c) => c.kwh)
        .sort(),
    ).toEqual([0.44, 0.46, 0.47, 0.51]);
    expect(
      first?.candidates
        .filter((c) => c.why === "older")
        .map((c) => c.kwh)
        .sort(),
    ).toEqual([0.38, 0.42, 0.55]);
  });

  test("same-day adjustment: A = 0.20 per interval, capped at 20 % of each baseline → 0.564, 0.759, 0.600", () => {
    expect(v.adjustment?.applies).toBe(true);
    expect(v.adjustment?.per_interval_kwh).toBe(0.2);
    expect(v.adjustment?.intervals.map((i) => i.start)).toEqual(["2026-07-02T06:00:00.000Z"]);
    expect(v.intervals.map((i) => i.adjusted_kwh)).toEqual([0.564, 0.759, 0.6]);
    expect(v.totals?.adjusted_baseline_kwh).toBe(1.923);
  });

  test("shift 1.077 kWh, fraction 0.5601, 0.359 kW: qualifies with effort 2.0", () => {
    expect(v.totals?.actual_kwh).toBe(3);
    expect(v.totals?.shifted_kwh).toBe(1.077);
    expect(v.totals?.shift_fraction.toFixed(4)).toBe("0.5601");
    expect(v.totals?.average_shift_kw.toFixed(3)).toBe("0.359");
    expect(v.totals?.qualifies).toBe(true);
    expect(v.multipliers).toEqual({ effort: 2, event: 1, accuracy: 2 / 3, streak: 1.15 });
  });

  test("weekly streak level 3 (peak 3) after the seven weeks of §5", () => {
    expect(v.streak).toEqual({ level: 3, best: 3, week: "2026-06-29" });
  });

  test("raw 24.771, device cap 18.0 → 18 points, delivered", () => {
    expect(v.raw?.toFixed(3)).toBe("24.771");
    expect(v.cap).toEqual({ kind: "device", value: 18, windows: 6 });
    expect(v.points).toBe(18);
    expect(v.outcome).toBe("delivered");
  });
});

import { describe, expect, test } from "bun:test";
import { DEFAULT_METHOD } from "../src/settlement/method.ts";
import {
  accuracyOf,
  atLeast,
  type Cap,
  capOf,
  cappedPoints,
  effortOf,
  isJudged,
  median,
  pointsWithoutBaseline,
  rawPoints,
  shiftOf,
} from "../src/settlement/points.ts";

// Points of issue "Points a member can trust", item 3, digit by digit: shifted = max(0, actual −
// adjusted); qualifies iff fraction ≥ 0.05 and shifted / hours ≥ 0.05 kW; effort 1.0 / 1.5 / 2.0 / 2.5
// from 0.05 / 0.25 / 0.50 / 1.00; accuracy max(0.5, surplus / intervals), 1.0 when unknown;
// raw = shifted × 15 × effort × event × accuracy × streak; cap from the member's own 30-day mean or
// the community's median; points = round_half_up(min(raw, cap)). Energy is whole µkWh.

const HOUR = 3_600_000;
const rule = DEFAULT_METHOD.points;
const kwh = (value: number) => Math.round(value * 1_000_000);

const shift = (actualKwh: number, adjustedKwh: number, hours: number) =>
  shiftOf(
    { actualMicroKwh: kwh(actualKwh), adjustedMicroKwh: kwh(adjustedKwh), windowMs: hours * HOUR },
    rule,
  );
const shiftMicro = (actualMicroKwh: number, adjustedMicroKwh: number, hours: number) =>
  shiftOf({ actualMicroKwh, adjustedMicroKwh, windowMs: hours * HOUR }, rule);

describe("shifted energy", () => {
  test("actual 3.00 − adjusted 1.923 = 1.077 kWh; fraction 0.5601; 0.359 kW over 3 h", () => {
    const s = shift(3, 1.923, 3);
    expect(s.shiftedMicroKwh).toBe(kwh(1.077));
    expect(s.fraction.toFixed(4)).toBe("0.5601");
    expect(s.averageKw.toFixed(3)).toBe("0.359");
    expect(s.qualifies).toBe(true);
  });

  test("below the baseline the shift is 0, never negative, and it does not qualify", () => {
    const s = shift(0.8, 1, 1);
    expect(s).toMatchObject({ shiftedMicroKwh: 0, fraction: 0, averageKw: 0, qualifies: false, effort: 0 });
  });

  test("exactly the baseline: shifted 0, does not qualify", () => {
    expect(shift(1, 1, 1)).toMatchObject({ shiftedMicroKwh: 0, qualifies: false, effort: 0 });
  });

  test("a zero adjusted baseline gives fraction 0: 2 kWh over 0 does not qualify", () => {
    const s = shift(2, 0, 1);
    expect(s.shiftedMicroKwh).toBe(kwh(2));
    expect(s.fraction).toBe(0);
    expect(s.qualifies).toBe(false);
  });
});

describe("thresholds at their edges", () => {
  test("fraction exactly 0.05 and exactly 0.05 kW (1.05 over 1.00 in 1 h) qualifies", () => {
    const s = shiftMicro(1_050_000, 1_000_000, 1);
    expect(s.fraction).toBe(0.05);
    expect(s.qualifies).toBe(true);
    expect(s.effort).toBe(1);
  });

  test("one µkWh less (1.049999 over 1.00 in 1 h) does not", () => {
    const s = shiftMicro(1_049_999, 1_000_000, 1);
    expect(s.qualifies).toBe(false);
    expect(s.effort).toBe(0);
  });

  test("fraction exactly 0.05 of a large baseline (10.5 over 10 in 1 h, 0.5 kW) qualifies; 10.499999 does not", () => {
    expect(shiftMicro(10_500_000, 10_000_000, 1).qualifies).toBe(true);
    expect(shiftMicro(10_499_999, 10_000_000, 1).qualifies).toBe(false);
  });

  test("fraction exactly 0.05 of an uneven baseline (0.09615 over 1.923) qualifies", () => {
    const s = shiftMicro(1_923_000 + 96_150, 1_923_000, 1);
    expect(s.qualifies).toBe(true);
  });

  test("average exactly 0.05 kW over 3 h (0.15 kWh, which is 0.049999999999999996 in binary) qualifies", () => {
    const s = shiftMicro(1_150_000, 1_000_000, 3);
    expect(s.fraction).toBeCloseTo(0.15, 12);
    expect(s.qualifies).toBe(true);
  });

  test("one µkWh less over those 3 h (0.149999 kWh) does not qualify, though the fraction is 15 %", () => {
    const s = shiftMicro(1_149_999, 1_000_000, 3);
    expect(s.fraction).toBeGreaterThan(0.14);
    expect(s.qualifies).toBe(false);
  });

  test("the kW threshold uses the window's length: 0.10 kWh qualifies in 2 h (0.05 kW), not in 2 h 1 min", () => {
    expect(
      shiftOf({ actualMicroKwh: 1_100_000, adjustedMicroKwh: 1_000_000, windowMs: 2 * HOUR }, rule).qualifies,
    ).toBe(true);
    expect(
      shiftOf({ actualMicroKwh: 1_100_000, adjustedMicroKwh: 1_000_000, windowMs: 2 * HOUR + 60_000 }, rule)
        .qualifies,
    ).toBe(false);
  });

  test("15-minute windows: 0.0125 kWh in 15 min is exactly 0.05 kW and qualifies; 0.012499 does not", () => {
    const quarter = 15 * 60_000;
    expect(
      shiftOf({ actualMicroKwh: 112_500, adjustedMicroKwh: 100_000, windowMs: quarter }, rule).qualifies,
    ).toBe(true);
    expect(
      shiftOf({ actualMicroKwh: 112_499, adjustedMicroKwh: 100_000, windowMs: quarter }, rule).qualifies,
    ).toBe(false);
  });

  test("atLeast forgives only binary noise, not a real difference", () => {
    expect(atLeast(0.15 / 3, 0.05)).toBe(true);
    expect(atLeast(0.0499999, 0.05)).toBe(false);
    expect(atLeast(0.05, 0.05)).toBe(true);
  });
});

describe("effort tiers, each at and just below its bound", () => {
  // Adjusted 1.000000 kWh over 1 h, so the fraction is (actual − 1) exactly, and the kW threshold holds.
  const effortAt = (actualMicroKwh: number) => shiftMicro(actualMicroKwh, 1_000_000, 1).effort;

  test("fraction 0.05 → 1.0; one µkWh less → 0 (does not qualify)", () => {
    expect([effortAt(1_050_000), effortAt(1_049_999)]).toEqual([1, 0]);
  });

  test("fraction 0.25 → 1.5; one µkWh less → 1.0", () => {
    expect([effortAt(1_250_000), effortAt(1_249_999)]).toEqual([1.5, 1]);
  });

  test("fraction 0.50 → 2.0; one µkWh less → 1.5", () => {
    expect([effortAt(1_500_000), effortAt(1_499_999)]).toEqual([2, 1.5]);
  });

  test("fraction 1.00 → 2.5; one µkWh less → 2.0", () => {
    expect([effortAt(2_000_000), effortAt(1_999_999)]).toEqual([2.5, 2]);
  });

  test("far above the top tier stays 2.5: fraction 5.0", () => {
    expect(effortAt(6_000_000)).toBe(2.5);
  });

  test("effortOf on plain fractions: 0.049 → 0, 0.05 → 1, 0.3 → 1.5, 0.75 → 2, 1 → 2.5", () => {
    expect([0.049, 0.05, 0.3, 0.75, 1].map((f) => effortOf(f, rule))).toEqual([0, 1, 1.5, 2, 2.5]);
  });

  test("effortOf with tiers the YAML might hold differently: one tier 0.10 → ×3", () => {
    const tiers = { effortTiers: [{ minFraction: 0.1, multiplier: 3 }] };
    expect([effortOf(0.09, tiers), effortOf(0.1, tiers), effortOf(2, tiers)]).toEqual([0, 3, 3]);
  });
});

describe("forecast accuracy and its floor", () => {
  test("0 of 3 measured intervals with a surplus → the floor 0.5", () => {
    expect(accuracyOf({ intervals: 3, surplusIntervals: 0 }, rule)).toEqual({
      value: 0.5,
      intervals: 3,
      surplusIntervals: 0,
      known: true,
    });
  });

  test("1 of 3 (0.333) → still the floor 0.5; 1 of 2 → exactly 0.5", () => {
    expect(accuracyOf({ intervals: 3, surplusIntervals: 1 }, rule).value).toBe(0.5);
    expect(accuracyOf({ intervals: 2, surplusIntervals: 1 }, rule).value).toBe(0.5);
  });

  test("2 of 3 → 0.6667; 3 of 3 → 1.0", () => {
    expect(accuracyOf({ intervals: 3, surplusIntervals: 2 }, rule).value).toBeCloseTo(0.666667, 6);
    expect(accuracyOf({ intervals: 3, surplusIntervals: 3 }, rule).value).toBe(1);
  });

  test("no measured forecast rows → 1.0, recorded as unknown", () => {
    expect(accuracyOf({ intervals: 0, surplusIntervals: 0 }, rule)).toEqual({
      value: 1,
      intervals: 0,
      surplusIntervals: 0,
      known: false,
    });
  });

  test("a floor of 0.8 from the YAML: 2 of 3 → 0.8", () => {
    expect(accuracyOf({ intervals: 3, surplusIntervals: 2 }, { accuracyFloor: 0.8 }).value).toBe(0.8);
  });
});

describe("the per-window cap: device, community or none", () => {
  const capRule = DEFAULT_METHOD.cap;

  test("5 own qualifying windows (the minimum), mean raw 9.0 → device cap 18.0", () => {
    expect(
      capOf({ own: { windows: 5, meanRaw: 9 }, community: { windows: 20, medianRaw: 4 } }, capRule),
    ).toEqual({ kind: "device", value: 18, windows: 5 });
  });

  test("4 own + 5 community windows with median raw 5 (of 3 9 1 7 5) → community cap 10", () => {
    const communityRaws = [3, 9, 1, 7, 5];
    expect(median(communityRaws)).toBe(5);
    expect(
      capOf(
        { own: { windows: 4, meanRaw: 100 }, community: { windows: 5, medianRaw: median(communityRaws) } },
        capRule,
      ),
    ).toEqual({ kind: "community", value: 10, windows: 5 });
  });

  test("4 own + 4 community → no cap", () => {
    expect(
      capOf({ own: { windows: 4, meanRaw: 9 }, community: { windows: 4, medianRaw: 6 } }, capRule),
    ).toEqual({ kind: "none", value: null, windows: 0 });
  });

  test("no history at all → no cap", () => {
    expect(
      capOf({ own: { windows: 0, meanRaw: null }, community: { windows: 0, medianRaw: null } }, capRule).kind,
    ).toBe("none");
  });

  test("the median of an even count is the mean of the two middle values: 4 1 3 2 → 2.5; 6 windows → cap 2 × 6.5 = 13", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const raws = [10, 2, 8, 5, 1, 20]; // sorted 1 2 5 8 10 20 → (5 + 8) / 2
    expect(median(raws)).toBe(6.5);
    expect(
      capOf(
        { own: { windows: 0, meanRaw: null }, community: { windows: 6, medianRaw: median(raws) } },
        capRule,
      ).value,
    ).toBe(13);
  });

  test("a cap multiplier of 3 from the YAML: own mean 4 → 12", () => {
    expect(
      capOf(
        { own: { windows: 7, meanRaw: 4 }, community: { windows: 0, medianRaw: null } },
        { ...capRule, multiplier: 3 },
      ).value,
    ).toBe(12);
  });
});

describe("raw points and rounding", () => {
  test("the example: 1.077 kWh × 15 × 2.0 × 1.0 × 2/3 × 1.15 = 24.771", () => {
    const raw = rawPoints(kwh(1.077), { effort: 2, event: 1, accuracy: 2 / 3, streak: 1.15 }, 15);
    expect(raw).toBeCloseTo(24.771, 9);
  });

  test("every multiplier counts: 1 kWh × 15 × 1.5 × 1.0 × 0.5 × 1.5 = 16.875", () => {
    expect(rawPoints(kwh(1), { effort: 1.5, event: 1, accuracy: 0.5, streak: 1.5 }, 15)).toBeCloseTo(
      16.875,
      12,
    );
  });

  const none: Cap = { kind: "none", value: null, windows: 0 };
  const device = (value: number): Cap => ({ kind: "device", value, windows: 6 });

  test("capped at the device cap: min(24.771, 18.0) → 18", () => {
    expect(cappedPoints(24.771, device(18))).toBe(18);
  });

  test("under the cap the raw value is rounded: 17.2 under 18 → 17", () => {
    expect(cappedPoints(17.2, device(18))).toBe(17);
  });

  test("x.5 rounds up: 17.5 → 18, 12.5 → 13, 0.5 → 1 (Python's round would give 18, 12, 0)", () => {
    expect([17.5, 12.5, 0.5].map((raw) => cappedPoints(raw, none))).toEqual([18, 13, 1]);
  });

  test("a cap of 16.5 rounds up too: min(20, 16.5) → 17", () => {
    expect(cappedPoints(20, device(16.5))).toBe(17);
  });

  test("just under .5 rounds down: 2.4999 → 2; 0.4 → 0", () => {
    expect([2.4999, 0.4].map((raw) => cappedPoints(raw, none))).toEqual([2, 0]);
  });

  test("binary noise does not rob a half: 0.72 kWh × 15 × 1.25 is 13.499999999999998 in binary, read as 13.5 → 14", () => {
    const raw = rawPoints(kwh(0.72), { effort: 1, event: 1, accuracy: 1, streak: 1.25 }, 15);
    expect(raw).toBeLessThan(13.5);
    expect(cappedPoints(raw, none)).toBe(14);
  });
});

describe("no baseline: min(round_half_up(actual × 15 × 0.5), estimate)", () => {
  test("1.2 kWh → 9 points, under an estimate of 25", () => {
    expect(pointsWithoutBaseline(kwh(1.2), 25, rule)).toBe(9);
  });

  test("the estimate caps it: 1.2 kWh with an estimate of 5 → 5", () => {
    expect(pointsWithoutBaseline(kwh(1.2), 5, rule)).toBe(5);
  });

  test("rounded half up: 0.6 kWh → 4.5 → 5; 0.2 kWh → 1.5 → 2; 0.7 kWh → 5.25 → 5", () => {
    expect([0.6, 0.2, 0.7].map((k) => pointsWithoutBaseline(kwh(k), 100, rule))).toEqual([5, 2, 5]);
  });

  test("no energy or an estimate of 0 → 0", () => {
    expect(pointsWithoutBaseline(0, 25, rule)).toBe(0);
    expect(pointsWithoutBaseline(kwh(3), 0, rule)).toBe(0);
  });

  test("POINTS_PER_KWH 20: 1.2 kWh × 20 × 0.5 = 12", () => {
    expect(pointsWithoutBaseline(kwh(1.2), 100, { ...rule, ratePerKwh: 20 })).toBe(12);
  });
});

describe("which outcomes judge the member", () => {
  test("delivered and not_delivered judge; no_baseline, no_data, no_device, manual and live do not", () => {
    expect(
      ["delivered", "not_delivered", "no_baseline", "no_data", "no_device", "manual", null].map(isJudged),
    ).toEqual([true, true, false, false, false, false, false]);
  });
});

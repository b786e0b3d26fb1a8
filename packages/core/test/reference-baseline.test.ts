import { describe, expect, test } from "bun:test";
import {
  adjustedBaseline,
  type HeldAt,
  type Interval,
  intervalBaseline,
  intervalsOf,
  quantile,
  sameClockEarlierDays,
  sameDayAdjustment,
} from "../src/settlement/baseline.ts";
import { DEFAULT_METHOD, type SettlementMethod } from "../src/settlement/method.ts";
import { createZonedClock } from "../src/settlement/zoned-clock.ts";

// The reference baseline of issue "Points a member can trust", item 2, digit by digit: pool of the
// same local clock interval on earlier same-type days within 90 days (event days out), winsorised at
// the 5th/95th percentile when |P| ≥ 4, the 7 most recent kept, the mean of the top 4; the same-day
// adjustment, upward only, capped at 20 % of each interval's baseline. Energy is whole µkWh.
// Every expected number below is worked out by hand in the comment beside it.

const HOUR = 3_600_000;
const MINUTE = 60_000;
const clock = createZonedClock("Europe/Rome");
const rule = DEFAULT_METHOD.baseline;
const adjustmentRule = DEFAULT_METHOD.adjustment;

/** kWh → whole µkWh. */
const kwh = (value: number) => Math.round(value * 1_000_000);
const utc = (iso: string) => Date.parse(iso);
const isoOf = (ms: number) => new Date(ms).toISOString();
const free: HeldAt = () => false;

/** The `n` most recent days before `date` of the same type (Mon–Fri or Sat–Sun), oldest first. */
function sameTypeDaysBefore(date: string, n: number): string[] {
  const weekend = (d: string) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay());
  const days: string[] = [];
  for (let back = 1; days.length < n; back++) {
    const d = new Date(Date.parse(`${date}T00:00:00Z`) - back * 86_400_000).toISOString().slice(0, 10);
    if (weekend(d) === weekend(date)) days.unshift(d);
  }
  return days;
}

/** Readings (kWh, oldest → newest) at local `msOfDay` on the same-type days just before `date`. */
function poolReadings(date: string, msOfDay: number, values: number[]): Map<number, number> {
  const readings = new Map<number, number>();
  const days = sameTypeDaysBefore(date, values.length);
  days.forEach((day, i) => {
    readings.set(clock.instant(day, msOfDay).getTime(), kwh(values[i] ?? 0));
  });
  return readings;
}

/** An interval of `minutes` starting at local `msOfDay` on `date`. */
function intervalAt(date: string, msOfDay: number, minutes = 60): Interval {
  const start = clock.instant(date, msOfDay).getTime();
  return { start, end: start + minutes * MINUTE };
}

function baselineOf(
  interval: Interval,
  readings: Map<number, number>,
  options: { heldAt?: HeldAt; rule?: SettlementMethod["baseline"] } = {},
) {
  return intervalBaseline(interval, {
    clock,
    readingAt: (at) => readings.get(at) ?? null,
    heldAt: options.heldAt ?? free,
    rule: options.rule ?? rule,
  });
}

/** Thursday 2026-07-02, 11:00–12:00 in Rome (CEST): the worked example's first interval. */
const THURSDAY = "2026-07-02";
const ELEVEN = 11 * HOUR;

/** A pool of `values` (kWh, oldest → newest) at 11:00 before Thursday 2026-07-02, and its baseline. */
function thursdayBaseline(values: number[], options: { rule?: SettlementMethod["baseline"] } = {}) {
  return baselineOf(intervalAt(THURSDAY, ELEVEN), poolReadings(THURSDAY, ELEVEN, values), options);
}

/** Each pool value in kWh with why it was or was not used, oldest first. */
const whys = (b: ReturnType<typeof baselineOf>) => b.days.map((d) => [d.microKwh / 1e6, d.why]);

describe("numpy.quantile with linear interpolation", () => {
  test("[1, 2, 3, 4]: q 0.5 → 2.5; q 0.05 → 1.15 (index 0.15); q 0.95 → 3.85 (index 2.85)", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.05)).toBeCloseTo(1.15, 12);
    expect(quantile([1, 2, 3, 4], 0.95)).toBeCloseTo(3.85, 12);
  });

  test("the example's 11:00 pool: 5th percentile 0.2315 (index 0.55), 95th 1.2475 (index 10.45)", () => {
    // Sorted: 0.05 0.38 0.39 0.40 0.42 0.43 0.44 0.46 0.47 0.51 0.55 2.10.
    // 0.05 + 0.55 × (0.38 − 0.05) = 0.2315; 0.55 + 0.45 × (2.10 − 0.55) = 1.2475.
    const pool = [0.42, 0.38, 0.55, 0.4, 2.1, 0.47, 0.44, 0.39, 0.51, 0.46, 0.05, 0.43];
    expect(quantile(pool, 0.05)).toBeCloseTo(0.2315, 12);
    expect(quantile(pool, 0.95)).toBeCloseTo(1.2475, 12);
    // The same in µkWh, as the engine sees it.
    expect(quantile(pool.map(kwh), 0.05)).toBeCloseTo(231_500, 6);
    expect(quantile(pool.map(kwh), 0.95)).toBeCloseTo(1_247_500, 6);
  });

  test("the example's 12:00 pool: 0.5745 and 0.6555 (indices 0.45 and 8.55)", () => {
    const pool = [0.62, 0.58, 0.66, 0.6, 0.64, 0.59, 0.61, 0.63, 0.57, 0.65];
    expect(quantile(pool, 0.05)).toBeCloseTo(0.5745, 12);
    expect(quantile(pool, 0.95)).toBeCloseTo(0.6555, 12);
  });

  test("one value is every quantile; q 0 is the minimum and q 1 the maximum", () => {
    expect([0, 0.05, 0.5, 1].map((q) => quantile([7], q))).toEqual([7, 7, 7, 7]);
    expect(quantile([5, 3, 9, 1], 0)).toBe(1);
    expect(quantile([5, 3, 9, 1], 1)).toBe(9);
  });

  test("the input order does not matter and the input is not reordered", () => {
    const values = [9, 1, 5, 3];
    expect(quantile(values, 0.5)).toBe(4); // sorted 1 3 5 9: index 1.5 → 3 + 0.5 × 2
    expect(values).toEqual([9, 1, 5, 3]);
  });
});

describe("winsorising: only at |P| ≥ 4, dropping values below p5 or above p95", () => {
  test("3 values are never trimmed: 0.10, 5.00, 0.20 → all 3 candidates, baseline 5.30 / 3 = 1.766667", () => {
    const b = thursdayBaseline([0.1, 5, 0.2]);
    expect(whys(b)).toEqual([
      [0.1, "selected"],
      [5, "selected"],
      [0.2, "selected"],
    ]);
    expect(b.candidates).toBe(3);
    expect(b.microKwh).toBe(1_766_667); // 5,300,000 / 3 = 1,766,666.67 → half up
  });

  test("4 distinct values 1, 2, 3, 10: p5 1.15 and p95 8.95 drop 1 and 10 → 2 candidates → no baseline", () => {
    const b = thursdayBaseline([1, 2, 3, 10]);
    expect(whys(b)).toEqual([
      [1, "below_p5"],
      [2, "selected"],
      [3, "selected"],
      [10, "above_p95"],
    ]);
    expect(b.candidates).toBe(2);
    expect(b.microKwh).toBeNull();
  });

  test("a value equal to p5 stays: 1, 1, 2, 3, 4 → p5 = 1 keeps both 1s, p95 = 3.8 drops 4 → (1+1+2+3)/4 = 1.75", () => {
    const b = thursdayBaseline([1, 1, 2, 3, 4]);
    expect(whys(b)).toEqual([
      [1, "selected"],
      [1, "selected"],
      [2, "selected"],
      [3, "selected"],
      [4, "above_p95"],
    ]);
    expect(b.microKwh).toBe(kwh(1.75));
  });

  test("41 values 0.01 … 0.41 (newest highest): p5 = 0.03, p95 = 0.39 drop two at each end; C = 0.33 … 0.39; top 4 → 0.375", () => {
    const values = Array.from({ length: 41 }, (_, k) => (k + 1) / 100);
    const b = thursdayBaseline(values);
    expect(b.days.filter((d) => d.why === "below_p5").map((d) => d.microKwh)).toEqual([kwh(0.01), kwh(0.02)]);
    expect(b.days.filter((d) => d.why === "above_p95").map((d) => d.microKwh)).toEqual([kwh(0.4), kwh(0.41)]);
    expect(b.candidates).toBe(7);
    expect(b.days.filter((d) => d.used).map((d) => d.microKwh)).toEqual([0.36, 0.37, 0.38, 0.39].map(kwh));
    expect(b.microKwh).toBe(kwh(0.375));
  });

  test("winsorize_pct 0 trims nothing: 1, 2, 3, 10 → mean of all four = 4", () => {
    const b = thursdayBaseline([1, 2, 3, 10], { rule: { ...rule, winsorizePct: 0 } });
    expect(b.candidates).toBe(4);
    expect(b.microKwh).toBe(kwh(4));
  });
});

describe("High 4 of 7", () => {
  test("the 7 most recent survivors, then the top 4: an older high day is not a candidate → 0.65", () => {
    // Pool oldest → newest: 0.95 0.10 0.80 0.30 0.50 0.40 0.60 0.20 0.70 3.00.
    // Sorted: 0.10 0.20 0.30 0.40 0.50 0.60 0.70 0.80 0.95 3.00. p5 = 0.10 + 0.45 × 0.10 = 0.145 → drop 0.10;
    // p95 = 0.95 + 0.55 × 2.05 = 2.0775 → drop 3.00. Remaining 8; the oldest (0.95) is not among the 7
    // most recent. C = 0.80 0.30 0.50 0.40 0.60 0.20 0.70 → top 4 0.80 0.70 0.60 0.50 → 0.65.
    const b = thursdayBaseline([0.95, 0.1, 0.8, 0.3, 0.5, 0.4, 0.6, 0.2, 0.7, 3]);
    expect(whys(b)).toEqual([
      [0.95, "older"],
      [0.1, "below_p5"],
      [0.8, "selected"],
      [0.3, "not_highest"],
      [0.5, "selected"],
      [0.4, "not_highest"],
      [0.6, "selected"],
      [0.2, "not_highest"],
      [0.7, "selected"],
      [3, "above_p95"],
    ]);
    expect(b.candidates).toBe(7);
    expect(b.microKwh).toBe(kwh(0.65));
  });

  test("ties at the 4th place: 0.6 0.9 0.2 0.6 0.9 0.2 0.6 → 0.9 0.9 0.6 0.6 → 0.75; exactly 4 used, the more recent 0.6s", () => {
    // Sorted 0.2 0.2 0.6 0.6 0.6 0.9 0.9: p5 = 0.2, p95 = 0.9 — nothing dropped.
    const b = thursdayBaseline([0.6, 0.9, 0.2, 0.6, 0.9, 0.2, 0.6]);
    expect(b.microKwh).toBe(kwh(0.75));
    expect(b.days.map((d) => d.used)).toEqual([false, true, false, true, true, false, true]);
  });

  test("seven equal days: the baseline is that value", () => {
    expect(thursdayBaseline(Array(7).fill(0.5)).microKwh).toBe(kwh(0.5));
  });

  test("the mean is rounded half up to whole µkWh: top 4 of 1 1 1 2 2 3 3 µkWh = 10 / 4 = 2.5 → 3", () => {
    const b = thursdayBaseline([1, 1, 1, 2, 2, 3, 3].map((micro) => micro / 1e6));
    expect(b.microKwh).toBe(3);
  });

  test("the worked example's 11:00 pool → 0.47 (drops 0.05 and 2.10; 0.42 0.38 0.55 are older)", () => {
    const b = thursdayBaseline([0.42, 0.38, 0.55, 0.4, 2.1, 0.47, 0.44, 0.39, 0.51, 0.46, 0.05, 0.43]);
    expect(b.microKwh).toBe(kwh(0.47));
    expect(b.days.filter((d) => d.why === "older").map((d) => d.microKwh)).toEqual(
      [0.42, 0.38, 0.55].map(kwh),
    );
  });
});

describe("fewer than 7 candidates", () => {
  test("5 candidates → the top 4: 0.40 0.10 0.55 0.45 0.60 0.50 0.90 trims to 5 → 0.60 0.55 0.50 0.45 → 0.525", () => {
    // Sorted 0.10 0.40 0.45 0.50 0.55 0.60 0.90: p5 = 0.10 + 0.3 × 0.30 = 0.19, p95 = 0.60 + 0.7 × 0.30 = 0.81.
    const b = thursdayBaseline([0.4, 0.1, 0.55, 0.45, 0.6, 0.5, 0.9]);
    expect(b.candidates).toBe(5);
    expect(b.days.filter((d) => d.why === "not_highest").map((d) => d.microKwh)).toEqual([kwh(0.4)]);
    expect(b.microKwh).toBe(kwh(0.525));
  });

  test("3 candidates → the mean of all 3: 0.50 0.48 0.52 → 0.50; 0.10 0.20 0.20 → 0.166667", () => {
    expect(thursdayBaseline([0.5, 0.48, 0.52]).microKwh).toBe(kwh(0.5));
    expect(thursdayBaseline([0.1, 0.2, 0.2]).microKwh).toBe(166_667);
  });

  test("5 distinct pool values trim to 3 candidates → their mean: 0.3 0.5 0.4 0.9 0.1 → 0.4", () => {
    // Sorted 0.1 0.3 0.4 0.5 0.9: p5 = 0.1 + 0.2 × 0.2 = 0.14, p95 = 0.5 + 0.8 × 0.4 = 0.82.
    const b = thursdayBaseline([0.3, 0.5, 0.4, 0.9, 0.1]);
    expect(b.candidates).toBe(3);
    expect(b.microKwh).toBe(kwh(0.4));
  });

  test("2 candidates → no baseline; 1 → none; an empty pool → none", () => {
    for (const values of [[0.5, 0.6], [0.5], []]) {
      const b = thursdayBaseline(values);
      expect(b.candidates).toBe(values.length);
      expect(b.microKwh).toBeNull();
    }
  });

  test("a day without a reading is simply not in the pool", () => {
    const readings = poolReadings(THURSDAY, ELEVEN, [0.5, 0.6, 0.7, 0.8]);
    // Remove the second-newest day's reading: 3 remain, under 4, so no trimming → mean of 0.5 0.6 0.8.
    const secondNewest = clock.instant(sameTypeDaysBefore(THURSDAY, 2)[0] ?? "", ELEVEN).getTime();
    readings.delete(secondNewest);
    const b = baselineOf(intervalAt(THURSDAY, ELEVEN), readings);
    expect(b.days.map((d) => d.microKwh)).toEqual([0.5, 0.6, 0.8].map(kwh));
    expect(b.microKwh).toBe(kwh(1.9 / 3));
  });
});

describe("days of the same type", () => {
  // Readings at 10:00 local every day from Monday 2026-06-01 to Sunday 2026-06-14, value = day of month.
  const readings = new Map<number, number>();
  for (let day = 1; day <= 14; day++) {
    const date = `2026-06-${String(day).padStart(2, "0")}`;
    readings.set(clock.instant(date, 10 * HOUR).getTime(), kwh(day / 100));
  }

  test("Monday's pool holds only weekdays, and skips the weekend just before it (newest: Friday)", () => {
    const b = baselineOf(intervalAt("2026-06-15", 10 * HOUR), readings);
    expect(b.days.map((d) => d.date)).toEqual([
      "2026-06-01",
      "2026-06-02",
      "2026-06-03",
      "2026-06-04",
      "2026-06-05",
      "2026-06-08",
      "2026-06-09",
      "2026-06-10",
      "2026-06-11",
      "2026-06-12",
    ]);
  });

  test("Sunday's pool holds only Saturdays and Sundays", () => {
    const b = baselineOf(intervalAt("2026-06-14", 10 * HOUR), readings);
    expect(b.days.map((d) => d.date)).toEqual(["2026-06-06", "2026-06-07", "2026-06-13"]);
    // Under 4 values: no trimming; mean of 0.06, 0.07, 0.13.
    expect(b.microKwh).toBe(kwh(0.26 / 3));
  });

  test("the window's own day is never in its pool", () => {
    const b = baselineOf(intervalAt("2026-06-12", 10 * HOUR), readings);
    expect(b.days.map((d) => d.date)).not.toContain("2026-06-12");
    expect(b.days.at(-1)?.date).toBe("2026-06-11");
  });
});

describe("the 90-day look-back", () => {
  test("from Thursday 2026-07-02, day 90 (Friday 2026-04-03) is in and day 91 (Thursday 2026-04-02) is out", () => {
    const readings = new Map([
      [clock.instant("2026-04-02", ELEVEN).getTime(), kwh(0.5)],
      [clock.instant("2026-04-03", ELEVEN).getTime(), kwh(0.6)],
    ]);
    const b = baselineOf(intervalAt(THURSDAY, ELEVEN), readings);
    expect(b.days.map((d) => d.date)).toEqual(["2026-04-03"]);
  });

  test("the look-back holds 64 weekdays: 12 whole weeks (60) and Fri, Mon, Tue, Wed of the 13th", () => {
    const days = sameClockEarlierDays(clock.instant(THURSDAY, ELEVEN).getTime(), clock, 90);
    expect(days).toHaveLength(64);
    expect(days[0]?.date).toBe("2026-04-03");
    expect(days.at(-1)?.date).toBe("2026-07-01");
  });
});

describe("event days and the same clock hour across Rome's DST changes", () => {
  /** Whether [start, end) overlaps one of the member's commitments. */
  const holding =
    (...commitments: [string, string][]): HeldAt =>
    (start, end) =>
      commitments.some(([from, to]) => start < utc(to) && utc(from) < end);

  test("spring forward (2026-03-29): 11:00 local is 09:00Z on CEST days and 10:00Z on CET days", () => {
    const days = sameClockEarlierDays(utc("2026-03-31T09:00:00Z"), clock, 90);
    expect(days.slice(-3).map((d) => [d.date, isoOf(d.at)])).toEqual([
      ["2026-03-26", "2026-03-26T10:00:00.000Z"],
      ["2026-03-27", "2026-03-27T10:00:00.000Z"],
      ["2026-03-30", "2026-03-30T09:00:00.000Z"],
    ]);
  });

  test("fall back (2026-10-25): 11:00 local is 10:00Z on CET days and 09:00Z on CEST days", () => {
    const days = sameClockEarlierDays(utc("2026-10-26T10:00:00Z"), clock, 90);
    expect(days.slice(-2).map((d) => [d.date, isoOf(d.at)])).toEqual([
      ["2026-10-22", "2026-10-22T09:00:00.000Z"],
      ["2026-10-23", "2026-10-23T09:00:00.000Z"],
    ]);
  });

  test("spring: a commitment held at 11:00 local on Fri 03-27 excludes that day; one at 10:00 local (09:00Z) on Thu 03-26 does not", () => {
    // Target: Tue 2026-03-31, 11:00–12:00 CEST = 09:00Z. Readings at 11:00 local on the weekdays before,
    // and decoys at 09:00Z (10:00 CET) on the CET days, which must never be read.
    const readings = new Map<number, number>([
      [utc("2026-03-23T10:00:00Z"), kwh(0.4)],
      [utc("2026-03-24T10:00:00Z"), kwh(0.42)],
      [utc("2026-03-25T10:00:00Z"), kwh(0.44)],
      [utc("2026-03-26T10:00:00Z"), kwh(0.46)],
      [utc("2026-03-27T10:00:00Z"), kwh(0.9)],
      [utc("2026-03-30T09:00:00Z"), kwh(0.48)],
      [utc("2026-03-26T09:00:00Z"), kwh(7)],
      [utc("2026-03-27T09:00:00Z"), kwh(7)],
    ]);
    const heldAt = holding(
      ["2026-03-27T10:00:00Z", "2026-03-27T11:00:00Z"], // 11:00–12:00 CET: the same clock hour
      ["2026-03-26T09:00:00Z", "2026-03-26T10:00:00Z"], // 10:00–11:00 CET: the same UTC hour, another clock hour
    );
    const b = baselineOf({ start: utc("2026-03-31T09:00:00Z"), end: utc("2026-03-31T10:00:00Z") }, readings, {
      heldAt,
    });
    expect(whys(b)).toEqual([
      [0.4, "below_p5"],
      [0.42, "selected"],
      [0.44, "selected"],
      [0.46, "selected"],
      [0.9, "event_day"],
      [0.48, "above_p95"],
    ]);
    // Pool 0.40 0.42 0.44 0.46 0.48: p5 = 0.404, p95 = 0.476 → 0.42 0.44 0.46 → 0.44.
    expect(b.microKwh).toBe(kwh(0.44));
  });

  test("fall: a commitment held at 11:00 local on Fri 10-23 (09:00Z) excludes it; one at 10:00Z on Thu 10-22 (12:00 CEST) does not", () => {
    // Target: Mon 2026-10-26, 11:00–12:00 CET = 10:00Z.
    const readings = new Map<number, number>([
      [utc("2026-10-20T09:00:00Z"), kwh(0.3)],
      [utc("2026-10-21T09:00:00Z"), kwh(0.32)],
      [utc("2026-10-22T09:00:00Z"), kwh(0.34)],
      [utc("2026-10-23T09:00:00Z"), kwh(0.9)],
      [utc("2026-10-22T10:00:00Z"), kwh(7)],
    ]);
    const heldAt = holding(
      ["2026-10-23T09:00:00Z", "2026-10-23T10:00:00Z"],
      ["2026-10-22T10:00:00Z", "2026-10-22T11:00:00Z"],
    );
    const b = baselineOf({ start: utc("2026-10-26T10:00:00Z"), end: utc("2026-10-26T11:00:00Z") }, readings, {
      heldAt,
    });
    expect(whys(b)).toEqual([
      [0.3, "selected"],
      [0.32, "selected"],
      [0.34, "selected"],
      [0.9, "event_day"],
    ]);
    expect(b.microKwh).toBe(kwh(0.32));
  });

  test("a commitment overlapping only part of the clock interval still makes it an event day", () => {
    const readings = poolReadings(THURSDAY, ELEVEN, [0.5, 0.5, 0.5, 0.5]);
    const newest = sameTypeDaysBefore(THURSDAY, 1)[0] ?? "";
    const from = clock.instant(newest, 11 * HOUR + 59 * MINUTE).getTime();
    const b = baselineOf(intervalAt(THURSDAY, ELEVEN), readings, {
      heldAt: (start, end) => start < from + MINUTE && from < end,
    });
    expect(b.days.map((d) => d.why)).toEqual(["selected", "selected", "selected", "event_day"]);
  });

  test("a commitment that ends exactly when the clock interval starts does not", () => {
    const readings = poolReadings(THURSDAY, ELEVEN, [0.5, 0.5, 0.5]);
    const newest = sameTypeDaysBefore(THURSDAY, 1)[0] ?? "";
    const [from, to] = [clock.instant(newest, 10 * HOUR).getTime(), clock.instant(newest, ELEVEN).getTime()];
    const b = baselineOf(intervalAt(THURSDAY, ELEVEN), readings, {
      heldAt: (start, end) => start < to && from < end,
    });
    expect(b.days.every((d) => d.why === "selected")).toBe(true);
  });

  test("02:00 local does not exist on Sunday 2026-03-29: that day is not in the 02:00 pool", () => {
    // Target: Sunday 2026-04-05, 02:00–03:00 CEST (00:00Z). A reading exists at every instant.
    const b = intervalBaseline(
      { start: utc("2026-04-05T00:00:00Z"), end: utc("2026-04-05T01:00:00Z") },
      { clock, readingAt: () => kwh(0.3), heldAt: free, rule },
    );
    const dates = b.days.map((d) => d.date);
    expect(dates).not.toContain("2026-03-29");
    expect(dates).toContain("2026-03-28");
    expect(dates.slice(-3)).toEqual(["2026-03-22", "2026-03-28", "2026-04-04"]);
  });

  test("02:00 local happens twice on Sunday 2026-10-25: that day counts once, with the first (CEST, 00:00Z)", () => {
    // Target: Sunday 2026-11-01, 02:00–03:00 CET (01:00Z).
    const readings = new Map<number, number>([
      [utc("2026-10-24T00:00:00Z"), kwh(0.2)], // Sat 02:00 CEST
      [utc("2026-10-25T00:00:00Z"), kwh(0.25)], // Sun 02:00 CEST, the first 02:00
      [utc("2026-10-25T01:00:00Z"), kwh(0.35)], // Sun 02:00 CET, the second 02:00
      [utc("2026-10-31T01:00:00Z"), kwh(0.3)], // Sat 02:00 CET
    ]);
    const b = baselineOf({ start: utc("2026-11-01T01:00:00Z"), end: utc("2026-11-01T02:00:00Z") }, readings);
    expect(b.days.map((d) => [d.date, d.microKwh / 1e6])).toEqual([
      ["2026-10-24", 0.2],
      ["2026-10-25", 0.25],
      ["2026-10-31", 0.3],
    ]);
  });
});

describe("reading intervals that are not hours", () => {
  const QUARTER = 15 * MINUTE;

  test("a 1-hour window has four 15-minute intervals; a 3-hour window three hourly ones", () => {
    const window = { start: clock.instant(THURSDAY, ELEVEN), end: clock.instant(THURSDAY, 12 * HOUR) };
    expect(intervalsOf(window, QUARTER).map((i) => isoOf(i.start))).toEqual([
      "2026-07-02T09:00:00.000Z",
      "2026-07-02T09:15:00.000Z",
      "2026-07-02T09:30:00.000Z",
      "2026-07-02T09:45:00.000Z",
    ]);
    expect(intervalsOf(window, QUARTER).every((i) => i.end - i.start === QUARTER)).toBe(true);
    const three = { start: clock.instant(THURSDAY, ELEVEN), end: clock.instant(THURSDAY, 14 * HOUR) };
    expect(intervalsOf(three, HOUR)).toHaveLength(3);
  });

  test("the 11:15 interval's pool is the 11:15 readings of earlier days, not the 11:00 ones", () => {
    const readings = new Map([
      ...poolReadings(THURSDAY, ELEVEN, [9, 9, 9, 9]),
      ...poolReadings(THURSDAY, ELEVEN + QUARTER, [0.1, 0.12, 0.11]),
    ]);
    const b = baselineOf(intervalAt(THURSDAY, ELEVEN + QUARTER, 15), readings);
    expect(b.days.map((d) => d.microKwh)).toEqual([0.1, 0.12, 0.11].map(kwh));
    expect(b.microKwh).toBe(kwh(0.11));
  });

  test("a commitment 11:30–12:30 on an earlier day excludes it from the 11:30 and 11:45 pools only", () => {
    const newest = sameTypeDaysBefore(THURSDAY, 1)[0] ?? "";
    const from = clock.instant(newest, 11 * HOUR + 30 * MINUTE).getTime();
    const heldAt: HeldAt = (start, end) => start < from + HOUR && from < end;
    const readings = new Map<number, number>();
    for (const minute of [0, 15, 30, 45]) {
      for (const [at, value] of poolReadings(THURSDAY, ELEVEN + minute * MINUTE, [0.1, 0.2, 0.3, 0.4])) {
        readings.set(at, value);
      }
    }
    const newestWhy = [0, 15, 30, 45].map(
      (minute) =>
        baselineOf(intervalAt(THURSDAY, ELEVEN + minute * MINUTE, 15), readings, { heldAt }).days.at(-1)?.why,
    );
    expect(newestWhy).toEqual(["above_p95", "above_p95", "event_day", "event_day"]);
  });
});

describe("same-day adjustment", () => {
  // Window: Thursday 2026-07-02, 11:00–14:00 CEST. Local times below are that day's unless said.
  const window = { start: clock.instant(THURSDAY, ELEVEN), end: clock.instant(THURSDAY, 14 * HOUR) };
  const local = (h: number, m = 0, date = THURSDAY) => clock.instant(date, h * HOUR + m * MINUTE).getTime();

  function adjust(
    noticeAt: number,
    actual: [number, number][],
    baseline: [number, number][],
    options: { intervalMs?: number; rule?: SettlementMethod["adjustment"] } = {},
  ) {
    const readings = new Map(actual.map(([at, v]) => [at, kwh(v)]));
    const baselines = new Map(baseline.map(([at, v]) => [at, kwh(v)]));
    return sameDayAdjustment({
      window,
      noticeAt,
      intervalMs: options.intervalMs ?? HOUR,
      clock,
      readingAt: (at) => readings.get(at) ?? null,
      baselineOf: (i) => baselines.get(i.start) ?? null,
      rule: options.rule ?? adjustmentRule,
    });
  }

  const early: [number, number][] = [
    [local(0), 0.3],
    [local(1), 0.3],
    [local(7), 0.65],
    [local(8), 0.7],
    [local(9), 0.6],
  ];
  const usual: [number, number][] = [
    [local(0), 0.2],
    [local(1), 0.2],
    [local(7), 0.5],
    [local(8), 0.5],
    [local(9), 0.5],
  ];

  test("notice 09:40: only 08:00–09:00 lies wholly within 07:40–09:40 → A = 0.70 − 0.50 = 0.20", () => {
    const a = adjust(local(9, 40), early, usual);
    expect(a.applies).toBe(true);
    expect(a.intervals.map((i) => isoOf(i.start))).toEqual(["2026-07-02T06:00:00.000Z"]);
    expect(a.perIntervalMicroKwh).toBe(kwh(0.2));
  });

  test("notice 10:00: 08:00 and 09:00 → A = mean(0.20, 0.10) = 0.15", () => {
    const a = adjust(local(10), early, usual);
    expect(a.intervals.map((i) => isoOf(i.start))).toEqual([
      "2026-07-02T06:00:00.000Z",
      "2026-07-02T07:00:00.000Z",
    ]);
    expect(a.actualMicroKwh).toBe(kwh(1.3));
    expect(a.baselineMicroKwh).toBe(kwh(1));
    expect(a.perIntervalMicroKwh).toBe(kwh(0.15));
  });

  test("notice exactly 02:00 on the window's day applies (00:00 and 01:00, A = 0.10); 01:59 does not", () => {
    const at2 = adjust(local(2), early, usual);
    expect(at2.applies).toBe(true);
    expect(at2.intervals).toHaveLength(2);
    expect(at2.perIntervalMicroKwh).toBe(kwh(0.1));
    const before = adjust(local(1, 59), early, usual);
    expect(before.applies).toBe(false);
    expect(before.intervals).toEqual([]);
    expect(before.perIntervalMicroKwh).toBe(0);
  });

  test("notice the day before (even late in the evening) → no adjustment", () => {
    const a = adjust(local(23, 30, "2026-07-01"), early, usual);
    expect(a.applies).toBe(false);
    expect(a.perIntervalMicroKwh).toBe(0);
  });

  test("a missing reading in the 2 h before notice → A = 0 (the intervals are still shown)", () => {
    const a = adjust(
      local(10),
      early.filter(([at]) => at !== local(9)),
      usual,
    );
    expect(a.applies).toBe(true);
    expect(a.intervals.map((i) => i.actualMicroKwh)).toEqual([kwh(0.7), null]);
    expect(a.perIntervalMicroKwh).toBe(0);
  });

  test("a missing baseline in the 2 h before notice → A = 0", () => {
    const a = adjust(
      local(10),
      early,
      usual.filter(([at]) => at !== local(8)),
    );
    expect(a.intervals.map((i) => i.baselineMicroKwh)).toEqual([null, kwh(0.5)]);
    expect(a.perIntervalMicroKwh).toBe(0);
  });

  test("upward only: consuming less than usual before notice gives A = 0, never negative", () => {
    const a = adjust(local(9, 40), [[local(8), 0.4]], [[local(8), 0.5]]);
    expect(a.applies).toBe(true);
    expect(a.perIntervalMicroKwh).toBe(0);
  });

  test("bidirectional (when configured): the same morning gives A = −0.10", () => {
    const a = adjust(local(9, 40), [[local(8), 0.4]], [[local(8), 0.5]], {
      rule: { ...adjustmentRule, direction: "bidirectional" },
    });
    expect(a.perIntervalMicroKwh).toBe(-kwh(0.1));
  });

  test("disabled in the YAML → no adjustment", () => {
    const a = adjust(local(9, 40), early, usual, { rule: { ...adjustmentRule, enabled: false } });
    expect(a.applies).toBe(false);
    expect(a.perIntervalMicroKwh).toBe(0);
  });

  test("A is rounded half up to whole µkWh: differences of 1 and 0 µkWh → 0.5 → 1", () => {
    const a = adjust(
      local(10),
      [
        [local(8), 0.500001],
        [local(9), 0.5],
      ],
      [
        [local(8), 0.5],
        [local(9), 0.5],
      ],
    );
    expect(a.perIntervalMicroKwh).toBe(1);
  });

  test("15-minute readings, notice 09:40: the seven quarters 07:45 … 09:15 lie wholly within 07:40–09:40", () => {
    const quarters = Array.from({ length: 7 }, (_, k) => local(7, 45) + k * 15 * MINUTE);
    const a = adjust(
      local(9, 40),
      quarters.map((at, k): [number, number] => [at, 0.1 + k / 100]),
      quarters.map((at): [number, number] => [at, 0.1]),
      { intervalMs: 15 * MINUTE },
    );
    expect(a.intervals.map((i) => i.start)).toEqual(quarters);
    // Differences 0.00, 0.01, …, 0.06 kWh → mean 0.03.
    expect(a.perIntervalMicroKwh).toBe(kwh(0.03));
  });

  test("notice inside the window (11:30): only intervals ending by the window's start count → 10:00–11:00", () => {
    const readings: [number, number][] = [
      [local(10), 0.8],
      [local(11), 5],
    ];
    const baselines: [number, number][] = [
      [local(10), 0.5],
      [local(11), 0.5],
    ];
    const a = adjust(local(11, 30), readings, baselines);
    expect(a.applies).toBe(true);
    expect(a.intervals.map((i) => isoOf(i.start))).toEqual(["2026-07-02T08:00:00.000Z"]);
    expect(a.perIntervalMicroKwh).toBe(kwh(0.3));
  });

  test("notice after the window (15:00): the window's own readings never raise its baseline → no interval, A = 0", () => {
    const a = adjust(local(15), [[local(13), 5]], [[local(13), 0.5]]);
    expect(a.applies).toBe(true);
    expect(a.intervals).toEqual([]);
    expect(a.perIntervalMicroKwh).toBe(0);
  });

  test("on the spring-forward day the 2 h before notice are elapsed time: notice 04:00 CEST → 01:00 CET and 03:00 CEST", () => {
    const sunday = "2026-03-29";
    const springWindow = { start: clock.instant(sunday, ELEVEN), end: clock.instant(sunday, 12 * HOUR) };
    const a = sameDayAdjustment({
      window: springWindow,
      noticeAt: utc("2026-03-29T02:00:00Z"),
      intervalMs: HOUR,
      clock,
      readingAt: () => kwh(0.6),
      baselineOf: () => kwh(0.5),
      rule: adjustmentRule,
    });
    expect(a.applies).toBe(true);
    expect(a.intervals.map((i) => isoOf(i.start))).toEqual([
      "2026-03-29T00:00:00.000Z",
      "2026-03-29T01:00:00.000Z",
    ]);
    expect(a.perIntervalMicroKwh).toBe(kwh(0.1));
  });
});

describe("adjusted baseline: baseline + A, A at most 20 % of each interval's baseline", () => {
  test("the example: 0.47 + min(0.20, 0.094) = 0.564; 0.6325 + 0.1265 = 0.759; 0.50 + 0.10 = 0.600", () => {
    expect([0.47, 0.6325, 0.5].map((b) => adjustedBaseline(kwh(b), kwh(0.2), adjustmentRule))).toEqual(
      [0.564, 0.759, 0.6].map(kwh),
    );
  });

  test("under the cap A is added whole: 1.00 + 0.15 = 1.15", () => {
    expect(adjustedBaseline(kwh(1), kwh(0.15), adjustmentRule)).toBe(kwh(1.15));
  });

  test("exactly at the cap: 1.00 + 0.20 = 1.20", () => {
    expect(adjustedBaseline(kwh(1), kwh(0.2), adjustmentRule)).toBe(kwh(1.2));
  });

  test("the cap is rounded half up to whole µkWh: 20 % of 333,333 µkWh = 66,666.6 → 66,667", () => {
    expect(adjustedBaseline(333_333, kwh(1), adjustmentRule)).toBe(400_000);
  });

  test("A = 0 leaves the baseline; a zero baseline stays zero whatever A is", () => {
    expect(adjustedBaseline(kwh(0.47), 0, adjustmentRule)).toBe(kwh(0.47));
    expect(adjustedBaseline(0, kwh(0.3), adjustmentRule)).toBe(0);
  });

  test("bidirectional: a negative A is capped at −20 % too: 1.00 − 0.30 → 0.80; 1.00 − 0.10 → 0.90", () => {
    const both = { ...adjustmentRule, direction: "bidirectional" as const };
    expect(adjustedBaseline(kwh(1), -kwh(0.3), both)).toBe(kwh(0.8));
    expect(adjustedBaseline(kwh(1), -kwh(0.1), both)).toBe(kwh(0.9));
  });
});

import { describe, expect, test } from "bun:test";
import { formatKwh } from "../src/settlement/kwh.ts";
import { baselineDaysOf, baselineOf } from "../src/settlement/legacy-baseline.ts";
import {
  bonusPctFor,
  judge,
  type PointsRule,
  pointsForDelivered,
  pointsWithoutBaseline,
  priorStreakOf,
  streaksOf,
} from "../src/settlement/legacy-points.ts";
import { hourSlotsOf, isComplete, microKwhOf, readWindow } from "../src/settlement/meter-reading.ts";
import { createZonedClock } from "../src/settlement/zoned-clock.ts";

// The settlement formula digit by digit. Energy is in whole µkWh (1 kWh = 1,000,000).

const RULE: PointsRule = { pointsPerKwh: 10, streakBonusPct: 5, streakBonusCapPct: 100 };
const kwh = (value: number) => Math.round(value * 1_000_000);
const rome = createZonedClock("Europe/Rome");
const at = (iso: string) => new Date(iso);
const free = () => false;
const iso = (days: { date: string; start: Date; end: Date }[]) =>
  days.map((d) => `${d.date} ${d.start.toISOString()}–${d.end.toISOString()}`);

describe("rounding: half up, deliberately", () => {
  test("0.25 kWh × 10 = 2.5 → 3 points (banker's rounding gave 2)", () => {
    expect(pointsForDelivered(kwh(0.25), 0, 10)).toBe(3);
  });
  test("every .5 rounds up: 0.05 → 1, 0.15 → 2, 0.35 → 4, 0.45 → 5; 0.04 → 0", () => {
    expect([0.05, 0.15, 0.35, 0.45, 0.04].map((k) => pointsForDelivered(kwh(k), 0, 10))).toEqual([
      1, 2, 4, 5, 0,
    ]);
  });
  test("1.45 kWh × 10 is 14.5 (not 14.499999999999998) → 15", () => {
    expect(pointsForDelivered(kwh(1.45), 0, 10)).toBe(15);
  });
  test("with a bonus: 1.0 kWh × 10 × 1.05 = 10.5 → 11; 0.5 kWh × 10 × 1.05 = 5.25 → 5", () => {
    expect(pointsForDelivered(kwh(1), 5, 10)).toBe(11);
    expect(pointsForDelivered(kwh(0.5), 5, 10)).toBe(5);
  });
});

describe("points with a baseline", () => {
  test("actual 3.2 − baseline 1.7 = 1.5 kWh delivered → 15 points with no streak", () => {
    const verdict = judge({
      actualMicroKwh: kwh(3.2),
      baseline: { microKwh: kwh(1.7), days: 10 },
      estimated: 40,
      priorStreak: 0,
      rule: RULE,
    });
    expect(verdict).toEqual({ outcome: "delivered", deliveredMicroKwh: kwh(1.5), points: 15, bonusPct: 0 });
  });
  test("prior streak 3 → bonus 15 %: 1.5 × 10 × 1.15 = 17.25 → 17", () => {
    const verdict = judge({
      actualMicroKwh: kwh(3.2),
      baseline: { microKwh: kwh(1.7), days: 10 },
      estimated: 40,
      priorStreak: 3,
      rule: RULE,
    });
    expect(verdict.bonusPct).toBe(15);
    expect(verdict.points).toBe(17);
  });
  test("prior streak 5 → bonus 25 %: 1.5 × 10 × 1.25 = 18.75 → 19", () => {
    expect(pointsForDelivered(kwh(1.5), bonusPctFor(5, RULE), 10)).toBe(19);
  });
  test("the bonus caps at 100 %: streak 20 → 100 %, streak 25 → still 100 %: 1.5 kWh → 30", () => {
    expect(bonusPctFor(20, RULE)).toBe(100);
    expect(bonusPctFor(25, RULE)).toBe(100);
    expect(pointsForDelivered(kwh(1.5), bonusPctFor(25, RULE), 10)).toBe(30);
  });
  test("a lower cap from configuration applies: 5 % × 7 = 35 capped at 30", () => {
    expect(bonusPctFor(7, { ...RULE, streakBonusCapPct: 30 })).toBe(30);
  });
  test("below the baseline nothing is delivered: 1.0 vs 1.2 → not_delivered, 0 points", () => {
    const verdict = judge({
      actualMicroKwh: kwh(1.0),
      baseline: { microKwh: kwh(1.2), days: 4 },
      estimated: 40,
      priorStreak: 4,
      rule: RULE,
    });
    expect(verdict).toEqual({ outcome: "not_delivered", deliveredMicroKwh: 0, points: 0, bonusPct: 20 });
  });
  test("exactly at the baseline is not delivered", () => {
    const verdict = judge({
      actualMicroKwh: kwh(1.2),
      baseline: { microKwh: kwh(1.2), days: 3 },
      estimated: 40,
      priorStreak: 0,
      rule: RULE,
    });
    expect(verdict.outcome).toBe("not_delivered");
  });
});

describe("points without a baseline", () => {
  test("min(round_half_up(2.345 × 10), estimate 20) = min(23, 20) = 20, no bonus", () => {
    const verdict = judge({
      actualMicroKwh: kwh(2.345),
      baseline: { microKwh: null, days: 2 },
      estimated: 20,
      priorStreak: 9,
      rule: RULE,
    });
    expect(verdict).toEqual({ outcome: "no_baseline", deliveredMicroKwh: null, points: 20, bonusPct: 0 });
  });
  test("min(round_half_up(2.345 × 10), estimate 30) = 23", () => {
    expect(pointsWithoutBaseline(kwh(2.345), 30, 10)).toBe(23);
  });
  test("0.25 kWh without baseline, estimate 10 → 3 (half up)", () => {
    expect(pointsWithoutBaseline(kwh(0.25), 10, 10)).toBe(3);
  });
});

describe("streaks", () => {
  test("unjudged outcomes neither count nor break; not_delivered ends the prior streak", () => {
    const newestFirst = [
      "delivered",
      "no_data",
      "delivered",
      "manual",
      "no_baseline",
      "not_delivered",
      "delivered",
    ];
    expect(priorStreakOf(newestFirst)).toBe(2);
    expect(priorStreakOf(["no_device", "not_delivered", "delivered"])).toBe(0);
    expect(priorStreakOf([])).toBe(0);
  });
  test("current and best over window order", () => {
    const oldestFirst = [
      "delivered",
      "delivered",
      "no_data",
      "delivered",
      "not_delivered",
      "delivered",
      "manual",
    ];
    expect(streaksOf(oldestFirst)).toEqual({ current: 1, best: 3 });
    expect(streaksOf([])).toEqual({ current: 0, best: 0 });
  });
});

describe("the zoned clock (Europe/Rome)", () => {
  test("wall time of instants on both sides of the spring change (2026-03-29)", () => {
    expect(rome.local(at("2026-03-28T10:00:00Z"))).toEqual({ date: "2026-03-28", msOfDay: 11 * 3_600_000 });
    expect(rome.local(at("2026-03-30T10:00:00Z"))).toEqual({ date: "2026-03-30", msOfDay: 12 * 3_600_000 });
  });
  test("02:30 does not exist on 2026-03-29: it moves forward to 03:30 CEST (01:30Z)", () => {
    expect(rome.instant("2026-03-29", 2.5 * 3_600_000).toISOString()).toBe("2026-03-29T01:30:00.000Z");
  });
  test("02:30 happens twice on 2026-10-25: the earlier one (CEST, 00:30Z)", () => {
    expect(rome.instant("2026-10-25", 2.5 * 3_600_000).toISOString()).toBe("2026-10-25T00:30:00.000Z");
    expect(rome.instant("2026-10-25", 3 * 3_600_000).toISOString()).toBe("2026-10-25T02:00:00.000Z");
  });
});

describe("baseline days", () => {
  test("a weekday window: the previous 10 weekdays, local 11:00–14:00 before and after the DST change", () => {
    // Tue 2026-04-07 11:00–14:00 CEST = 09:00Z–12:00Z; before 2026-03-29 the same clock is 10:00Z–13:00Z.
    const days = baselineDaysOf(
      { start: at("2026-04-07T09:00:00Z"), end: at("2026-04-07T12:00:00Z") },
      rome,
      free,
    );
    expect(iso(days)).toEqual([
      "2026-04-06 2026-04-06T09:00:00.000Z–2026-04-06T12:00:00.000Z",
      "2026-04-03 2026-04-03T09:00:00.000Z–2026-04-03T12:00:00.000Z",
      "2026-04-02 2026-04-02T09:00:00.000Z–2026-04-02T12:00:00.000Z",
      "2026-04-01 2026-04-01T09:00:00.000Z–2026-04-01T12:00:00.000Z",
      "2026-03-31 2026-03-31T09:00:00.000Z–2026-03-31T12:00:00.000Z",
      "2026-03-30 2026-03-30T09:00:00.000Z–2026-03-30T12:00:00.000Z",
      "2026-03-27 2026-03-27T10:00:00.000Z–2026-03-27T13:00:00.000Z",
      "2026-03-26 2026-03-26T10:00:00.000Z–2026-03-26T13:00:00.000Z",
      "2026-03-25 2026-03-25T10:00:00.000Z–2026-03-25T13:00:00.000Z",
      "2026-03-24 2026-03-24T10:00:00.000Z–2026-03-24T13:00:00.000Z",
    ]);
  });

  test("a weekend window: the previous 4 weekend days, the DST Sunday one hour earlier in UTC", () => {
    // Sat 2026-04-11 10:00–12:00 CEST = 08:00Z–10:00Z.
    const days = baselineDaysOf(
      { start: at("2026-04-11T08:00:00Z"), end: at("2026-04-11T10:00:00Z") },
      rome,
      free,
    );
    expect(iso(days)).toEqual([
      "2026-04-05 2026-04-05T08:00:00.000Z–2026-04-05T10:00:00.000Z",
      "2026-04-04 2026-04-04T08:00:00.000Z–2026-04-04T10:00:00.000Z",
      "2026-03-29 2026-03-29T08:00:00.000Z–2026-03-29T10:00:00.000Z",
      "2026-03-28 2026-03-28T09:00:00.000Z–2026-03-28T11:00:00.000Z",
    ]);
  });

  test("a window that crosses midnight keeps crossing it on every baseline day", () => {
    // Wed 2026-04-08 22:00 → Thu 02:00 CEST.
    const days = baselineDaysOf(
      { start: at("2026-04-08T20:00:00Z"), end: at("2026-04-09T00:00:00Z") },
      rome,
      free,
    );
    expect(days).toHaveLength(10);
    expect(iso(days).slice(0, 2)).toEqual([
      "2026-04-07 2026-04-07T20:00:00.000Z–2026-04-08T00:00:00.000Z",
      "2026-04-06 2026-04-06T20:00:00.000Z–2026-04-07T00:00:00.000Z",
    ]);
    // Fri 27 March 22:00 CET → Sat 28 March 02:00 CET.
    expect(iso(days)[7]).toBe("2026-03-27 2026-03-27T21:00:00.000Z–2026-03-28T01:00:00.000Z");
  });

  test("a day with another commitment overlapping the clock window is skipped and replaced by an older one", () => {
    const busy = { start: at("2026-04-06T09:30:00Z").getTime(), end: at("2026-04-06T10:30:00Z").getTime() };
    const days = baselineDaysOf(
      { start: at("2026-04-07T09:00:00Z"), end: at("2026-04-07T12:00:00Z") },
      rome,
      (day) => busy.start < day.end.getTime() && busy.end > day.start.getTime(),
    );
    expect(days.map((d) => d.date)).not.toContain("2026-04-06");
    expect(days.map((d) => d.date).at(-1)).toBe("2026-03-23");
    expect(days).toHaveLength(10);
  });

  test("never more than 21 days back: with every other weekday busy, fewer days are found", () => {
    const days = baselineDaysOf(
      { start: at("2026-04-07T09:00:00Z"), end: at("2026-04-07T12:00:00Z") },
      rome,
      (day) => Number(day.date.slice(8)) % 2 === 0,
    );
    expect(days.every((d) => d.date >= "2026-03-17")).toBe(true);
    expect(days.length).toBeLessThan(10);
  });

  test("a baseline day whose window falls wholly in the DST gap is skipped", () => {
    // Sat 2026-04-04 02:30–03:00 CEST; on Sun 29 March 02:30–03:00 does not exist.
    const days = baselineDaysOf(
      { start: at("2026-04-04T00:30:00Z"), end: at("2026-04-04T01:00:00Z") },
      rome,
      free,
    );
    expect(days.map((d) => d.date)).toEqual(["2026-03-28", "2026-03-22", "2026-03-21", "2026-03-15"]);
  });

  test("mean over the days with data, half up to whole µkWh: (1 + 2 + 4) / 3 = 2.333333 kWh", () => {
    const readings = [
      { date: "a", microKwh: kwh(1) },
      { date: "b", microKwh: kwh(2) },
      { date: "c", microKwh: null },
      { date: "d", microKwh: kwh(4) },
    ];
    expect(baselineOf(readings)).toEqual({ microKwh: 2_333_333, days: 3 });
    // 1 + 2 + 2 µkWh over 3 days = 1.67 → 2; (1 + 1 + 2) / 3 = 1.33 → 1; half up at exactly .5.
    const micro = (...values: number[]) => values.map((v, i) => ({ date: String(i), microKwh: v }));
    expect(baselineOf(micro(1, 2, 2)).microKwh).toBe(2);
    expect(baselineOf(micro(1, 1, 2)).microKwh).toBe(1);
    expect(baselineOf(micro(1, 2, 3, 4)).microKwh).toBe(3);
  });

  test("fewer than 3 days with data → no baseline", () => {
    expect(
      baselineOf([
        { date: "a", microKwh: kwh(1) },
        { date: "b", microKwh: kwh(2) },
        { date: "c", microKwh: null },
      ]),
    ).toEqual({
      microKwh: null,
      days: 2,
    });
  });
});

describe("meter rows", () => {
  const window = { start: at("2026-07-02T11:00:00Z"), end: at("2026-07-02T14:00:00Z") };

  test("Σ consumption_kwh of the exact window, numbers as strings coerced, naive ts meaning UTC", () => {
    const reading = readWindow(
      [
        { ts: "2026-07-02T10:00:00", consumption_kwh: 9 },
        { ts: "2026-07-02T11:00:00", consumption_kwh: "0.4" },
        { ts: "2026-07-02T12:00:00", consumption_kwh: 0.35 },
        { ts: "2026-07-02T13:00:00", consumption_kwh: "1.25" },
        { ts: "2026-07-02T14:00:00", consumption_kwh: 9 },
      ],
      window,
    );
    expect(reading.microKwh).toBe(kwh(2));
    expect(isComplete(reading)).toBe(true);
  });

  test("an hour whose value will not parse counts 0 but is present; a junk ts counts nowhere", () => {
    const reading = readWindow(
      [
        { ts: "2026-07-02T11:00:00", consumption_kwh: "n/a" },
        { ts: "2026-07-02T12:00:00", consumption_kwh: -1 },
        { ts: "2026-07-02T13:00:00", consumption_kwh: 0.5 },
        { ts: "yesterday", consumption_kwh: 7 },
      ],
      window,
    );
    expect(reading.microKwh).toBe(kwh(0.5));
    expect(reading.hours).toBe(3);
    expect(reading.unparseable).toHaveLength(3);
  });

  test("a missing hour makes the window incomplete", () => {
    const reading = readWindow([{ ts: "2026-07-02T11:00:00", consumption_kwh: 1 }], window);
    expect(isComplete(reading)).toBe(false);
    expect(reading).toMatchObject({ hours: 1, expectedHours: 3 });
  });

  test("a duplicated hour counts once, with the larger value", () => {
    const reading = readWindow(
      [
        { ts: "2026-07-02T11:00:00", consumption_kwh: 1 },
        { ts: "2026-07-02T11:00:00Z", consumption_kwh: 2 },
      ],
      window,
    );
    expect(reading.microKwh).toBe(kwh(2));
  });

  test("hour slots cover a window that does not start on the hour", () => {
    const slots = hourSlotsOf({ start: at("2026-07-02T11:30:00Z"), end: at("2026-07-02T13:00:00Z") });
    expect(slots.map((s) => new Date(s).toISOString())).toEqual([
      "2026-07-02T11:00:00.000Z",
      "2026-07-02T12:00:00.000Z",
    ]);
  });

  test("kWh values: strings, junk and negatives", () => {
    expect([
      microKwhOf("0.1"),
      microKwhOf(" 2 "),
      microKwhOf(""),
      microKwhOf(null),
      microKwhOf(-0.1),
    ]).toEqual([100_000, 2_000_000, null, null, null]);
    expect([formatKwh(1_250_000), formatKwh(0), formatKwh(2_333_333), formatKwh(7)]).toEqual([
      "1.25",
      "0",
      "2.333333",
      "0.000007",
    ]);
  });
});

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  type Context,
  type Decision,
  decide,
  type Evidence,
  type Verdict,
} from "../src/settlement/decide.ts";
import { DEFAULT_METHOD, describeMethod } from "../src/settlement/method.ts";
import type { Cap } from "../src/settlement/points.ts";
import { createZonedClock } from "../src/settlement/zoned-clock.ts";

// Properties of one commitment's judgement over generated evidence (issue "Points a member can
// trust", acceptance): points are whole and never negative; more energy in the window never earns
// fewer points; the per-interval numbers add up to the totals exactly; and the verdict depends only
// on the readings the method says it reads. Windows fall anywhere in 2026 (both DST changes of
// Europe/Rome), with 15-, 30- or 60-minute readings, gaps, event days and short histories.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const clock = createZonedClock("Europe/Rome");
const method = DEFAULT_METHOD;
const RUNS = { numRuns: 150 };

/** A 32-bit integer hash (splitmix-style): readings and event days are a pure function of a seed. */
function mix(seed: number, value: number): number {
  let h =
    (seed ^ Math.imul(value | 0, 0x9e3779b1) ^ Math.imul(Math.floor(value / 2 ** 32), 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

type Scenario = {
  intervalMinutes: 15 | 30 | 60;
  dayOfYear: number;
  startSlot: number;
  intervals: number;
  seed: number;
  historyDays: number;
  missingPct: number;
  heldPct: number;
  scaleMicroKwh: number;
  /** Window readings × this / 4: from none to three times the usual. */
  windowBoostQuarters: number;
  /** Minutes from the window's start to the notice: mostly before, sometimes inside or after the window. */
  noticeMinutes: number;
  forecast: { intervals: number; surplusIntervals: number } | null;
  level: number;
  cap: Cap;
  estimate: number;
  overdue: boolean;
};

const scenario: fc.Arbitrary<Scenario> = fc.record({
  intervalMinutes: fc.constantFrom(15 as const, 30 as const, 60 as const),
  dayOfYear: fc.integer({ min: 0, max: 364 }),
  startSlot: fc.integer({ min: 0, max: 87 }),
  intervals: fc.integer({ min: 1, max: 8 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  historyDays: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 12, max: 100 })),
  missingPct: fc.constantFrom(0, 0, 5, 30),
  heldPct: fc.constantFrom(0, 10, 40),
  scaleMicroKwh: fc.constantFrom(200_000, 1_000_000, 3_000_000),
  windowBoostQuarters: fc.integer({ min: 0, max: 12 }),
  noticeMinutes: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: -26 * 60, max: 0 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 * 60 }) },
  ),
  forecast: fc.option(
    fc
      .integer({ min: 1, max: 8 })
      .chain((n) =>
        fc.record({ intervals: fc.constant(n), surplusIntervals: fc.integer({ min: 0, max: n }) }),
      ),
  ),
  level: fc.integer({ min: 0, max: 10 }),
  cap: fc.oneof(
    fc.constant<Cap>({ kind: "none", value: null, windows: 0 }),
    fc.record({
      kind: fc.constantFrom("device" as const, "community" as const),
      value: fc.double({ min: 0.5, max: 200, noNaN: true }),
      windows: fc.integer({ min: 5, max: 40 }),
    }),
  ),
  estimate: fc.integer({ min: 0, max: 200 }),
  overdue: fc.boolean(),
});

type Built = {
  evidence: Evidence;
  context: Context;
  start: number;
  end: number;
  intervalMs: number;
  /** The reading the generator put at an instant (µkWh), or null. */
  reading: (at: number) => number | null;
  held: (at: number) => boolean;
};

function build(s: Scenario): Built {
  const intervalMs = s.intervalMinutes * MINUTE;
  const date = new Date(Date.UTC(2026, 0, 1) + s.dayOfYear * DAY).toISOString().slice(0, 10);
  // A start on the local clock between 00:00 and 21:45, on the reading grid.
  const start = clock
    .instant(date, Math.floor((s.startSlot * 15 * MINUTE) / intervalMs) * intervalMs)
    .getTime();
  const end = start + s.intervals * intervalMs;
  const from = start - s.historyDays * DAY;
  const reading = (at: number): number | null => {
    if (at < from || at >= end + DAY) return null;
    const h = mix(s.seed, at / MINUTE);
    if (h % 100 < s.missingPct) return null;
    const usual = Math.floor((((h >>> 8) % 1000) / 1000) * s.scaleMicroKwh);
    return at >= start && at < end ? Math.floor((usual * s.windowBoostQuarters) / 4) : usual;
  };
  // Event days: whole UTC days on which the member held some commitment (never the window's own).
  const held = (at: number) => mix(s.seed ^ 0x5bd1e995, Math.floor(at / DAY)) % 100 < s.heldPct;
  const multiplier = Math.min(Number((1 + 0.05 * s.level).toFixed(9)), 1.5);
  const evidence: Evidence = {
    commitment: {
      id: "c-prop",
      periodStart: new Date(start),
      periodEnd: new Date(end),
      rewardPointsEstimated: s.estimate,
      noticeAt: new Date(start + s.noticeMinutes * MINUTE),
    },
    overdue: s.overdue,
    readingAt: reading,
    heldAt: (a, b) => {
      for (let day = Math.floor(a / DAY); day * DAY < b; day++) if (held(day * DAY)) return true;
      return false;
    },
    forecast: s.forecast,
    streak: { level: s.level, peak: s.level, multiplier, week: "2026-01-05" },
    cap: s.cap,
  };
  const context: Context = {
    method,
    config: describeMethod(method, { timeZone: clock.timeZone, intervalMs }),
    clock,
    intervalMs,
  };
  return { evidence, context, start, end, intervalMs, reading, held };
}

function verdictOf(decision: Decision): Verdict | null {
  return decision.kind === "close" ? decision.verdict : null;
}

const micro = (kwh: number) => Math.round(kwh * 1_000_000);

/** round half up, as the round_half_up (values here are never negative). */
const roundHalfUp = (x: number) => Math.floor(Number(x.toFixed(9)) + 0.5);

describe("points", () => {
  test("are never negative and always whole", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const v = verdictOf(decide(b.evidence, b.context));
        if (v === null) return true;
        return v.points >= 0 && Number.isInteger(v.points);
      }),
      RUNS,
    );
  });

  test("are 0 unless delivered or no_baseline; delivered exactly when the window qualifies", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const v = verdictOf(decide(b.evidence, b.context));
        if (v === null) return true;
        if (v.outcome !== "delivered" && v.outcome !== "no_baseline" && v.points !== 0) return false;
        if (v.totals !== null && (v.outcome === "delivered") !== v.totals.qualifies) return false;
        return true;
      }),
      RUNS,
    );
  });

  test("never exceed the cap (rounded half up) when delivered, nor the estimate without a baseline", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const v = verdictOf(decide(b.evidence, b.context));
        if (v === null) return true;
        if (v.outcome === "delivered" && s.cap.value !== null) return v.points <= roundHalfUp(s.cap.value);
        if (v.outcome === "no_baseline") return v.points <= s.estimate;
        return true;
      }),
      RUNS,
    );
  });

  test("never fewer when an interval's actual reading grows (all else equal)", () => {
    fc.assert(
      fc.property(scenario, fc.nat(), fc.integer({ min: 1, max: 3_000_000 }), (s, pick, delta) => {
        const b = build(s);
        const k = pick % s.intervals;
        const grown = b.start + k * b.intervalMs;
        const readingAt = (at: number) => {
          const r = b.reading(at);
          return at === grown && r !== null ? r + delta : r;
        };
        const before = verdictOf(decide(b.evidence, b.context));
        const after = verdictOf(decide({ ...b.evidence, readingAt }, b.context));
        if (before === null || after === null) return (before === null) === (after === null);
        return after.points >= before.points;
      }),
      RUNS,
    );
  });

  test("never fewer when an interval's reading grows, even when the member was told after the window began", () => {
    // Long hourly windows with full histories; the reading that grows is the window's last whole hour
    // before the notice, the one a same-day adjustment over "the 2 h before notice" would take in.
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 60, max: 8 * 60 }),
        fc.integer({ min: 1, max: 3_000_000 }),
        (s, noticeMinutes, delta) => {
          const intervals = 3 + (s.intervals % 6);
          const b = build({
            ...s,
            intervalMinutes: 60,
            intervals,
            historyDays: 60,
            missingPct: 0,
            heldPct: 0,
            noticeMinutes,
          });
          const grown = b.start + Math.min(intervals - 1, Math.floor(noticeMinutes / 60) - 1) * HOUR;
          const readingAt = (at: number) => {
            const r = b.reading(at);
            return at === grown && r !== null ? r + delta : r;
          };
          const before = verdictOf(decide(b.evidence, b.context));
          const after = verdictOf(decide({ ...b.evidence, readingAt }, b.context));
          if (before === null || after === null) return (before === null) === (after === null);
          return after.points >= before.points;
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("never fewer when every interval's actual reading grows", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, deltaSeed) => {
        const b = build(s);
        const readingAt = (at: number) => {
          const r = b.reading(at);
          if (r === null || at < b.start || at >= b.end) return r;
          return r + (mix(deltaSeed, at / MINUTE) % 1_000_000);
        };
        const before = verdictOf(decide(b.evidence, b.context));
        const after = verdictOf(decide({ ...b.evidence, readingAt }, b.context));
        if (before === null || after === null) return (before === null) === (after === null);
        return after.points >= before.points;
      }),
      RUNS,
    );
  });
});

describe("the explanation", () => {
  test("interval sums equal the totals exactly (whole µkWh): actual, baseline, adjusted; shifted = max(0, actual − adjusted)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const v = verdictOf(decide(b.evidence, b.context));
        if (v === null || v.totals === null) return true;
        const counted = v.intervals.filter((i) => i.actual_kwh !== null);
        const sum = (pick: (i: (typeof counted)[number]) => number | null) =>
          counted.reduce((total, i) => total + micro(pick(i) ?? Number.NaN), 0);
        const actual = sum((i) => i.actual_kwh);
        const baseline = sum((i) => i.baseline_kwh);
        const adjusted = sum((i) => i.adjusted_kwh);
        expect(actual).toBe(micro(v.totals.actual_kwh));
        expect(baseline).toBe(micro(v.totals.baseline_kwh));
        expect(adjusted).toBe(micro(v.totals.adjusted_baseline_kwh));
        expect(micro(v.totals.shifted_kwh)).toBe(Math.max(0, actual - adjusted));
        expect(counted.length).toBe(v.totals.intervals_counted);
        expect(v.intervals.length - counted.length).toBe(v.totals.intervals_missing);
        expect(v.intervals).toHaveLength(s.intervals);
        return true;
      }),
      RUNS,
    );
  });

  test("each interval's baseline is the mean of the candidates marked used (half up to µkWh), the highest min(4, |C|) of at most 7", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const v = verdictOf(decide(b.evidence, b.context));
        if (v === null) return true;
        for (const interval of v.intervals) {
          const candidates = interval.candidates.filter(
            (c) => c.why === "selected" || c.why === "not_highest",
          );
          const used = interval.candidates.filter((c) => c.used);
          expect(candidates.length).toBeLessThanOrEqual(7);
          expect(used.every((c) => c.why === "selected")).toBe(true);
          expect(used).toHaveLength(Math.min(4, candidates.length));
          const lowestUsed = Math.min(...used.map((c) => c.kwh));
          expect(candidates.every((c) => c.used || c.kwh <= lowestUsed)).toBe(true);
          if (interval.baseline_kwh === null) {
            expect(candidates.length).toBeLessThan(3);
          } else {
            expect(candidates.length).toBeGreaterThanOrEqual(3);
            const mean = used.reduce((sum, c) => sum + micro(c.kwh), 0) / used.length;
            expect(micro(interval.baseline_kwh)).toBe(roundHalfUp(mean));
          }
        }
        return true;
      }),
      RUNS,
    );
  });

  test("candidates come from earlier days of the window's type (weekday / weekend), within 90 days, newest first", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const v = verdictOf(decide(b.evidence, b.context));
        if (v === null) return true;
        const weekend = (date: string) => [0, 6].includes(new Date(`${date}T00:00:00Z`).getUTCDay());
        for (const interval of v.intervals) {
          const own = clock.local(new Date(interval.start)).date;
          const dates = interval.candidates.map((c) => c.date);
          for (const date of dates) {
            const back = (Date.parse(`${own}T00:00:00Z`) - Date.parse(`${date}T00:00:00Z`)) / DAY;
            expect(back).toBeGreaterThanOrEqual(1);
            expect(back).toBeLessThanOrEqual(90);
            expect(weekend(date)).toBe(weekend(own));
          }
          expect([...dates].sort().reverse()).toEqual(dates);
        }
        return true;
      }),
      RUNS,
    );
  });
});

describe("what the verdict depends on", () => {
  // Even a notice inside or after the window reads nothing after the window's start for the adjustment.
  test("readings after the window's end, or more than 91 days before it, change nothing", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, other) => {
        const b = build(s);
        const readingAt = (at: number) =>
          at >= b.end || at < b.start - 91 * DAY ? mix(other, at / MINUTE) % 5_000_000 : b.reading(at);
        expect(decide({ ...b.evidence, readingAt }, b.context)).toEqual(decide(b.evidence, b.context));
        return true;
      }),
      RUNS,
    );
  });

  test("without a same-day adjustment, readings at other clock times than the window's change nothing", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, other) => {
        // Notice on the day before the window: no adjustment, so only the window's clock intervals are read.
        const b = build({ ...s, noticeMinutes: -26 * 60 });
        const clockTimes = new Set<number>();
        for (let at = b.start; at < b.end; at += b.intervalMs)
          clockTimes.add(clock.local(new Date(at)).msOfDay);
        const readingAt = (at: number) =>
          clockTimes.has(clock.local(new Date(at)).msOfDay)
            ? b.reading(at)
            : mix(other, at / MINUTE) % 5_000_000;
        expect(decide({ ...b.evidence, readingAt }, b.context)).toEqual(decide(b.evidence, b.context));
        return true;
      }),
      RUNS,
    );
  });

  test("the readings of event days never change a baseline, the totals or the points", () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, other) => {
        const b = build({ ...s, heldPct: Math.max(s.heldPct, 10) });
        // Days before the window's own day on which the member held a commitment.
        const before = b.start - 2 * DAY;
        const readingAt = (at: number) =>
          at < before && b.held(at) && b.reading(at) !== null
            ? mix(other, at / MINUTE) % 5_000_000
            : b.reading(at);
        const strip = (v: Verdict | null) =>
          v === null
            ? null
            : {
                outcome: v.outcome,
                points: v.points,
                totals: v.totals,
                adjustment: v.adjustment,
                intervals: v.intervals.map((i) => ({
                  ...i,
                  candidates: i.candidates.filter((c) => c.why !== "event_day"),
                })),
              };
        expect(strip(verdictOf(decide({ ...b.evidence, readingAt }, b.context)))).toEqual(
          strip(verdictOf(decide(b.evidence, b.context))),
        );
        return true;
      }),
      RUNS,
    );
  });

  test("the same evidence gives the same verdict (no clock, no randomness of its own)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        expect(decide(b.evidence, b.context)).toEqual(decide(build(s).evidence, b.context));
        return true;
      }),
      { numRuns: 30 },
    );
  });
});

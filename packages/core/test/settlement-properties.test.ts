import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { baselineDaysOf, baselineOf } from "../src/settlement/legacy-baseline.ts";
import { judge, type PointsRule, pointsForDelivered } from "../src/settlement/legacy-points.ts";
import { readWindow } from "../src/settlement/meter-reading.ts";
import { createZonedClock } from "../src/settlement/zoned-clock.ts";

// Properties of the settlement formula over generated inputs (energy in whole µkWh).

const micro = fc.integer({ min: 0, max: 50_000_000 });
const rule: fc.Arbitrary<PointsRule> = fc.record({
  pointsPerKwh: fc.integer({ min: 0, max: 100 }),
  streakBonusPct: fc.integer({ min: 0, max: 50 }),
  streakBonusCapPct: fc.integer({ min: 0, max: 300 }),
});
const baseline = fc.oneof(
  fc.record({ microKwh: micro, days: fc.integer({ min: 3, max: 10 }) }),
  fc.record({ microKwh: fc.constant(null), days: fc.integer({ min: 0, max: 2 }) }),
);
const streak = fc.integer({ min: 0, max: 40 });
const estimated = fc.integer({ min: 0, max: 10_000 });

describe("points", () => {
  test("are never negative and always whole", () => {
    fc.assert(
      fc.property(micro, baseline, estimated, streak, rule, (actual, base, est, prior, r) => {
        const { points } = judge({
          actualMicroKwh: actual,
          baseline: base,
          estimated: est,
          priorStreak: prior,
          rule: r,
        });
        return points >= 0 && Number.isInteger(points);
      }),
    );
  });

  test("never decrease when delivered kWh grows (same streak, same rule)", () => {
    fc.assert(
      fc.property(micro, micro, fc.integer({ min: 0, max: 300 }), rule, (a, b, bonus, r) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        return (
          pointsForDelivered(low, bonus, r.pointsPerKwh) <= pointsForDelivered(high, bonus, r.pointsPerKwh)
        );
      }),
    );
  });

  test("never decrease when the actual consumption grows against the same baseline", () => {
    fc.assert(
      fc.property(micro, micro, baseline, estimated, streak, rule, (a, b, base, est, prior, r) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const of = (actual: number) =>
          judge({ actualMicroKwh: actual, baseline: base, estimated: est, priorStreak: prior, rule: r })
            .points;
        return of(low) <= of(high);
      }),
    );
  });

  test("never decrease when the streak grows", () => {
    fc.assert(
      fc.property(micro, streak, streak, rule, (delivered, a, b, r) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const of = (prior: number) =>
          judge({
            actualMicroKwh: delivered,
            baseline: { microKwh: 0, days: 10 },
            estimated: 0,
            priorStreak: prior,
            rule: r,
          }).points;
        return of(low) <= of(high);
      }),
    );
  });
});

describe("baseline", () => {
  const reading = fc.record({
    date: fc.string({ maxLength: 10 }),
    microKwh: fc.option(micro, { nil: null }),
  });

  test("is independent of the order the days' readings arrive in", () => {
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 12 }), fc.infiniteStream(fc.nat()), (readings, seeds) => {
        const shuffled = [...readings];
        // Fisher–Yates driven by the generated stream, so failures shrink and replay.
        const rand = seeds[Symbol.iterator]();
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (rand.next().value ?? 0) % (i + 1);
          [shuffled[i], shuffled[j]] = [
            shuffled[j] as (typeof shuffled)[number],
            shuffled[i] as (typeof shuffled)[number],
          ];
        }
        expect(baselineOf(shuffled)).toEqual(baselineOf(readings));
      }),
    );
  });

  test("an hour's rows read the same in any order, duplicates included", () => {
    const start = Date.UTC(2026, 6, 2, 0);
    const row = fc.record({
      ts: fc.oneof(
        fc
          .integer({ min: -2, max: 26 })
          .map((h) => new Date(start + h * 3_600_000).toISOString().slice(0, 19)),
        fc.constantFrom("junk", "", "2026-13-01T00:00:00"),
      ),
      consumption_kwh: fc.oneof(
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.constantFrom("1.5", "x", -1, null),
      ),
    });
    const window = { start: new Date(start), end: new Date(start + 24 * 3_600_000) };
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), (rows) => {
        const forward = readWindow(rows, window);
        const backward = readWindow([...rows].reverse(), window);
        return forward.microKwh === backward.microKwh && forward.hours === backward.hours;
      }),
    );
  });

  test("baseline days are 10 weekdays or 4 weekend days at most, all before the window, within 21 days", () => {
    const rome = createZonedClock("Europe/Rome");
    const day = 86_400_000;
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) }),
        fc.integer({ min: 1, max: 30 }),
        (startMs, quarterHours) => {
          const start = new Date(Math.floor(startMs / 900_000) * 900_000);
          const window = { start, end: new Date(start.getTime() + quarterHours * 900_000) };
          const days = baselineDaysOf(window, rome, () => false);
          return (
            days.length <= 10 &&
            days.every(
              (d) => d.end.getTime() <= start.getTime() && start.getTime() - d.start.getTime() <= 22 * day,
            )
          );
        },
      ),
    );
  });
});

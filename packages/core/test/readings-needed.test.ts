import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Context, decide, type Evidence, readingsNeeded } from "../src/settlement/decide.ts";
import { DEFAULT_METHOD, describeMethod } from "../src/settlement/method.ts";
import { createZonedClock } from "../src/settlement/zoned-clock.ts";

// Settlement fetches exactly readingsNeeded() from the Digital Twin; a reading decide() looks at
// outside that set would silently count as missing. Hold decide to it, over windows anywhere in
// 2026 (DST changes included), notices before and inside the window, and interval lengths.

const clock = createZonedClock("Europe/Rome");

describe("readingsNeeded", () => {
  test("decide() reads no instant outside readingsNeeded(), whatever the window, notice and interval", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse("2026-01-01T00:00:00Z"), max: Date.parse("2026-12-31T00:00:00Z") }),
        fc.constantFrom(15, 30, 60),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: -30 * 60, max: 6 * 60 }),
        (startMs, minutes, intervals, noticeBeforeMinutes) => {
          const intervalMs = minutes * 60_000;
          const start = Math.floor(startMs / intervalMs) * intervalMs;
          const context: Context = {
            method: DEFAULT_METHOD,
            config: describeMethod(DEFAULT_METHOD, { timeZone: "Europe/Rome", intervalMs }),
            clock,
            intervalMs,
          };
          const commitment = {
            id: "c",
            periodStart: new Date(start),
            periodEnd: new Date(start + intervals * intervalMs),
            rewardPointsEstimated: 20,
            noticeAt: new Date(start - noticeBeforeMinutes * 60_000),
          };
          const needed = new Set(readingsNeeded(commitment, context));
          const read: number[] = [];
          const evidence: Evidence = {
            commitment,
            overdue: true,
            readingAt: (at) => {
              read.push(at);
              return 400_000 + (at % 7) * 10_000;
            },
            heldAt: () => false,
            forecast: null,
            streak: { level: 0, peak: 0, multiplier: 1, week: "2026-01-05" },
            cap: { kind: "none", value: null, windows: 0 },
          };
          decide(evidence, context);
          expect(read.length).toBeGreaterThan(0);
          expect(read.filter((at) => !needed.has(at))).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

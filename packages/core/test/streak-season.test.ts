import { describe, expect, test } from "bun:test";
import { seasonAt, shiftMonths } from "../src/points/season.ts";
import { DEFAULT_METHOD } from "../src/settlement/method.ts";
import {
  isoWeekOf,
  roundHalfEven,
  streakBefore,
  streakMultiplier,
  type WeekMark,
  weekMarkOf,
} from "../src/settlement/streak.ts";
import { createZonedClock } from "../src/settlement/zoned-clock.ts";

// The weekly streak (issue "Points a member can trust", item 4) and seasons (item 5), digit by digit.
// Streak: ISO weeks in community time from the first judged week to the week before the window's;
// a delivered week climbs (at most 10), a missed or empty week decays one, never below
// round(peak × 0.5) with Python's round (half to even); a week of only unjudged outcomes stays.
// Seasons: 2 calendar months from 2025-09-01, starting at community-local midnight.

const clock = createZonedClock("Europe/Rome");
const rule = DEFAULT_METHOD.streak;

/** Consecutive Mondays from `first`, by calendar arithmetic on the date alone. */
function mondaysFrom(first: string, count: number): string[] {
  const start = Date.parse(`${first}T00:00:00Z`);
  return Array.from({ length: count }, (_, k) =>
    new Date(start + k * 7 * 86_400_000).toISOString().slice(0, 10),
  );
}

/** A history of weeks from `first`: "D" delivered, "M" missed, "U" unjudged only, "-" no commitment. */
function history(first: string, marks: string): { weeks: Map<string, WeekMark>; mondays: string[] } {
  const mondays = mondaysFrom(first, marks.length + 1);
  const weeks = new Map<string, WeekMark>();
  [...marks].forEach((mark, k) => {
    const week = mondays[k] ?? "";
    if (mark === "D") weeks.set(week, "delivered");
    if (mark === "M") weeks.set(week, "missed");
    if (mark === "U") weeks.set(week, "unjudged");
  });
  return { weeks, mondays };
}

/** Level and peak after each week of `marks` (the streak in force the Monday after). */
function levelsAfterEachWeek(marks: string, first = "2026-01-05"): [number, number][] {
  const { weeks, mondays } = history(first, marks);
  return [...marks].map((_, k) => {
    const s = streakBefore(weeks, mondays[k + 1] ?? "", rule);
    return [s.level, s.peak];
  });
}

describe("the weekly streak of SETTLEMENT-EXAMPLE.md §5", () => {
  // Week by week, from the outcomes settled in it.
  const table: [string, (string | null)[], [number, number]][] = [
    ["2026-05-18", ["delivered"], [1, 1]],
    ["2026-05-25", ["delivered", "not_delivered"], [2, 2]],
    ["2026-06-01", ["delivered"], [3, 3]],
    ["2026-06-08", [], [2, 3]], // no commitment: max(3 − 1, round(1.5) = 2)
    ["2026-06-15", ["not_delivered"], [2, 3]], // max(2 − 1, 2)
    ["2026-06-22", ["no_data"], [2, 3]], // unjudged only: unchanged
    ["2026-06-29", ["delivered"], [3, 3]],
  ];
  const weeks = new Map<string, WeekMark>();
  for (const [week, outcomes] of table) {
    const mark = weekMarkOf(outcomes);
    if (mark !== null) weeks.set(week, mark);
  }
  const nextMonday = (week: string) => mondaysFrom(week, 2)[1] ?? "";

  for (const [week, outcomes, [level, peak]] of table) {
    test(`week of ${week} (${outcomes.join(", ") || "no commitment"}) → level ${level}, peak ${peak}`, () => {
      const s = streakBefore(weeks, nextMonday(week), rule);
      expect([s.level, s.peak]).toEqual([level, peak]);
    });
  }

  test("the window in the week after: level 3 → multiplier 1.15", () => {
    expect(streakBefore(weeks, "2026-07-06", rule)).toEqual({ level: 3, peak: 3, multiplier: 1.15 });
  });
});

describe("what a week holds", () => {
  test("any delivered makes the week delivered, whatever else it held", () => {
    expect(weekMarkOf(["not_delivered", "no_data", "delivered"])).toBe("delivered");
  });

  test("a not_delivered and no delivered → missed, even beside unjudged outcomes", () => {
    expect(weekMarkOf(["no_data", "not_delivered", "no_baseline"])).toBe("missed");
  });

  test("only no_data, no_baseline, no_device or manual → unjudged", () => {
    expect(weekMarkOf(["no_data", "no_baseline", "no_device", "manual"])).toBe("unjudged");
  });

  test("no settled outcome at all → no mark (the week had no commitment that counts)", () => {
    expect(weekMarkOf([])).toBeNull();
    expect(weekMarkOf([null])).toBeNull();
  });
});

describe("climbing, the cap of 10, decay and its floor", () => {
  test("twelve delivered weeks climb 1 … 10 and stay at 10 (multiplier 1.5)", () => {
    expect(levelsAfterEachWeek("DDDDDDDDDDDD").map(([level]) => level)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10,
    ]);
    const { weeks, mondays } = history("2026-01-05", "DDDDDDDDDDDD");
    expect(streakBefore(weeks, mondays[12] ?? "", rule)).toEqual({ level: 10, peak: 10, multiplier: 1.5 });
  });

  test("peak 1: one empty week falls to round(0.5) = 0 (half to even; half up would keep 1)", () => {
    expect(levelsAfterEachWeek("D-")).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });

  test("peak 3: floor round(1.5) = 2 → 2, 2, 2", () => {
    expect(levelsAfterEachWeek("DDD---").slice(3)).toEqual([
      [2, 3],
      [2, 3],
      [2, 3],
    ]);
  });

  test("peak 5: floor round(2.5) = 2 (half to even; half up would stop at 3) → 4, 3, 2, 2", () => {
    expect(
      levelsAfterEachWeek("DDDDD----")
        .slice(5)
        .map(([level]) => level),
    ).toEqual([4, 3, 2, 2]);
  });

  test("peak 7: floor round(3.5) = 4 → 6, 5, 4, 4", () => {
    expect(
      levelsAfterEachWeek("DDDDDDD----")
        .slice(7)
        .map(([level]) => level),
    ).toEqual([6, 5, 4, 4]);
  });

  test("peak 10: floor 5; the peak is kept through the decay and a new delivery climbs from the floor", () => {
    const levels = levelsAfterEachWeek("DDDDDDDDDD------D");
    expect(levels.slice(10)).toEqual([
      [9, 10],
      [8, 10],
      [7, 10],
      [6, 10],
      [5, 10],
      [5, 10],
      [6, 10],
    ]);
  });

  test("a missed week decays exactly like a week without a commitment", () => {
    expect(levelsAfterEachWeek("DDDDM")).toEqual(levelsAfterEachWeek("DDDD-"));
    expect(levelsAfterEachWeek("DDDDM").at(-1)).toEqual([3, 4]);
  });

  test("unjudged-only weeks leave the level where it was: DDUU → 2; DD-- → 1", () => {
    expect(levelsAfterEachWeek("DDUU").at(-1)).toEqual([2, 2]);
    expect(levelsAfterEachWeek("DD--").at(-1)).toEqual([1, 2]);
  });

  test("decay_per_period 2 from the YAML: peak 6 decays 4, then 3 (the floor)", () => {
    const { weeks, mondays } = history("2026-01-05", "DDDDDD--");
    const twoAWeek = { ...rule, decayPerWeek: 2 };
    expect(streakBefore(weeks, mondays[7] ?? "", twoAWeek).level).toBe(4);
    expect(streakBefore(weeks, mondays[8] ?? "", twoAWeek).level).toBe(3);
  });

  test("a first judged week that is a miss leaves level 0, never negative", () => {
    expect(levelsAfterEachWeek("M-M")).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });
});

describe("which weeks count", () => {
  test("nothing judged yet (no weeks, or only unjudged ones) → level 0, multiplier 1", () => {
    expect(streakBefore(new Map(), "2026-07-06", rule)).toEqual({ level: 0, peak: 0, multiplier: 1 });
    const unjudged = new Map<string, WeekMark>([["2026-06-29", "unjudged"]]);
    expect(streakBefore(unjudged, "2026-07-06", rule)).toEqual({ level: 0, peak: 0, multiplier: 1 });
  });

  test("unjudged weeks before the first judged week do not start the count", () => {
    const weeks = new Map<string, WeekMark>([
      ["2026-06-01", "unjudged"],
      ["2026-06-22", "delivered"],
      ["2026-06-29", "delivered"],
    ]);
    expect(streakBefore(weeks, "2026-07-06", rule)).toMatchObject({ level: 2, peak: 2 });
  });

  test("the window's own week and later weeks do not count (the streak is the one before the window's week)", () => {
    const weeks = new Map<string, WeekMark>([
      ["2026-06-22", "delivered"],
      ["2026-06-29", "delivered"],
      ["2026-07-06", "delivered"],
      ["2026-07-13", "delivered"],
    ]);
    expect(streakBefore(weeks, "2026-07-06", rule)).toMatchObject({ level: 2, peak: 2 });
  });

  test("trailing empty weeks up to the window's week decay: delivered three weeks, then two empty weeks → 2", () => {
    const weeks = new Map<string, WeekMark>([
      ["2026-06-01", "delivered"],
      ["2026-06-08", "delivered"],
      ["2026-06-15", "delivered"],
    ]);
    // After 06-15: 3 (peak 3). Weeks of 06-22 and 06-29 empty: 2, then max(1, 2) = 2.
    expect(streakBefore(weeks, "2026-07-06", rule)).toMatchObject({ level: 2, peak: 3 });
  });
});

describe("the multiplier: min(1 + 0.05 × level, 1.5)", () => {
  test("levels 0, 1, 3, 7, 10 → 1, 1.05, 1.15, 1.35, 1.5 (exact decimals)", () => {
    expect([0, 1, 3, 7, 10].map((level) => streakMultiplier(level, rule))).toEqual([
      1, 1.05, 1.15, 1.35, 1.5,
    ]);
  });

  test("never above the maximum: level 12 → 1.5; a YAML max of 1.2 caps level 7 at 1.2", () => {
    expect(streakMultiplier(12, rule)).toBe(1.5);
    expect(streakMultiplier(7, { ...rule, maxMultiplier: 1.2 })).toBe(1.2);
  });
});

describe("Python's round, half to even", () => {
  test("0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4, 4.5 → 4", () => {
    expect([0.5, 1.5, 2.5, 3.5, 4.5].map(roundHalfEven)).toEqual([0, 2, 2, 4, 4]);
  });

  test("off the half it rounds to the nearest: 2.4 → 2, 2.6 → 3, 0 → 0, 7 → 7", () => {
    expect([2.4, 2.6, 0, 7].map(roundHalfEven)).toEqual([2, 3, 0, 7]);
  });
});

describe("ISO weeks in community time", () => {
  test("around the new year: Mon 2026-12-28 … Sun 2027-01-03 are one week; Mon 2027-01-04 starts the next", () => {
    expect(["2026-12-28", "2026-12-31", "2027-01-01", "2027-01-03", "2027-01-04"].map(isoWeekOf)).toEqual([
      "2026-12-28",
      "2026-12-28",
      "2026-12-28",
      "2026-12-28",
      "2027-01-04",
    ]);
  });

  test("a Sunday belongs to the week of the Monday before it: 2026-06-14 → 2026-06-08", () => {
    expect(isoWeekOf("2026-06-14")).toBe("2026-06-08");
  });

  test("a window early on Monday in Rome is in that Monday's week even when UTC still says Sunday", () => {
    const weekOf = (iso: string) => isoWeekOf(clock.local(new Date(iso)).date);
    expect(weekOf("2026-03-29T22:30:00Z")).toBe("2026-03-30"); // 00:30 CEST, the day after spring forward
    expect(weekOf("2026-10-25T23:30:00Z")).toBe("2026-10-26"); // 00:30 CET, the day after fall back
    expect(weekOf("2027-01-03T23:30:00Z")).toBe("2027-01-04"); // 00:30 CET on Monday, new year's week 1
    expect(weekOf("2026-12-31T23:30:00Z")).toBe("2026-12-28"); // new year's day, still the old ISO week
  });

  test("consecutive delivered weeks across the year boundary climb without a gap: 12-21, 12-28, 01-04 → 3", () => {
    const weeks = new Map<string, WeekMark>([
      ["2026-12-21", "delivered"],
      ["2026-12-28", "delivered"],
      ["2027-01-04", "delivered"],
    ]);
    expect(streakBefore(weeks, "2027-01-11", rule)).toMatchObject({ level: 3, peak: 3 });
  });

  test("an empty week 2026-12-28 across the year boundary is seen and decays", () => {
    const weeks = new Map<string, WeekMark>([
      ["2026-12-14", "delivered"],
      ["2026-12-21", "delivered"],
      ["2027-01-04", "delivered"],
    ]);
    // 1, 2, then empty: max(1, round(1)) = 1, then 2.
    expect(streakBefore(weeks, "2027-01-11", rule)).toMatchObject({ level: 2, peak: 2 });
  });

  test("weeks across both DST changes step one week at a time", () => {
    const spring = new Map<string, WeekMark>([
      ["2026-03-23", "delivered"],
      ["2026-03-30", "delivered"],
      ["2026-04-06", "delivered"],
    ]);
    expect(streakBefore(spring, "2026-04-13", rule)).toMatchObject({ level: 3, peak: 3 });
    const fall = new Map<string, WeekMark>([
      ["2026-10-19", "delivered"],
      ["2026-10-26", "delivered"],
      ["2026-11-02", "delivered"],
    ]);
    expect(streakBefore(fall, "2026-11-09", rule)).toMatchObject({ level: 3, peak: 3 });
  });
});

describe("seasons: 2 calendar months from 2025-09-01, at local midnight in Rome", () => {
  const seasons = { anchor: "2025-09-01", months: 2 };
  const season = (iso: string, rule = seasons) => {
    const s = seasonAt(new Date(iso), rule, clock);
    return [s.start.toISOString(), s.end.toISOString()];
  };

  test("the anchor's first instant (00:00 CEST = 22:00Z the day before) opens Sep–Oct, which ends 1 Nov 00:00 CET", () => {
    expect(season("2025-08-31T22:00:00.000Z")).toEqual([
      "2025-08-31T22:00:00.000Z",
      "2025-10-31T23:00:00.000Z",
    ]);
  });

  test("a millisecond before the anchor is the season before it: Jul–Aug 2025", () => {
    expect(season("2025-08-31T21:59:59.999Z")).toEqual([
      "2025-06-30T22:00:00.000Z",
      "2025-08-31T22:00:00.000Z",
    ]);
  });

  test("mid-December → Nov–Dec", () => {
    expect(season("2025-12-15T12:00:00Z")).toEqual(["2025-10-31T23:00:00.000Z", "2025-12-31T23:00:00.000Z"]);
  });

  test("new year's midnight in Rome (23:00Z on 31 Dec) opens Jan–Feb; a second before it is still Nov–Dec", () => {
    expect(season("2025-12-31T23:00:00Z")).toEqual(["2025-12-31T23:00:00.000Z", "2026-02-28T23:00:00.000Z"]);
    expect(season("2025-12-31T22:59:59Z")).toEqual(["2025-10-31T23:00:00.000Z", "2025-12-31T23:00:00.000Z"]);
  });

  test("Mar–Apr 2026 spans the spring change: it starts at 23:00Z and ends at 22:00Z", () => {
    expect(season("2026-03-15T12:00:00Z")).toEqual(["2026-02-28T23:00:00.000Z", "2026-04-30T22:00:00.000Z"]);
  });

  test("long before the anchor the seasons keep their rhythm: 29 Feb 2024 is in Jan–Feb 2024", () => {
    expect(season("2024-02-29T12:00:00Z")).toEqual(["2023-12-31T23:00:00.000Z", "2024-02-29T23:00:00.000Z"]);
  });

  test("3-month seasons from 2025-09-01: 10 Jan 2026 is in Dec–Feb", () => {
    expect(season("2026-01-10T12:00:00Z", { anchor: "2025-09-01", months: 3 })).toEqual([
      "2025-11-30T23:00:00.000Z",
      "2026-02-28T23:00:00.000Z",
    ]);
  });

  test("an anchor mid-month counts from that day: monthly from 2025-09-15, 10 Oct → 15 Sep … 15 Oct", () => {
    const monthly = { anchor: "2025-09-15", months: 1 };
    expect(season("2025-10-10T12:00:00Z", monthly)).toEqual([
      "2025-09-14T22:00:00.000Z",
      "2025-10-14T22:00:00.000Z",
    ]);
    expect(season("2025-10-14T22:00:00Z", monthly)).toEqual([
      "2025-10-14T22:00:00.000Z",
      "2025-11-14T23:00:00.000Z",
    ]);
  });

  test("an anchor on the 31st clamps to the month's end, counted from the anchor: 31 Jan → 28 Feb → 31 Mar", () => {
    expect(season("2025-03-05T12:00:00Z", { anchor: "2025-01-31", months: 1 })).toEqual([
      "2025-02-27T23:00:00.000Z",
      "2025-03-30T22:00:00.000Z",
    ]);
  });

  test("shiftMonths: whole calendar months, either way, across years, clamping the day", () => {
    expect(shiftMonths("2025-09-01", 2)).toBe("2025-11-01");
    expect(shiftMonths("2025-11-01", 2)).toBe("2026-01-01");
    expect(shiftMonths("2025-09-01", -2)).toBe("2025-07-01");
    expect(shiftMonths("2025-01-15", -13)).toBe("2023-12-15");
    expect(shiftMonths("2025-01-31", 1)).toBe("2025-02-28");
    expect(shiftMonths("2024-01-31", 1)).toBe("2024-02-29");
    expect(shiftMonths("2025-03-31", -1)).toBe("2025-02-28");
  });
});

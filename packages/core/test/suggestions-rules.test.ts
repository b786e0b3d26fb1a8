import { describe, expect, test } from "bun:test";
import type { SuggestionItem } from "../src/index.ts";
import {
  coerceInt,
  coerceNumber,
  parseCommunityWindow,
  parseDeviceWindow,
} from "../src/suggestions/dt-rows.ts";
import { whyNotOffered } from "../src/suggestions/offerable.ts";
import { rankSuggestions } from "../src/suggestions/rank.ts";

const ROME = "Europe/Rome";

describe("coerceNumber: numbers may arrive as strings; junk is missing, never a crash", () => {
  test.each([
    [1.5, 1.5],
    [0, 0],
    ["2.5", 2.5],
    [" 3 ", 3],
    ["1e3", 1000],
    ["-4", -4],
    ["", null],
    ["   ", null],
    ["abc", null],
    ["12kWh", null],
    [null, null],
    [undefined, null],
    [true, null],
    [Number.NaN, null],
    [Number.POSITIVE_INFINITY, null],
    [{}, null],
    [[1], null],
  ] as const)("%p → %p", (input, expected) => {
    expect(coerceNumber(input)).toBe(expected);
  });

  test.each([
    ["12", 12],
    [12.5, 13],
    ["7.4", 7],
    ["x", null],
  ] as const)("coerceInt %p → %p", (input, expected) => {
    expect(coerceInt(input)).toBe(expected);
  });
});

describe("parseCommunityWindow: naive DT timestamps are UTC; malformed rows are reported", () => {
  const good = {
    _id: "w1",
    ts_date: "2026-07-02",
    window_start: "2026-07-02T11:00:00",
    window_end: "2026-07-02T14:00:00",
    community_kwh: "12.5",
    confidence: null,
    flexibility_model: "v1",
  };

  test("a naive timestamp means UTC and becomes an aware instant", () => {
    const parsed = parseCommunityWindow(good);
    expect(parsed).toEqual({
      ok: true,
      value: {
        id: "w1",
        start: new Date("2026-07-02T11:00:00Z"),
        end: new Date("2026-07-02T14:00:00Z"),
        communityKwh: 12.5,
        confidence: null,
      },
    });
  });

  test.each([
    ["with Z", "2026-07-02T11:00:00Z", "2026-07-02T11:00:00.000Z"],
    ["with an offset", "2026-07-02T13:00:00+02:00", "2026-07-02T11:00:00.000Z"],
    ["with fractions", "2026-07-02T11:00:00.000000", "2026-07-02T11:00:00.000Z"],
    ["with a space", "2026-07-02 11:00:00", "2026-07-02T11:00:00.000Z"],
  ])("window_start %s", (_name, start, iso) => {
    const parsed = parseCommunityWindow({ ...good, window_start: start });
    expect(parsed.ok && parsed.value.start.toISOString()).toBe(iso);
  });

  test.each([
    ["no _id", { _id: undefined }, "no _id"],
    ["empty _id", { _id: "  " }, "no _id"],
    ["no window_start", { window_start: undefined }, "no window_start"],
    ["null window_start", { window_start: null }, "no window_start"],
    ["no window_end", { window_end: undefined }, "no window_end"],
    ["a month 13", { window_start: "2026-13-02T11:00:00" }, "bad window_start"],
    ["February 30", { window_start: "2026-02-30T11:00:00" }, "bad window_start"],
    ["a word", { window_end: "tomorrow" }, "bad window_end"],
    ["a number", { window_start: 1751450400 }, "bad window_start"],
    ["end before start", { window_end: "2026-07-02T10:00:00" }, "window_end is not after window_start"],
    ["end equal start", { window_end: "2026-07-02T11:00:00" }, "window_end is not after window_start"],
  ])("%s → skipped", (_name, patch, reason) => {
    const parsed = parseCommunityWindow({ ...good, ...patch });
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toContain(reason);
  });

  test("a numeric _id is kept as text", () => {
    const parsed = parseCommunityWindow({ ...good, _id: 42 });
    expect(parsed.ok && parsed.value.id).toBe("42");
  });

  test.each([
    ["junk community_kwh is missing", { community_kwh: "n/a" }, { communityKwh: null }],
    ["a confidence string is coerced", { confidence: "0.8" }, { confidence: 0.8 }],
  ])("%s", (_name, patch, expected) => {
    const parsed = parseCommunityWindow({ ...good, ...patch });
    expect(parsed.ok && parsed.value).toMatchObject(expected);
  });

  test("device rows: estimates coerced, null reward stays null here", () => {
    const parsed = parseDeviceWindow({
      _id: "d1",
      window_start: "2026-07-02T11:00:00",
      window_end: "2026-07-02T14:00:00",
      community_kwh: 3,
      estimated_kwh: "1.25",
      reward_points_estimated: null,
      confidence: "junk",
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        start: new Date("2026-07-02T11:00:00Z"),
        end: new Date("2026-07-02T14:00:00Z"),
        estimatedKwh: 1.25,
        rewardPoints: null,
        confidence: null,
      },
    });
  });
});

describe("whyNotOffered: evening limit, midnight, ended, committed (community time)", () => {
  const committed = new Set(["held"]);
  const cases: {
    name: string;
    now: string;
    start: string;
    end: string;
    id?: string;
    expected: string | null;
  }[] = [
    {
      name: "ends at exactly 21:00 local (CEST)",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T17:00:00Z",
      end: "2026-07-02T19:00:00Z",
      expected: null,
    },
    {
      name: "ends one second after 21:00",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T17:00:00Z",
      end: "2026-07-02T19:00:01Z",
      expected: "ends_after_21",
    },
    {
      name: "ends at 21:30",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T17:00:00Z",
      end: "2026-07-02T19:30:00Z",
      expected: "ends_after_21",
    },
    {
      name: "ends at 21:00 in winter (CET): 20:00 UTC",
      now: "2026-01-15T06:00:00Z",
      start: "2026-01-15T18:00:00Z",
      end: "2026-01-15T20:00:00Z",
      expected: null,
    },
    {
      name: "20:00 UTC in summer is 22:00 local",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T18:00:00Z",
      end: "2026-07-02T20:00:00Z",
      expected: "ends_after_21",
    },
    {
      name: "DST start day, ends 21:00 CEST",
      now: "2026-03-29T06:00:00Z",
      start: "2026-03-29T17:00:00Z",
      end: "2026-03-29T19:00:00Z",
      expected: null,
    },
    {
      name: "DST start day, ends 22:00 CEST",
      now: "2026-03-29T06:00:00Z",
      start: "2026-03-29T17:00:00Z",
      end: "2026-03-29T20:00:00Z",
      expected: "ends_after_21",
    },
    {
      name: "DST end day, ends 21:00 CET",
      now: "2026-10-25T06:00:00Z",
      start: "2026-10-25T18:00:00Z",
      end: "2026-10-25T20:00:00Z",
      expected: null,
    },
    {
      name: "crosses local midnight",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T21:00:00Z",
      end: "2026-07-02T22:30:00Z",
      expected: "crosses_midnight",
    },
    {
      name: "ends at local midnight",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T20:00:00Z",
      end: "2026-07-02T22:00:00Z",
      expected: "crosses_midnight",
    },
    {
      name: "same UTC day but across local midnight",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T21:30:00Z",
      end: "2026-07-02T22:30:00Z",
      expected: "crosses_midnight",
    },
    {
      name: "early morning after local midnight is fine",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T22:30:00Z",
      end: "2026-07-03T01:00:00Z",
      expected: null,
    },
    {
      name: "already ended",
      now: "2026-07-02T15:00:00Z",
      start: "2026-07-02T09:00:00Z",
      end: "2026-07-02T12:00:00Z",
      expected: "ended",
    },
    {
      name: "ends right now",
      now: "2026-07-02T12:00:00Z",
      start: "2026-07-02T09:00:00Z",
      end: "2026-07-02T12:00:00Z",
      expected: "ended",
    },
    {
      name: "in progress is still offered",
      now: "2026-07-02T10:00:00Z",
      start: "2026-07-02T09:00:00Z",
      end: "2026-07-02T12:00:00Z",
      expected: null,
    },
    {
      name: "held by a live commitment",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T09:00:00Z",
      end: "2026-07-02T12:00:00Z",
      id: "held",
      expected: "committed",
    },
  ];
  test.each(cases)("$name → $expected", ({ now, start, end, id = "w", expected }) => {
    const reason = whyNotOffered(
      { id, start: new Date(start), end: new Date(end) },
      { now: new Date(now), timeZone: ROME, committed },
    );
    expect(reason).toBe(expected as never);
  });
});

describe("rankSuggestions: enriched by personal impact, then the rest by community kWh, at most 8", () => {
  const item = (id: string, impact: number | null, community: number, start = "2026-07-02T09:00:00.000Z") =>
    ({
      id,
      suggestion_type: "shift-consumption",
      period_start: start,
      period_end: "2026-07-02T23:00:00.000Z",
      from_period: "",
      clock_range: "",
      to_is_tomorrow: false,
      to_period: "morning",
      to_time: "",
      impact_kwh_estimated: impact,
      reward_points: impact === null ? null : 1,
      confidence: null,
      community_kwh: community,
      target: null,
    }) satisfies SuggestionItem;

  test.each([
    {
      name: "enriched first, by impact desc, even with a small community figure",
      items: [item("a", null, 100), item("b", 1, 1), item("c", 3, 2)],
      order: ["c", "b", "a"],
    },
    {
      name: "the rest by community kWh desc",
      items: [item("a", null, 5), item("b", null, 50), item("c", null, 20)],
      order: ["b", "c", "a"],
    },
    {
      name: "an enriched zero impact still ranks before the unenriched",
      items: [item("a", null, 500), item("b", 0, 0)],
      order: ["b", "a"],
    },
    {
      name: "ties by earlier window, then id",
      items: [item("z", 2, 1, "2026-07-02T10:00:00.000Z"), item("y", 2, 1), item("x", 2, 1)],
      order: ["x", "y", "z"],
    },
    {
      name: "at most eight",
      items: Array.from({ length: 12 }, (_, i) => item(`w${String(i).padStart(2, "0")}`, null, i)),
      order: ["w11", "w10", "w09", "w08", "w07", "w06", "w05", "w04"],
    },
  ])("$name", ({ items, order }) => {
    expect(rankSuggestions(items).map((i) => i.id)).toEqual([...order]);
  });
});

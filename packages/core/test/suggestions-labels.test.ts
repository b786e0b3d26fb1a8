import { describe, expect, test } from "bun:test";
import { formatHhmm, toLocalTime } from "../src/index.ts";
import { dayPeriodOf, labelWindow, type WindowLabels } from "../src/suggestions/labels.ts";

const ROME = "Europe/Rome";
const at = (iso: string) => new Date(iso);

describe("dayPeriodOf: the i18n key of a community-local hour", () => {
  test.each([
    [0, "night"],
    [4, "night"],
    [5, "early_morning"],
    [7, "early_morning"],
    [8, "morning"],
    [10, "morning"],
    [11, "late_morning"],
    [12, "midday"],
    [13, "midday"],
    [14, "afternoon"],
    [16, "afternoon"],
    [17, "evening"],
    [20, "evening"],
    [21, "night"],
    [23, "night"],
  ] as const)("hour %i → %s", (hour, period) => {
    expect(dayPeriodOf(hour)).toBe(period);
  });
});

describe("labelWindow: labels in community time, across daylight-saving changes", () => {
  const cases: { name: string; now: string; start: string; end: string; expected: WindowLabels }[] = [
    {
      name: "summer (CEST, +02:00), today: own clock range",
      now: "2026-07-02T06:00:00Z",
      start: "2026-07-02T09:00:00Z",
      end: "2026-07-02T12:00:00Z",
      expected: {
        from_period: "",
        clock_range: "11:00–14:00",
        to_is_tomorrow: false,
        to_period: "late_morning",
        to_time: "11:00",
      },
    },
    {
      name: "winter (CET, +01:00), today",
      now: "2026-01-15T06:00:00Z",
      start: "2026-01-15T10:00:00Z",
      end: "2026-01-15T13:30:00Z",
      expected: {
        from_period: "",
        clock_range: "11:00–14:30",
        to_is_tomorrow: false,
        to_period: "late_morning",
        to_time: "11:00",
      },
    },
    {
      name: "the morning clocks go forward (29 March 2026): CEST after 01:00 UTC",
      now: "2026-03-29T00:30:00Z",
      start: "2026-03-29T08:00:00Z",
      end: "2026-03-29T10:00:00Z",
      expected: {
        from_period: "",
        clock_range: "10:00–12:00",
        to_is_tomorrow: false,
        to_period: "morning",
        to_time: "10:00",
      },
    },
    {
      name: "the evening before clocks go forward, window tomorrow: the evening pitch",
      now: "2026-03-28T21:30:00Z",
      start: "2026-03-29T06:00:00Z",
      end: "2026-03-29T08:00:00Z",
      expected: {
        from_period: "evening",
        clock_range: "17:00–21:00",
        to_is_tomorrow: true,
        to_period: "morning",
        to_time: "08:00",
      },
    },
    {
      name: "the morning clocks go back (25 October 2026): CET after 01:00 UTC",
      now: "2026-10-25T00:30:00Z",
      start: "2026-10-25T12:00:00Z",
      end: "2026-10-25T14:00:00Z",
      expected: {
        from_period: "",
        clock_range: "13:00–15:00",
        to_is_tomorrow: false,
        to_period: "midday",
        to_time: "13:00",
      },
    },
    {
      name: "same UTC date, next local date: tomorrow is decided in community time",
      now: "2026-07-01T21:30:00Z",
      start: "2026-07-01T23:00:00Z",
      end: "2026-07-02T01:00:00Z",
      expected: {
        from_period: "evening",
        clock_range: "17:00–21:00",
        to_is_tomorrow: true,
        to_period: "night",
        to_time: "01:00",
      },
    },
    {
      name: "late local evening now, window later today",
      now: "2026-07-02T17:00:00Z",
      start: "2026-07-02T17:30:00Z",
      end: "2026-07-02T19:00:00Z",
      expected: {
        from_period: "",
        clock_range: "19:30–21:00",
        to_is_tomorrow: false,
        to_period: "evening",
        to_time: "19:30",
      },
    },
  ];
  test.each(cases)("$name", ({ now, start, end, expected }) => {
    expect(labelWindow({ start: at(start), end: at(end) }, at(now), ROME)).toEqual(expected);
  });

  test("the configured zone is used, not Rome and not UTC", () => {
    const labels = labelWindow(
      { start: at("2026-07-02T15:00:00Z"), end: at("2026-07-02T17:00:00Z") },
      at("2026-07-02T12:00:00Z"),
      "America/New_York",
    );
    expect(labels.clock_range).toBe("11:00–13:00");
    expect(labels.to_period).toBe("late_morning");
  });
});

describe("toLocalTime and formatHhmm", () => {
  test.each([
    ["2026-07-02T22:00:00Z", { date: "2026-07-03", hhmm: "00:00" }],
    ["2026-01-15T22:59:59Z", { date: "2026-01-15", hhmm: "23:59" }],
    ["2026-03-29T01:00:00Z", { date: "2026-03-29", hhmm: "03:00" }],
    ["2026-10-25T00:59:00Z", { date: "2026-10-25", hhmm: "02:59" }],
    ["2026-10-25T01:00:00Z", { date: "2026-10-25", hhmm: "02:00" }],
  ])("%s in Rome", (iso, expected) => {
    const local = toLocalTime(at(iso), ROME);
    expect({ date: local.date, hhmm: formatHhmm(local) }).toEqual(expected);
  });
});

import { describe, expect, test } from "bun:test";
import { findOpportunityWindows, readForecastHours } from "../src/opportunities/opportunity-window.ts";
import { roundHalfUp } from "../src/rounding.ts";

const ROME = "Europe/Rome";
// 2026-07-02: Rome is UTC+2 (CEST), so 03:00 UTC is 05:00 local.
const at = (hourUtc: number) => `2026-07-02T${String(hourUtc).padStart(2, "0")}:00:00`;
const row = (hourUtc: number, prediction: unknown) => ({
  datetime: at(hourUtc),
  prediction,
  period: "h",
  lower: 0,
  upper: 1,
});

describe("readForecastHours", () => {
  test("naive datetimes are read as UTC and numeric strings are coerced", () => {
    const hours = readForecastHours([row(10, "1.25"), row(9, 0.75)]);
    expect(hours.map((h) => [h.start.toISOString(), h.kw])).toEqual([
      ["2026-07-02T09:00:00.000Z", 0.75],
      ["2026-07-02T10:00:00.000Z", 1.25],
    ]);
  });

  test("rows whose time or prediction does not read are dropped, not a crash", () => {
    const hours = readForecastHours([
      row(8, "n/a"),
      row(9, null),
      row(10, ""),
      { datetime: "yesterday", prediction: 3 },
      { datetime: 42, prediction: 3 },
      row(11, Number.NaN),
      row(12, "2"),
    ]);
    expect(hours.map((h) => h.start.getUTCHours())).toEqual([12]);
  });

  test("a repeated hour keeps its first row", () => {
    expect(readForecastHours([row(9, 1), row(9, 5)]).map((h) => h.kw)).toEqual([1]);
  });
});

describe("findOpportunityWindows", () => {
  const windows = (rows: Record<string, unknown>[]) =>
    findOpportunityWindows(readForecastHours(rows), ROME).map((w) => ({
      start: w.start.toISOString(),
      end: w.end.toISOString(),
      kwh: w.estimatedKwh,
    }));

  test("consecutive hours above 0.5 kW merge; the window ends after its last hour; kWh sums kW × 1 h", () => {
    expect(windows([row(9, 0.4), row(10, 1), row(11, "2.5"), row(12, 1.5), row(13, 0.2)])).toEqual([
      { start: "2026-07-02T10:00:00.000Z", end: "2026-07-02T13:00:00.000Z", kwh: 5 },
    ]);
  });

  test("exactly 0.5 kW does not count (strictly above)", () => {
    expect(windows([row(10, 0.5), row(11, "0.5")])).toEqual([]);
    expect(windows([row(10, 0.500001)])).toHaveLength(1);
  });

  test("a gap in the hours splits windows, earliest first", () => {
    expect(windows([row(14, 1), row(10, 1), row(11, 1)]).map((w) => [w.start, w.end])).toEqual([
      ["2026-07-02T10:00:00.000Z", "2026-07-02T12:00:00.000Z"],
      ["2026-07-02T14:00:00.000Z", "2026-07-02T15:00:00.000Z"],
    ]);
  });

  test("a missing hour splits a window even when its neighbours qualify", () => {
    expect(windows([row(10, 1), row(12, 1)])).toHaveLength(2);
  });

  test("hours before 05:00 community time never count; 05:00 does", () => {
    // 02:00 UTC = 04:00 Rome, 03:00 UTC = 05:00 Rome.
    expect(windows([row(2, 3), row(3, 3), row(4, 3)]).map((w) => w.start)).toEqual([
      "2026-07-02T03:00:00.000Z",
    ]);
  });

  test("a window stops at local midnight: the hours after it are night hours", () => {
    // 21:00 UTC = 23:00 Rome; 22:00 UTC = 00:00 Rome next day.
    const found = windows([row(21, 1), row(22, 1), row(23, 1)]);
    expect(found.map((w) => [w.start, w.end])).toEqual([
      ["2026-07-02T21:00:00.000Z", "2026-07-02T22:00:00.000Z"],
    ]);
  });
});

describe("roundHalfUp", () => {
  test("halves round away from zero, binary noise rounds as the decimal reads", () => {
    expect([
      roundHalfUp(2.5),
      roundHalfUp(2.4999),
      roundHalfUp(-2.5),
      roundHalfUp(1.15 * 10),
      roundHalfUp(-0.4),
    ]).toEqual([3, 2, -3, 12, 0]);
    expect(Object.is(roundHalfUp(-0.4), 0)).toBe(true);
  });
});

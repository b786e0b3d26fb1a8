import { describe, expect, test } from "bun:test";
import { parseInstant } from "../src/time.ts";

describe("parseInstant", () => {
  test.each([
    ["2026-07-02T11:00:00", "2026-07-02T11:00:00.000Z", "no offset means UTC"],
    ["2026-07-02 11:00", "2026-07-02T11:00:00.000Z", "space separator, no seconds"],
    ["2026-07-02T11:00:00+02:00", "2026-07-02T09:00:00.000Z", "positive offset"],
    ["2026-07-02T11:00:00-0530", "2026-07-02T16:30:00.000Z", "offset without colon"],
    ["2026-07-02T11:00:00.5Z", "2026-07-02T11:00:00.500Z", "fraction"],
    [
      "2026-07-02T11:59:59.9999Z",
      "2026-07-02T11:59:59.999Z",
      "sub-millisecond digits truncate, never roll over",
    ],
  ])("%s → %s (%s)", (text, iso) => {
    expect(parseInstant(text)?.toISOString()).toBe(iso);
  });

  test.each([
    ["2026-02-30T00:00:00Z", "a day February does not have"],
    ["2026-07-02T24:00:00Z", "hour 24"],
    ["2026-07-02T11:60:00Z", "minute 60"],
    ["2026-07-02T11:00:99Z", "second 99"],
    ["2026-07-02T11:00:00+99:99", "an offset no zone has"],
    ["2026-07-02", "a date without a time"],
    ["yesterday", "not ISO-8601"],
  ])("%s is refused (%s)", (text) => {
    expect(parseInstant(text)).toBeNull();
  });
});

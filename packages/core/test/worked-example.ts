import type { Context } from "../src/settlement/decide.ts";
import { describeMethod, type SettlementMethod } from "../src/settlement/method.ts";
import { addDays, createZonedClock } from "../src/settlement/zoned-clock.ts";

// The setting of the worked settlement examples (settlement-example, settlement-target): Thursday
// 2026-07-02 in Rome (CEST, UTC+2), hourly readings.

export const HOUR = 3_600_000;
export const THURSDAY = "2026-07-02";

/** decide()'s context for `method`: Europe/Rome, one reading an hour. */
export function romeHourlyContext(method: SettlementMethod): Context {
  return {
    method,
    config: describeMethod(method, { timeZone: "Europe/Rome", intervalMs: HOUR }),
    clock: createZonedClock("Europe/Rome"),
    intervalMs: HOUR,
  };
}

/**
 * The `n` weekdays before THURSDAY, oldest first. Worked out here, not with the code's weekend
 * rule: the examples' inputs must not lean on what they test.
 */
export function weekdaysBefore(n: number): string[] {
  const days: string[] = [];
  for (let back = 1; days.length < n; back++) {
    const date = addDays(THURSDAY, -back);
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.unshift(date);
  }
  return days;
}

// Community time as the demo writes it ("11:00 tomorrow in Rome") → UTC instants, and instants as
// the fakes store them (naive UTC). The zone arithmetic and the wall-clock type (`LocalTime`,
// `toLocalTime`, `formatHhmm`) are core's: one DST implementation for the whole service.
import { zonedClockOf } from "@celine/core";

/**
 * The instant a local wall-clock time names, e.g. ("2026-07-02", "11:00", "Europe/Rome") →
 * 09:00Z. A time skipped by a DST jump moves forward by the gap.
 */
export function zonedInstant(date: string, time: string, timeZone: string): Date {
  const match = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(time);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !match)
    throw new Error(`not a local date and time: ${date} ${time}`);
  const [, h, m, s = "0"] = match;
  return zonedClockOf(timeZone).instant(date, ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000);
}

/** `2026-07-02T09:00:00`: how the Digital Twin writes instants (naive, meaning UTC). */
export function naiveUtc(instant: Date): string {
  return instant.toISOString().slice(0, 19);
}

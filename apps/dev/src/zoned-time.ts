// Wall-clock time in a community's zone ↔ UTC instants, for seeding the simulated platform.
// The demo speaks in community time ("11:00 tomorrow in Rome"); the fakes store naive UTC. The
// zone arithmetic is core's (one DST implementation for the whole service).
import { addDays, toLocalTime, zonedClockOf } from "@celine/core";

export { addDays };

/** Wall-clock fields of an instant in `timeZone`. */
export function wallClock(
  instant: Date,
  timeZone: string,
): { date: string; hour: number; minute: number; time: string; weekday: number } {
  const { date, hour, minute, hhmm } = toLocalTime(instant, timeZone);
  // 0 = Sunday … 6 = Saturday, of the local date.
  return { date, hour, minute, time: hhmm, weekday: new Date(`${date}T00:00:00Z`).getUTCDay() };
}

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

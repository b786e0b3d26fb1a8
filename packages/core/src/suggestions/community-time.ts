// Community-local wall-clock time (COMMUNITY_TIMEZONE): labels and nudge facts are written in it.
// Instants stay UTC everywhere else. The zone arithmetic is the settlement's zoned clock (one
// implementation of DST for the whole service); this is the hour/minute view of it.

import { createZonedClock, type ZonedClock } from "../settlement/zoned-clock.ts";

export type LocalTime = {
  /** "YYYY-MM-DD" */
  date: string;
  hour: number;
  minute: number;
  second: number;
  /** "HH:MM", 24-hour */
  hhmm: string;
};

const clocks = new Map<string, ZonedClock>();

/** The zone's clock, made once per zone (it memoises offsets). */
export function zonedClockOf(timeZone: string): ZonedClock {
  const known = clocks.get(timeZone);
  if (known) return known;
  const clock = createZonedClock(timeZone);
  clocks.set(timeZone, clock);
  return clock;
}

/** The wall-clock reading of `instant` in `timeZone`. */
export function toLocalTime(instant: Date, timeZone: string): LocalTime {
  const { date, msOfDay } = zonedClockOf(timeZone).local(instant);
  const seconds = Math.floor(msOfDay / 1000);
  const hour = Math.floor(seconds / 3600);
  const minute = Math.floor((seconds % 3600) / 60);
  return { date, hour, minute, second: seconds % 60, hhmm: `${pad(hour)}:${pad(minute)}` };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

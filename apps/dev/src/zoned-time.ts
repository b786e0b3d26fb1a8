// Wall-clock time in a community's zone ↔ UTC instants, for seeding the simulated platform.
// The demo speaks in community time ("11:00 tomorrow in Rome"); the fakes store naive UTC.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Wall-clock fields of an instant in `timeZone`. */
export function wallClock(
  instant: Date,
  timeZone: string,
): { date: string; hour: number; minute: number; time: string; weekday: number } {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) parts[part.type] = part.value;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const hour = Number(parts.hour);
  const minute = Number(parts.minute);
  return {
    date,
    hour,
    minute,
    time: `${parts.hour}:${parts.minute}`,
    // 0 = Sunday … 6 = Saturday, of the local date.
    weekday: new Date(`${date}T00:00:00Z`).getUTCDay(),
  };
}

/** Milliseconds the zone is ahead of UTC at `instant`. */
function offsetAt(instant: number, timeZone: string): number {
  const { date, hour, minute } = wallClock(new Date(instant), timeZone);
  const seconds = new Date(instant).getUTCSeconds();
  const local = Date.parse(`${date}T00:00:00Z`) + ((hour * 60 + minute) * 60 + seconds) * 1000;
  return local - (instant - new Date(instant).getUTCMilliseconds());
}

/**
 * The instant a local wall-clock time names, e.g. ("2026-07-02", "11:00", "Europe/Rome") →
 * 09:00Z. A time skipped by a DST jump resolves to the instant after the jump.
 */
export function zonedInstant(date: string, time: string, timeZone: string): Date {
  const naive = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}Z`);
  if (Number.isNaN(naive)) throw new Error(`not a local date and time: ${date} ${time}`);
  let guess = naive - offsetAt(naive, timeZone);
  // A second pass settles instants near a DST change, where the first offset was the other side's.
  guess = naive - offsetAt(guess, timeZone);
  return new Date(guess);
}

/** `date` plus `days` calendar days (YYYY-MM-DD in, YYYY-MM-DD out). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** `2026-07-02T09:00:00`: how the Digital Twin writes instants (naive, meaning UTC). */
export function naiveUtc(instant: Date): string {
  return instant.toISOString().slice(0, 19);
}

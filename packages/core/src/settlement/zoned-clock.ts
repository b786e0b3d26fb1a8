// Wall-clock time in the community's zone, DST-aware, without a date library: Intl gives the zone's
// UTC offset at an instant; everything else is arithmetic on UTC milliseconds. Offsets are memoised
// per quarter hour (every zone in use changes offset on a quarter-hour boundary), so a settlement
// run that converts the same few clock windows thousands of times asks Intl only a few hundred times.
// The one wall-clock type of the service: baselines, weeks and seasons, labels, nudge facts and the
// dev stack all read a `LocalTime`.

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const QUARTER_MS = 15 * MINUTE_MS;

/** A calendar date `YYYY-MM-DD` (no zone: it names a day on the community's wall calendar). */
export type LocalDate = string;

export type LocalTime = {
  date: LocalDate;
  /** Milliseconds since local midnight as the wall clock reads (not elapsed time on a DST day). */
  msOfDay: number;
};

export type ZonedClock = {
  timeZone: string;
  /** The wall-clock date and time of an instant. */
  local(instant: Date): LocalTime;
  /**
   * The instant a wall-clock time names. A time that does not exist (spring-forward gap) moves
   * forward by the gap (02:30 → 03:30); a time that exists twice (fall-back) is the earlier one.
   */
  instant(date: LocalDate, msOfDay: number): Date;
};

export function createZonedClock(timeZone: string): ZonedClock {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  const offsets = new Map<number, number>();

  /** Local minus UTC, in ms, at instant `t`. */
  function offsetAt(t: number): number {
    const bucket = Math.floor(t / QUARTER_MS);
    const known = offsets.get(bucket);
    if (known !== undefined) return known;
    const at = bucket * QUARTER_MS;
    const parts: Record<string, number> = {};
    for (const part of format.formatToParts(new Date(at))) {
      if (part.type !== "literal") parts[part.type] = Number(part.value);
    }
    const wall = Date.UTC(
      parts.year ?? 1970,
      (parts.month ?? 1) - 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
    );
    const offset = wall - at;
    offsets.set(bucket, offset);
    return offset;
  }

  return {
    timeZone,
    local(instant) {
      const wall = instant.getTime() + offsetAt(instant.getTime());
      const midnight = Math.floor(wall / DAY_MS) * DAY_MS;
      return { date: new Date(midnight).toISOString().slice(0, 10), msOfDay: wall - midnight };
    },
    instant(date, msOfDay) {
      const wall = dayStartUtc(date) + msOfDay;
      // The offset a day before and a day after bracket any transition near this wall time.
      const before = offsetAt(wall - DAY_MS);
      const after = offsetAt(wall + DAY_MS);
      const valid = [before, after].map((o) => wall - o).filter((t) => offsetAt(t) === wall - t);
      if (valid.length > 0) return new Date(Math.min(...valid));
      // In the gap: read the wall time with the offset that was in force before it.
      return new Date(wall - before);
    },
  };
}

const clocks = new Map<string, ZonedClock>();

/** The zone's clock, made once per zone and kept (it memoises offsets): for labels and nudge facts. */
export function zonedClockOf(timeZone: string): ZonedClock {
  const known = clocks.get(timeZone);
  if (known) return known;
  const clock = createZonedClock(timeZone);
  clocks.set(timeZone, clock);
  return clock;
}

/** The wall-clock reading of `instant` in `timeZone`. */
export function toLocalTime(instant: Date, timeZone: string): LocalTime {
  return zonedClockOf(timeZone).local(instant);
}

/** The hour (0–23) a wall-clock time reads. */
export function hourOf(time: LocalTime): number {
  return Math.floor(time.msOfDay / HOUR_MS);
}

/** "HH:MM", 24-hour, as labels and nudge facts write a wall-clock time (seconds dropped, not rounded). */
export function formatHhmm(time: LocalTime): string {
  const minutes = Math.floor(time.msOfDay / MINUTE_MS);
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

// Baselines walk the same few dozen dates for every commitment of a run.
const dayStarts = new Map<LocalDate, number>();

/** The UTC midnight that starts a calendar date, in ms (the date's own number line). */
function dayStartUtc(date: LocalDate): number {
  const known = dayStarts.get(date);
  if (known !== undefined) return known;
  const [y, m, d] = date.split("-").map(Number);
  const start = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1);
  if (dayStarts.size > 100_000) dayStarts.clear();
  dayStarts.set(date, start);
  return start;
}

export function addDays(date: LocalDate, days: number): LocalDate {
  return new Date(dayStartUtc(date) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (positive when b is later). */
export function daysBetween(a: LocalDate, b: LocalDate): number {
  return Math.round((dayStartUtc(b) - dayStartUtc(a)) / DAY_MS);
}

/** Saturday or Sunday. */
export function isWeekend(date: LocalDate): boolean {
  const day = new Date(dayStartUtc(date)).getUTCDay();
  return day === 0 || day === 6;
}

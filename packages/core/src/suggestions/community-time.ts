// Community-local wall-clock time (COMMUNITY_TIMEZONE): labels and nudge facts are written in it.
// Instants stay UTC everywhere else; only these helpers look at a zone, through Intl, so daylight
// saving changes are the platform's tz database's business, not ours.

export type LocalTime = {
  /** "YYYY-MM-DD" */
  date: string;
  hour: number;
  minute: number;
  second: number;
  /** "HH:MM", 24-hour */
  hhmm: string;
};

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock reading of `instant` in `timeZone`. */
export function toLocalTime(instant: Date, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) parts[part.type] = part.value;
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour,
    minute,
    second: Number(parts.second),
    hhmm: `${pad(hour)}:${pad(minute)}`,
  };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

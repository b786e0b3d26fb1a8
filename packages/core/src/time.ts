// Instants: everything inside the service is an aware UTC instant. Strings from the outside
// (clients, the Digital Twin) may lack an offset; such strings mean UTC.

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parse an ISO-8601 date-time; a missing offset means UTC. Null when it is not one. */
export function parseInstant(text: string): Date | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = "00", frac = "", offset = "Z"] = m;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetMin = offsetMinutes(offset);
  // Reject what Date.UTC would silently roll over (2026-02-30, 25:00, 11:00:99, +99:99).
  if (hour > 23 || minute > 59 || second > 59 || offsetMin === null) return null;
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    return null;
  }
  // Sub-millisecond digits are truncated: an instant never moves to the next second by rounding.
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  return new Date(base + ms - offsetMin * 60_000);
}

/** Minutes east of UTC; null for an offset no zone has (hours over 23, minutes over 59). */
function offsetMinutes(offset: string): number | null {
  if (offset.toUpperCase() === "Z") return 0;
  const sign = offset.startsWith("-") ? -1 : 1;
  const digits = offset.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || "0");
  if (hours > 23 || minutes > 59) return null;
  return sign * (hours * 60 + minutes);
}

/** The wire form of an instant: ISO-8601 in UTC with an explicit offset (`Z`). */
export function formatInstant(date: Date): string {
  return date.toISOString();
}

export function formatNullableInstant(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

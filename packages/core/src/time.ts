// Instants: everything inside the service is an aware UTC instant. Strings from the outside
// (clients, the Digital Twin) may lack an offset; such strings mean UTC.

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parse an ISO-8601 date-time; a missing offset means UTC. Null when it is not one. */
export function parseInstant(text: string): Date | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = "00", frac = "", offset = "Z"] = m;
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  // Reject what Date.UTC silently rolls over (2026-02-30, 25:00).
  const check = new Date(base);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h)
  ) {
    return null;
  }
  return new Date(base - offsetMinutes(offset) * 60_000);
}

function offsetMinutes(offset: string): number {
  if (offset.toUpperCase() === "Z") return 0;
  const sign = offset.startsWith("-") ? -1 : 1;
  const digits = offset.slice(1).replace(":", "");
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || "0"));
}

/** The wire form of an instant: ISO-8601 in UTC with an explicit offset (`Z`). */
export function formatInstant(date: Date): string {
  return date.toISOString();
}

export function formatNullableInstant(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

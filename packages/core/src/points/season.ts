import { addDays, type LocalDate, type ZonedClock } from "../settlement/zoned-clock.ts";

// Seasons: SEASON_LENGTH_MONTHS calendar months each, counted from SEASON_ANCHOR, starting at
// community-local midnight. Before the anchor the seasons simply count backwards.

export type SeasonRule = { anchor: LocalDate; months: number };

export type SeasonBounds = { start: Date; end: Date };

/** The season containing `now`: [start, end) as instants of community-local midnights. */
export function seasonAt(now: Date, rule: SeasonRule, clock: ZonedClock): SeasonBounds {
  const today = clock.local(now).date;
  const [ay = 2026, am = 1] = rule.anchor.split("-").map(Number);
  const [ty = 2026, tm = 1] = today.split("-").map(Number);
  let index = Math.floor(((ty - ay) * 12 + (tm - am)) / rule.months);
  // The month arithmetic ignores the day: step back while the candidate start is still ahead.
  while (shiftMonths(rule.anchor, index * rule.months) > today) index--;
  while (shiftMonths(rule.anchor, (index + 1) * rule.months) <= today) index++;
  return {
    start: clock.instant(shiftMonths(rule.anchor, index * rule.months), 0),
    end: clock.instant(shiftMonths(rule.anchor, (index + 1) * rule.months), 0),
  };
}

/** `date` plus whole months; a day past the target month's end clamps to its last day (Jan 31 + 1 → Feb 28). */
export function shiftMonths(date: LocalDate, months: number): LocalDate {
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  const total = y * 12 + (m - 1) + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const first = `${String(year).padStart(4, "0")}-${String(month + 1).padStart(2, "0")}-01`;
  const lastDay = Number(addDays(shiftFirst(year, month + 1), -1).slice(8));
  return addDays(first, Math.min(d, lastDay) - 1);
}

function shiftFirst(year: number, month: number): LocalDate {
  const y = year + Math.floor(month / 12);
  const m = month % 12;
  return `${String(y).padStart(4, "0")}-${String(m + 1).padStart(2, "0")}-01`;
}

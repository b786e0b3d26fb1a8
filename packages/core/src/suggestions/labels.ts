import type { DayPeriod } from "../schemas/suggestions.ts";
import { formatHhmm, hourOf, toLocalTime } from "../settlement/zoned-clock.ts";

export type WindowLabels = {
  from_period: "" | "evening";
  clock_range: string;
  to_is_tomorrow: boolean;
  to_period: DayPeriod;
  to_time: string;
};

/** A window tomorrow is pitched as "move it away from this evening's peak". */
const EVENING_RANGE = "17:00–21:00";
const EN_DASH = "–";

/** The i18n key of a community-local hour (0–23). */
export function dayPeriodOf(hour: number): DayPeriod {
  if (hour < 5) return "night";
  if (hour < 8) return "early_morning";
  if (hour < 11) return "morning";
  if (hour < 12) return "late_morning";
  if (hour < 14) return "midday";
  if (hour < 17) return "afternoon";
  if (hour < 21) return "evening";
  return "night";
}

/**
 * The labels the app shows for a window, in community time. "Tomorrow" means the window starts on
 * a later community-local date than `now` (the DT only publishes today's and tomorrow's windows).
 */
export function labelWindow(window: { start: Date; end: Date }, now: Date, timeZone: string): WindowLabels {
  const start = toLocalTime(window.start, timeZone);
  const end = toLocalTime(window.end, timeZone);
  const today = toLocalTime(now, timeZone).date;
  const tomorrow = start.date > today;
  return {
    from_period: tomorrow ? "evening" : "",
    clock_range: tomorrow ? EVENING_RANGE : `${formatHhmm(start)}${EN_DASH}${formatHhmm(end)}`,
    to_is_tomorrow: tomorrow,
    to_period: dayPeriodOf(hourOf(start)),
    to_time: formatHhmm(start),
  };
}

import { toLocalTime } from "../settlement/zoned-clock.ts";

export type NotOffered = "ended" | "crosses_midnight" | "ends_after_21" | "committed";

/** The app's evening: a window must be over by 21:00 community time. */
const LATEST_END_SECONDS = 21 * 3600;

/**
 * Why a window is not offered, or null when it is. A window that has ended is gone; one that
 * crosses community-local midnight, or ends after 21:00 local, is not a shift the app proposes
 * (ending at exactly 21:00:00 is fine); one the member holds a live commitment for is done.
 */
export function whyNotOffered(
  window: { id: string; start: Date; end: Date },
  { now, timeZone, committed }: { now: Date; timeZone: string; committed: ReadonlySet<string> },
): NotOffered | null {
  if (window.end <= now) return "ended";
  const start = toLocalTime(window.start, timeZone);
  const end = toLocalTime(window.end, timeZone);
  if (end.date !== start.date) return "crosses_midnight";
  if (Math.floor(end.msOfDay / 1000) > LATEST_END_SECONDS) return "ends_after_21";
  if (committed.has(window.id)) return "committed";
  return null;
}

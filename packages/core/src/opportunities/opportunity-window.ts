import type { RawRow } from "../platform/ports.ts";
import { hourOf, toLocalTime } from "../settlement/zoned-clock.ts";
import { coerceNumber } from "../suggestions/dt-rows.ts";
import { parseInstant } from "../time.ts";

// Pure maths of the opportunity broadcast: which forecast hours are worth shifting consumption
// into, and how they group into windows. No I/O here.

/** An hour counts when the community is forecast to export strictly more than this (kW). */
export const OPPORTUNITY_THRESHOLD_KW = 0.5;
/** Hours before this local hour (community time) never count: nobody is asked to act at night. */
export const EARLIEST_LOCAL_HOUR = 5;

const HOUR_MS = 3_600_000;

/** One forecast hour: [start, start + 1 h) with the predicted net export in kW. */
export type ForecastHour = { start: Date; kw: number };

export type OpportunityWindow = {
  start: Date;
  /** Exclusive: the end of the window's last hour. */
  end: Date;
  /**
   * kWh over the window: each hour's predicted kW held for one hour (kW × 1 h), summed. Not rounded;
   * round only when formatting or turning it into points.
   */
  estimatedKwh: number;
};

/**
 * Forecast rows as the Digital Twin sends them (naive UTC `datetime`, `prediction` possibly a
 * string) → hours in time order. A row whose time or prediction does not read is dropped, never
 * a crash; a repeated hour keeps its first row.
 */
export function readForecastHours(rows: RawRow[]): ForecastHour[] {
  const byStart = new Map<number, ForecastHour>();
  for (const row of rows) {
    const start = typeof row.datetime === "string" ? parseInstant(row.datetime) : null;
    const kw = coerceNumber(row.prediction);
    if (!start || kw === null || byStart.has(start.getTime())) continue;
    byStart.set(start.getTime(), { start, kw });
  }
  return [...byStart.values()].sort((a, b) => a.start.getTime() - b.start.getTime());
}

/**
 * The windows in `hours`, earliest first: hours above the threshold and at or after 05:00 in
 * `timeZone` count; hours exactly one hour apart merge, any gap splits.
 */
export function findOpportunityWindows(hours: ForecastHour[], timeZone: string): OpportunityWindow[] {
  const windows: OpportunityWindow[] = [];
  let current: OpportunityWindow | null = null;
  for (const hour of hours) {
    if (!(hour.kw > OPPORTUNITY_THRESHOLD_KW) || localHour(hour.start, timeZone) < EARLIEST_LOCAL_HOUR) {
      current = null;
      continue;
    }
    if (current && current.end.getTime() === hour.start.getTime()) {
      current.end = new Date(hour.start.getTime() + HOUR_MS);
      current.estimatedKwh += hour.kw;
      continue;
    }
    current = { start: hour.start, end: new Date(hour.start.getTime() + HOUR_MS), estimatedKwh: hour.kw };
    windows.push(current);
  }
  return windows;
}

function localHour(instant: Date, timeZone: string): number {
  return hourOf(toLocalTime(instant, timeZone));
}

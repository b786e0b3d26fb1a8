import type { RawRow } from "../platform/ports.ts";
import { parseInstant } from "../time.ts";
import type { Window } from "./legacy-baseline.ts";
import { MICRO_PER_KWH } from "./legacy-points.ts";

// Hourly `rec_settlement_1h` rows → the energy of one exact window. The DT writes `ts` as naive
// UTC and may send numbers as strings; what will not parse counts 0 and is reported, never thrown.

export const HOUR_MS = 3_600_000;

export type WindowReading = {
  /** Σ consumption_kwh of the rows with ts in [start, end), in whole µkWh. */
  microKwh: number;
  /** Distinct hours in the window that have a row (an hour whose value will not parse still counts here). */
  hours: number;
  /** Hours the window spans: the whole hours starting inside it (at least 1). */
  expectedHours: number;
  /** Rows that could not be used: unparseable `ts`, or a `consumption_kwh` that is not a number ≥ 0. */
  unparseable: RawRow[];
};

/** Every hour of the window has a row. */
export function isComplete(reading: WindowReading): boolean {
  return reading.hours >= reading.expectedHours;
}

/** The whole hours (UTC, hour-aligned) a fetch must cover to see every row of the window. */
export function hourSlotsOf(window: Window): number[] {
  const slots: number[] = [];
  const first = Math.floor(window.start.getTime() / HOUR_MS) * HOUR_MS;
  for (let h = first; h < window.end.getTime(); h += HOUR_MS) slots.push(h);
  return slots;
}

/**
 * The reading of one exact window. A row delivered twice (overlapping fetches, a DT duplicate)
 * counts once, with the larger value, so the result never depends on the order rows arrive in.
 */
export function readWindow(rows: Iterable<RawRow>, window: Window): WindowReading {
  const from = window.start.getTime();
  const to = window.end.getTime();
  // ts (ms) → µkWh of that reading; null when the value will not parse (counts 0).
  const readings = new Map<number, number | null>();
  const unparseable: RawRow[] = [];
  for (const row of rows) {
    const at = tsOf(row);
    if (at === null) {
      unparseable.push(row);
      continue;
    }
    if (at < from || at >= to) continue;
    const kwh = microKwhOf(row.consumption_kwh);
    if (kwh === null) unparseable.push(row);
    const known = readings.get(at);
    readings.set(at, known === undefined || known === null ? kwh : Math.max(known, kwh ?? 0));
  }
  let microKwh = 0;
  const hours = new Set<number>();
  for (const [at, kwh] of readings) {
    hours.add(Math.floor(at / HOUR_MS));
    microKwh += kwh ?? 0;
  }
  return { microKwh, hours: hours.size, expectedHours: expectedHoursOf(window), unparseable };
}

// A row is read by the run's hour cache and again by every window that covers it: parse `ts` once.
const parsedTs = new WeakMap<RawRow, number | null>();

/** The row's `ts` (naive means UTC) in ms since the epoch; null when it will not parse. */
export function tsOf(row: RawRow): number | null {
  const known = parsedTs.get(row);
  if (known !== undefined) return known;
  const at = typeof row.ts === "string" ? (parseInstant(row.ts)?.getTime() ?? null) : null;
  parsedTs.set(row, at);
  return at;
}

function expectedHoursOf(window: Window): number {
  const firstWhole = Math.ceil(window.start.getTime() / HOUR_MS) * HOUR_MS;
  const whole = Math.ceil((window.end.getTime() - firstWhole) / HOUR_MS);
  return Math.max(1, whole);
}

/** kWh (number or numeric string) → whole µkWh; null when it is not a finite number ≥ 0. */
export function microKwhOf(value: unknown): number | null {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : NaN;
  if (!Number.isFinite(n) || n < 0) return null;
  return Math.round(n * MICRO_PER_KWH);
}

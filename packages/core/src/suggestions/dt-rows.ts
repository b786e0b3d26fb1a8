import type { RawRow } from "../platform/ports.ts";
import { parseInstant } from "../time.ts";

// The Digital Twin's window rows as they arrive (PLATFORM §3): naive-UTC timestamps, numbers that
// may be strings. Everything is normalised here, at the boundary; a row that cannot be read is
// reported, never thrown.

export type CommunityWindow = {
  id: string;
  start: Date;
  end: Date;
  /** kWh; null when absent or not a number. */
  communityKwh: number | null;
  confidence: number | null;
};

export type DeviceWindow = {
  start: Date;
  end: Date;
  /** kWh */
  estimatedKwh: number | null;
  rewardPoints: number | null;
  confidence: number | null;
};

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A number, or a string holding one; anything else (junk, "", booleans, NaN) is missing. */
export function coerceNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string" || value.trim() === "") return null;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : null;
}

/** Points are whole: a fractional estimate is rounded half away from zero. */
export function coerceInt(value: unknown): number | null {
  const n = coerceNumber(value);
  return n === null ? null : Math.sign(n) * Math.round(Math.abs(n));
}

function instantOf(row: RawRow, key: string): Parsed<Date> {
  const value = row[key];
  if (value === undefined || value === null || value === "") return { ok: false, reason: `no ${key}` };
  const date = typeof value === "string" ? parseInstant(value) : null;
  return date ? { ok: true, value: date } : { ok: false, reason: `bad ${key}: ${JSON.stringify(value)}` };
}

function boundsOf(row: RawRow): Parsed<{ start: Date; end: Date }> {
  const start = instantOf(row, "window_start");
  if (!start.ok) return start;
  const end = instantOf(row, "window_end");
  if (!end.ok) return end;
  if (end.value <= start.value) return { ok: false, reason: "window_end is not after window_start" };
  return { ok: true, value: { start: start.value, end: end.value } };
}

export function parseCommunityWindow(row: RawRow): Parsed<CommunityWindow> {
  const rawId = row._id;
  const id =
    typeof rawId === "string"
      ? rawId.trim()
      : typeof rawId === "number" && Number.isFinite(rawId)
        ? `${rawId}`
        : "";
  if (id === "") return { ok: false, reason: "no _id" };
  const bounds = boundsOf(row);
  if (!bounds.ok) return bounds;
  return {
    ok: true,
    value: {
      id,
      ...bounds.value,
      communityKwh: coerceNumber(row.community_kwh),
      confidence: coerceNumber(row.confidence),
    },
  };
}

export function parseDeviceWindow(row: RawRow): Parsed<DeviceWindow> {
  const bounds = boundsOf(row);
  if (!bounds.ok) return bounds;
  return {
    ok: true,
    value: {
      ...bounds.value,
      estimatedKwh: coerceNumber(row.estimated_kwh),
      rewardPoints: coerceInt(row.reward_points_estimated),
      confidence: coerceNumber(row.confidence),
    },
  };
}

/** Community and device rows describe the same window when their UTC bounds agree. */
export function windowKey(window: { start: Date; end: Date }): string {
  return `${window.start.getTime()}/${window.end.getTime()}`;
}

import type { PgColumn } from "drizzle-orm/pg-core";
import { type CommitmentRow, commitments as c } from "../db/schema.ts";
import type { CommitmentOut } from "../schemas/commitments.ts";
import { formatInstant, formatNullableInstant } from "../time.ts";

/** How a wire field is made from the driver's text: as is, as a string, as an instant, as kWh. */
export type WireKind = "verbatim" | "text" | "instant" | "kwh";

/** The wire keys in wire order, with the column each comes from. */
export const WIRE_COLUMNS: readonly { key: string; column: PgColumn; kind: WireKind }[] = [
  { key: "id", column: c.id, kind: "text" },
  { key: "user_id", column: c.userId, kind: "text" },
  { key: "suggestion_id", column: c.suggestionId, kind: "text" },
  { key: "suggestion_type", column: c.suggestionType, kind: "text" },
  { key: "community_id", column: c.communityId, kind: "text" },
  { key: "device_id", column: c.deviceId, kind: "text" },
  { key: "period_start", column: c.periodStart, kind: "instant" },
  { key: "period_end", column: c.periodEnd, kind: "instant" },
  { key: "committed_at", column: c.committedAt, kind: "instant" },
  { key: "settled_at", column: c.settledAt, kind: "instant" },
  { key: "reminded_at", column: c.remindedAt, kind: "instant" },
  { key: "status", column: c.status, kind: "text" },
  { key: "reward_points_estimated", column: c.rewardPointsEstimated, kind: "verbatim" },
  { key: "reward_points_actual", column: c.rewardPointsActual, kind: "verbatim" },
  { key: "actual_kwh", column: c.actualKwh, kind: "kwh" },
  { key: "baseline_kwh", column: c.baselineKwh, kind: "kwh" },
  { key: "baseline_days", column: c.baselineDays, kind: "verbatim" },
  { key: "delivered_kwh", column: c.deliveredKwh, kind: "kwh" },
  { key: "settlement_outcome", column: c.settlementOutcome, kind: "text" },
  { key: "created_at", column: c.createdAt, kind: "instant" },
  { key: "origin", column: c.origin, kind: "text" },
  { key: "settlement_revision", column: c.settlementRevision, kind: "verbatim" },
];

const kwh = (value: string | null) => (value === null ? null : Number(value));

/** The wire shape: every key present, `null` when empty, instants as UTC ISO strings. */
export function toCommitmentOut(row: CommitmentRow): CommitmentOut {
  return {
    id: row.id,
    user_id: row.userId,
    suggestion_id: row.suggestionId,
    suggestion_type: row.suggestionType,
    community_id: row.communityId,
    device_id: row.deviceId,
    period_start: formatInstant(row.periodStart),
    period_end: formatInstant(row.periodEnd),
    committed_at: formatInstant(row.committedAt),
    settled_at: formatNullableInstant(row.settledAt),
    reminded_at: formatNullableInstant(row.remindedAt),
    status: row.status,
    reward_points_estimated: row.rewardPointsEstimated,
    reward_points_actual: row.rewardPointsActual,
    actual_kwh: kwh(row.actualKwh),
    baseline_kwh: kwh(row.baselineKwh),
    baseline_days: row.baselineDays,
    delivered_kwh: kwh(row.deliveredKwh),
    settlement_outcome: row.settlementOutcome,
    created_at: formatInstant(row.createdAt),
    origin: row.origin,
    settlement_revision: row.settlementRevision,
  };
}

/** A row of the wire columns as the driver hands them (instants and decimals as text) → the wire shape: the same answer as toCommitmentOut gives for the row. */
export function wireRowToCommitmentOut(row: Record<string, unknown>): CommitmentOut {
  const out: Record<string, unknown> = {};
  for (const { key, kind } of WIRE_COLUMNS) {
    const value = row[key] as string | number | null;
    if (value === null || kind === "verbatim" || kind === "text") out[key] = value;
    else if (kind === "kwh") out[key] = Number(value);
    else out[key] = isoOfPgText(value as string);
  }
  return out as CommitmentOut;
}

/**
 * timestamptz text in a UTC session (`YYYY-MM-DD HH:MM:SS[.ffffff]+00`) → `YYYY-MM-DDTHH:MM:SS.mmmZ`,
 * truncated to milliseconds as Date#toISOString does; any other shape goes through Date (as drizzle).
 */
export function isoOfPgText(text: string): string {
  const n = text.length;
  if (n < 22 || n > 29 || n === 23 || text[4] !== "-" || text[10] !== " " || !text.endsWith("+00")) {
    return new Date(text).toISOString();
  }
  const fraction = n > 22 ? text.slice(20, Math.min(23, n - 3)).padEnd(3, "0") : "000";
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction}Z`;
}

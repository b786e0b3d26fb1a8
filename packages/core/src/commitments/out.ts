import type { CommitmentRow } from "../db/schema.ts";
import type { CommitmentOut } from "../schemas/commitments.ts";
import { formatInstant, formatNullableInstant } from "../time.ts";
import { WIRE_COLUMNS } from "./copy-to-json.ts";

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
  };
}

/** A row of the wire columns as the driver hands them (instants and decimals as text) → the wire shape: the same answer as toCommitmentOut gives for the row. */
export function wireRowToCommitmentOut(row: Record<string, unknown>): CommitmentOut {
  const out: Record<string, unknown> = {};
  for (const { key, kind } of WIRE_COLUMNS) {
    const value = row[key] as string | number | null;
    if (value === null || kind === "verbatim" || kind === "text") out[key] = value;
    else if (kind === "kwh") out[key] = Number(value);
    else out[key] = isoOfText(value as string);
  }
  return out as CommitmentOut;
}

/**
 * timestamptz text in a UTC session (`YYYY-MM-DD HH:MM:SS[.ffffff]+00`) → `YYYY-MM-DDTHH:MM:SS.mmmZ`,
 * truncated to milliseconds as Date#toISOString does; any other shape goes through Date (as drizzle).
 */
function isoOfText(text: string): string {
  const n = text.length;
  if (n < 22 || n > 29 || n === 23 || text[4] !== "-" || text[10] !== " " || !text.endsWith("+00")) {
    return new Date(text).toISOString();
  }
  const fraction = n > 22 ? text.slice(20, Math.min(23, n - 3)).padEnd(3, "0") : "000";
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction}Z`;
}

import type { CommitmentRow } from "../db/schema.ts";
import type { CommitmentOut } from "../schemas/commitments.ts";
import { formatInstant, formatNullableInstant } from "../time.ts";

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

import type { OutboxEntry } from "../outbox/enqueue.ts";
import { formatKwh } from "./kwh.ts";
import type { SettlementWrite } from "./queries.ts";
import type { ZonedClock } from "./zoned-clock.ts";

/** `commitment_settled` (PLATFORM §4): facts are strings; `period` is the window's community date. */
export function settledNudge(
  write: SettlementWrite,
  {
    userId,
    periodStart,
    rewardPointsEstimated,
  }: { userId: string; periodStart: Date; rewardPointsEstimated: number },
  { now, clock }: { now: Date; clock: ZonedClock },
): OutboxEntry {
  const micro = (kwh: string | null) => (kwh === null ? null : Math.round(Number(kwh) * 1_000_000));
  const facts: Record<string, string> = {
    commitment_id: write.id,
    actual_kwh: formatKwh(micro(write.actualKwh) ?? 0),
    reward_points_actual: String(write.points),
    period: clock.local(periodStart).date,
    outcome: write.outcome,
    reward_points_estimated: String(rewardPointsEstimated),
  };
  if (write.deliveredKwh !== null) facts.delivered_kwh = write.deliveredKwh;
  if (write.baselineKwh !== null) facts.baseline_kwh = write.baselineKwh;
  return {
    kind: "nudge",
    commitmentId: write.id,
    event: {
      event_type: "commitment_settled",
      user_id: userId,
      community_id: write.communityId ?? "",
      timestamp: now.toISOString(),
      facts: { ...facts, facts_version: "1.0", scenario: "commitment_settled" },
    },
  };
}

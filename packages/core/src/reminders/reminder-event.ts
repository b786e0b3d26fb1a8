import type { CommitmentRow } from "../db/schema.ts";
import type { NudgeEvent } from "../platform/ports.ts";
import { formatHhmm, toLocalTime } from "../settlement/zoned-clock.ts";

export const REMINDER_EVENT = "flexibility_reminder";
export const COMMITTED_EVENT = "flexibility_committed";

export type CommitmentForFacts = Pick<
  CommitmentRow,
  "id" | "userId" | "suggestionId" | "communityId" | "periodStart" | "periodEnd" | "rewardPointsEstimated"
>;

/**
 * The facts the nudging tool's commitment scenarios read (PLATFORM §4), every value a string, in
 * community time: `window_start`/`window_end` "HH:MM", `period` the local date the window starts.
 */
export function commitmentFacts(
  commitment: CommitmentForFacts,
  scenario: string,
  timeZone: string,
): NudgeEvent["facts"] {
  const start = toLocalTime(commitment.periodStart, timeZone);
  const end = toLocalTime(commitment.periodEnd, timeZone);
  return {
    facts_version: "1.0",
    scenario,
    window_start: formatHhmm(start),
    window_end: formatHhmm(end),
    reward_points_estimated: String(commitment.rewardPointsEstimated),
    period: start.date,
    commitment_id: commitment.id,
    suggestion_id: commitment.suggestionId,
  };
}

/** A commitment nudge; `at` is when it happens (the tool deduplicates per UTC day of it). */
export function commitmentEvent(
  commitment: CommitmentForFacts,
  scenario: string,
  timeZone: string,
  at: Date,
): NudgeEvent {
  return {
    event_type: scenario,
    user_id: commitment.userId,
    // The tool rejects null: "" means unknown.
    community_id: commitment.communityId ?? "",
    timestamp: at.toISOString(),
    facts: commitmentFacts(commitment, scenario, timeZone),
  };
}

/** The pre-window reminder: one per commitment, the same facts wherever it is sent from. */
export function reminderEvent(commitment: CommitmentForFacts, timeZone: string, at: Date): NudgeEvent {
  return commitmentEvent(commitment, REMINDER_EVENT, timeZone, at);
}

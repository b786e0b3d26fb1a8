import type { CoreConfig } from "../context.ts";
import type { CommitmentRow } from "../db/schema.ts";
import { COMMITTED_EVENT, commitmentEvent, reminderEvent } from "../reminders/reminder-event.ts";
import { formatInstant } from "../time.ts";
import type { OutboxEntry } from "./enqueue.ts";

/** PLATFORM §6; the publisher adds CELINE_MQTT_TOPIC_PREFIX. */
export function committedTopic(userId: string): string {
  return `celine/flexibility/committed/${userId}`;
}

/** What the side effects of a commitment read from it. */
export type CommitmentForEntries = Pick<
  CommitmentRow,
  | "id"
  | "userId"
  | "suggestionId"
  | "communityId"
  | "deviceId"
  | "periodStart"
  | "periodEnd"
  | "rewardPointsEstimated"
>;

/** The `committed` MQTT message: "" for unknown ids, windows as UTC ISO instants. */
export function committedMessage(commitment: CommitmentForEntries) {
  return {
    user_id: commitment.userId,
    community_id: commitment.communityId ?? "",
    commitment_id: commitment.id,
    device_id: commitment.deviceId ?? "",
    window_start: formatInstant(commitment.periodStart),
    window_end: formatInstant(commitment.periodEnd),
    reward_points_estimated: commitment.rewardPointsEstimated,
  };
}

/**
 * Every side effect of a new commitment, in delivery order: the MQTT event, the confirmation nudge,
 * and the reminder held until `reminderLeadMinutes` before the window (at once when that moment has
 * passed; the relay drops it if the commitment is no longer live, or the window closed, by then).
 * A window already over when the commitment is made (an operator recording one after the fact) gets
 * no reminder at all.
 */
export function commitmentEntries(
  commitment: CommitmentForEntries,
  config: Pick<CoreConfig, "communityTimezone" | "reminderLeadMinutes">,
  now: Date,
): OutboxEntry[] {
  const lead = commitment.periodStart.getTime() - config.reminderLeadMinutes * 60_000;
  const dueAt = new Date(Math.max(lead, now.getTime()));
  const entries: OutboxEntry[] = [
    {
      kind: "mqtt",
      topic: committedTopic(commitment.userId),
      payload: committedMessage(commitment),
      commitmentId: commitment.id,
    },
    {
      kind: "nudge",
      event: commitmentEvent(commitment, COMMITTED_EVENT, config.communityTimezone, now),
      commitmentId: commitment.id,
    },
  ];
  if (commitment.periodEnd.getTime() <= now.getTime()) return entries;
  entries.push({
    kind: "nudge",
    event: reminderEvent(commitment, config.communityTimezone, dueAt),
    commitmentId: commitment.id,
    dueAt,
    requiresLive: true,
  });
  return entries;
}

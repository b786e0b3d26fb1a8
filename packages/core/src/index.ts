export * from "./authorize.ts";
export * from "./commitments/cancel-commitment.ts";
export * from "./commitments/create-commitment.ts";
export * from "./commitments/export-commitments.ts";
export * from "./commitments/list-commitments.ts";
export * from "./commitments/out.ts";
export * from "./commitments/settle-commitment.ts";
export * from "./commitments/take-pending-commitments.ts";
export * from "./config.ts";
export * from "./context.ts";
export type { Database, Db } from "./db/database.ts";
export * from "./db/schema.ts";
export * from "./errors.ts";
export * from "./listener/run-once.ts";
export * from "./log.ts";
export * from "./members/erase-member.ts";
export * from "./metrics.ts";
export * from "./opportunities/broadcast-opportunities.ts";
export * from "./opportunities/opportunity-window.ts";
export * from "./outbox/commitment-entries.ts";
export * from "./outbox/enqueue.ts";
export * from "./outbox/relay.ts";
export * from "./outbox/relay-loop.ts";
export * from "./outbox/wake.ts";
export * from "./platform/ports.ts";
export * from "./platform/unconfigured.ts";
export * from "./points/get-leaderboard.ts";
export * from "./points/get-my-points.ts";
export * from "./points/set-points-preferences.ts";
export * from "./reminders/reminder-event.ts";
export * from "./reminders/send-due-reminders.ts";
export * from "./reminders/send-reminder.ts";
export * from "./rounding.ts";
export * from "./schemas/index.ts";
export * from "./schemas/members.ts";
export * from "./schemas/points.ts";
export * from "./schemas/settlement.ts";
export * from "./schemas/suggestions.ts";
export * from "./settlement/get-settlement.ts";
export * from "./settlement/method.ts";
export * from "./settlement/settle-due-commitments.ts";
export {
  addDays,
  createZonedClock,
  daysBetween,
  isWeekend,
  type LocalDate,
  type ZonedClock,
} from "./settlement/zoned-clock.ts";
export * from "./suggestions/build-suggestions.ts";
export * from "./suggestions/community-time.ts";
export * from "./suggestions/dt-rows.ts";
export * from "./suggestions/labels.ts";
export * from "./suggestions/list-suggestions.ts";
export * from "./suggestions/offerable.ts";
export * from "./suggestions/rank.ts";
export * from "./suggestions/respond-to-suggestion.ts";
export * from "./time.ts";
export * from "./validate.ts";

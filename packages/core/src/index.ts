// @celine/core: the verbs every transport calls, the schemas they validate with, and the types a
// caller needs to build a Ctx. Tables, raw statements and database adapters are not here: they
// are `@celine/core/db`, which transports are not allowed to import.

// Calling a verb: who asks, what they may do, the configuration, the errors it throws.
export { type Action, authorize, refuse } from "./authorize.ts";
// The domains.
export {
  CalendarFeedParam,
  CalendarToken,
  createCalendarToken,
  getCalendarFeed,
} from "./calendar/index.ts";
export {
  CommitmentIdParam,
  CommitmentList,
  CommitmentOrigin,
  CommitmentOut,
  CommitmentStatus,
  CreateCommitmentInput,
  cancelCommitment,
  createCommitment,
  type ExportFormat,
  ExportQuery,
  type ExportResult,
  exportCommitments,
  ListCommitmentsQuery,
  listCommitments,
  OPERATOR_MAX_AGE_MS,
  OPERATOR_MAX_WINDOW_MS,
  PendingQuery,
  SettleCommitmentInput,
  SettlementOutcome,
  SuggestionType,
  settleCommitment,
  takePendingCommitments,
} from "./commitments/index.ts";
export {
  type Actor,
  type AuditRecord,
  type Authorizer,
  type CoreConfig,
  type Ctx,
  type Db,
  DEFAULT_CORE_CONFIG,
  type Decision,
  type PolicyInput,
} from "./context.ts";
// A driver failure that means the database is down or unreachable (transports answer 503).
export { databaseUnavailable } from "./db/errors.ts";
export {
  ConflictError,
  DomainError,
  type FieldIssue,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  UpstreamError,
  ValidationError,
} from "./errors.ts";
// Small helpers every package shares: one of each.
export { type Backoff, backoffDelay } from "./lib/backoff.ts";
export { messageOf } from "./lib/message-of.ts";
export { settlesWithin, TimeoutError, withTimeout } from "./lib/with-timeout.ts";
export { pruneProcessedRuns, type RunOnceOutcome, runOnce } from "./listener/index.ts";
export {
  createLogger,
  jsonSink,
  type LogFields,
  type Logger,
  type LogLevel,
  type LogRecord,
  type LogSink,
} from "./log.ts";
export { eraseMember, MemberErasure, MemberIdParam } from "./members/index.ts";
export { createMetrics, type Labels, type Metrics } from "./metrics.ts";
export {
  BROADCAST_HORIZON_HOURS,
  type BroadcastSummary,
  broadcastOpportunities,
  type CommunityOutcome,
} from "./opportunities/index.ts";
export {
  committedTopic,
  DEFAULT_BACKOFF,
  OUTBOX_CHANNEL,
  OUTBOX_DELIVERED,
  OUTBOX_DROPPED,
  OUTBOX_FAILED,
  OUTBOX_RELAY_ERRORS,
  OUTBOX_RETRIED,
  type OutboxRelay,
  type RelayOptions,
  type RelayRound,
  relayOutboxOnce,
  startOutboxRelay,
  WEBHOOK_BACKOFF,
  WEBHOOK_FAILING_MS,
} from "./outbox/index.ts";

// The platform's ports (implemented by @celine/platform).
export {
  type DigitalTwin,
  type DtAuth,
  type Membership,
  type NudgeEvent,
  type NudgeOutcome,
  type Nudging,
  type Platform,
  type Publisher,
  type RawRow,
  type Registry,
  type RegistryCommunity,
  type RegistryMember,
  unconfiguredPlatform,
  type WebhookRequest,
  type WebhookSender,
} from "./platform/index.ts";
export {
  getLeaderboard,
  getMyPoints,
  Leaderboard,
  LeaderboardEntry,
  MyPoints,
  PointsPreferences,
  Season,
  SettlementSummary,
  setPointsPreferences,
} from "./points/index.ts";
export {
  COMMITTED_EVENT,
  commitmentEvent,
  type DueReminders,
  REMINDER_EVENT,
  REMINDERS_FAILED,
  REMINDERS_SENT,
  reminderEvent,
  sendDueReminders,
} from "./reminders/index.ts";
// Schemas shared by every domain.
export { Instant, InstantInput, Problem, Uuid } from "./schemas/common.ts";
export {
  type BackfillMember,
  type BackfillSummary,
  backfillReadings,
  CandidateWhy,
  CommitmentProgress,
  DEFAULT_METHOD,
  describeMethod,
  getProgress,
  getSettlement,
  getSettlementMethod,
  LedgerEntryOut,
  METHOD_ID,
  type MethodOverrides,
  type MethodParse,
  PROGRESS_REFRESH_MS,
  PROGRESS_STALE,
  parseSettlementMethod,
  SettlementAdjustment,
  SettlementCap,
  SettlementExplanation,
  SettlementInterval,
  type SettlementMethod,
  SettlementMethodOut,
  SettlementMultipliers,
  type SettlementRunSummary,
  SettlementTotals,
  StoredSettlement,
  settleDueCommitments,
} from "./settlement/index.ts";
export {
  addDays,
  createZonedClock,
  daysBetween,
  formatHhmm,
  hourOf,
  isWeekend,
  type LocalDate,
  type LocalTime,
  toLocalTime,
  type ZonedClock,
  zonedClockOf,
} from "./settlement/zoned-clock.ts";
export {
  DAY_PERIODS,
  DayPeriod,
  dayPeriodOf,
  labelWindow,
  listSuggestions,
  RespondInput,
  RespondOut,
  respondToSuggestion,
  SUGGESTIONS_DEGRADED,
  SUGGESTIONS_SKIPPED_ROWS,
  SuggestionIdParam,
  SuggestionItem,
  SuggestionList,
  SuggestionTarget,
  type WindowLabels,
} from "./suggestions/index.ts";
export { SYSTEM_ACTOR, systemCtx } from "./system-ctx.ts";
// Time: instants on the wire, wall-clock time in the community's zone.
export { formatInstant, parseInstant } from "./time.ts";
export { validationErrorOf } from "./validate.ts";
export {
  CreateWebhookInput,
  createWebhook,
  deleteWebhook,
  forbiddenAddress,
  listWebhooks,
  MAX_WEBHOOKS,
  targetRefusal,
  testWebhook,
  WEBHOOK_EVENT_BODIES,
  WEBHOOK_TEST_EVENT,
  WebhookCreated,
  WebhookEventType,
  WebhookIdParam,
  WebhookList,
  WebhookOut,
  WebhookTestOut,
  WindowOpportunity,
} from "./webhooks/index.ts";

// @celine/core: the verbs every transport calls, the schemas they validate with, and the types a
// caller needs to build a Ctx. Tables, raw statements and database adapters are not here: they
// are `@celine/core/db`, which transports are not allowed to import. Each domain's index names what
// it offers; this file adds them up, so a name is listed once.

// The domains.
export * from "./calendar/index.ts";
export * from "./commitments/index.ts";
// Calling a verb: who asks, the configuration, the errors it throws.
export {
  type Actor,
  type Authorizer,
  type CoreConfig,
  type Ctx,
  type Db,
  DEFAULT_CORE_CONFIG,
  type PolicyInput,
} from "./context.ts";
// A driver failure that means the database is down or unreachable (transports answer 503).
export { databaseUnavailable } from "./db/errors.ts";
export {
  DomainError,
  ForbiddenError,
  UnauthorizedError,
  UpstreamError,
  ValidationError,
} from "./errors.ts";
// Small helpers every package shares: one of each.
export { backoffDelay } from "./lib/backoff.ts";
export { messageOf } from "./lib/message-of.ts";
export { settlesWithin, withTimeout } from "./lib/with-timeout.ts";
export * from "./listener/index.ts";
export { createLogger, jsonSink, type Logger, type LogRecord, type LogSink } from "./log.ts";
export * from "./members/index.ts";
export { createMetrics, type Metrics } from "./metrics.ts";
export * from "./opportunities/index.ts";
export * from "./outbox/index.ts";
// The platform's ports (implemented by @celine/platform).
export * from "./platform/index.ts";
export * from "./points/index.ts";
export * from "./reminders/index.ts";
// Schemas shared by every domain.
export { Problem } from "./schemas/common.ts";
export * from "./settlement/index.ts";
// Time: wall-clock time in the community's zone.
export {
  addDays,
  createZonedClock,
  formatHhmm,
  hourOf,
  isWeekend,
  toLocalTime,
  zonedClockOf,
} from "./settlement/zoned-clock.ts";
export * from "./suggestions/index.ts";
export { systemCtx } from "./system-ctx.ts";
export { parseInstant } from "./time.ts";
export { validationErrorOf } from "./validate.ts";
export * from "./webhooks/index.ts";

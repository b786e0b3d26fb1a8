// @celine/core/db: the tables, the raw statements tests and benches drive directly, and the database
// adapters entry points open. Transports never import this (biome.json forbids it): they call verbs.

// Raw statements and rows, for seeding and measuring without a verb.
export { listPageStatement } from "../commitments/list-commitments.ts";
export { type CommitmentForEntries, commitmentEntries } from "../outbox/commitment-entries.ts";
export { enqueue, type OutboxEntry, type OutboxRow, outboxRowsOf } from "../outbox/enqueue.ts";
export { wakeOutbox } from "../outbox/wake.ts";
// Adapters (drivers, migrations): for entry points and tests.
export type { Database, Db } from "./database.ts";
export { MIGRATIONS_FOLDER } from "./migrations.ts";
export { type OpenDatabaseOptions, openDatabase } from "./open.ts";
export { openPglite, type PgliteDatabase, type PgliteOptions } from "./pglite.ts";
export { connectPostgres, migratePostgres, type PostgresOptions } from "./postgres.ts";
// The tables (drizzle schema) and their row types.
export {
  broadcasts,
  COMMITMENT_ORIGINS,
  COMMITMENT_STATUSES,
  type CommitmentRow,
  calendarTokens,
  commitments,
  LEDGER_KINDS,
  meterChunks,
  type NewCommitmentRow,
  OUTBOX_KINDS,
  OUTBOX_STATUSES,
  offers,
  outbox,
  pointsLedger,
  preferences,
  processedRuns,
  SETTLEMENT_OUTCOMES,
  settlements,
  WEBHOOK_EVENTS,
  webhooks,
} from "./schema.ts";

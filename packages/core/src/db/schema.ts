import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  numeric,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

// Tables are unqualified: the connection's search_path is set to DB_SCHEMA, so the same
// migrations serve any schema name (and every test file can own a fresh schema).

export const COMMITMENT_STATUSES = ["committed", "settled", "rejected", "cancelled"] as const;
export const SETTLEMENT_OUTCOMES = [
  "delivered",
  "not_delivered",
  "no_baseline",
  "no_data",
  "no_device",
  "manual",
] as const;

const instant = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const commitments = pgTable(
  "flexibility_commitments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: text("user_id").notNull(),
    suggestionId: text("suggestion_id").notNull(),
    suggestionType: text("suggestion_type").notNull().default("shift-consumption"),
    communityId: text("community_id"),
    deviceId: text("device_id"),
    periodStart: instant("period_start").notNull(),
    periodEnd: instant("period_end").notNull(),
    committedAt: instant("committed_at").notNull().defaultNow(),
    settledAt: instant("settled_at"),
    remindedAt: instant("reminded_at"),
    status: text("status", { enum: COMMITMENT_STATUSES }).notNull().default("committed"),
    rewardPointsEstimated: integer("reward_points_estimated").notNull().default(0),
    rewardPointsActual: integer("reward_points_actual"),
    // kWh, exact decimals: numeric keeps what the meter said; JS sees strings until converted.
    actualKwh: numeric("actual_kwh"),
    baselineKwh: numeric("baseline_kwh"),
    baselineDays: integer("baseline_days"),
    deliveredKwh: numeric("delivered_kwh"),
    settlementOutcome: text("settlement_outcome", { enum: SETTLEMENT_OUTCOMES }),
    createdAt: instant("created_at").notNull().defaultNow(),
  },
  (t) => [
    check(
      "flexibility_commitments_status_check",
      sql`${t.status} in ('committed', 'settled', 'rejected', 'cancelled')`,
    ),
    check("flexibility_commitments_period_check", sql`${t.periodEnd} > ${t.periodStart}`),
    check(
      "flexibility_commitments_points_check",
      sql`${t.rewardPointsActual} is null or ${t.rewardPointsActual} >= 0`,
    ),
    check(
      "flexibility_commitments_outcome_check",
      sql`${t.settlementOutcome} is null or ${t.settlementOutcome} in ('delivered', 'not_delivered', 'no_baseline', 'no_data', 'no_device', 'manual')`,
    ),
    // At most one live commitment per member and window.
    uniqueIndex("flexibility_commitments_live_uq")
      .on(t.userId, t.suggestionId)
      .where(sql`${t.status} = 'committed'`),
    // GET /api/commitments: one member, optional status, newest first.
    index("flexibility_commitments_user_committed_idx").on(t.userId, t.committedAt.desc(), t.id.desc()),
    // Export: oldest first with a (created_at, id) keyset cursor.
    index("flexibility_commitments_created_idx").on(t.createdAt, t.id),
    // Pending reminders and settlement both scan live rows by window.
    index("flexibility_commitments_live_window_idx")
      .on(t.periodStart, t.periodEnd)
      .where(sql`${t.status} = 'committed'`),
  ],
);

export type CommitmentRow = typeof commitments.$inferSelect;
export type NewCommitmentRow = typeof commitments.$inferInsert;

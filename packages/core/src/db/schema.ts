import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
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
/** Who recorded a commitment: the member (respond, their own POST) or an operator on their behalf. */
export const COMMITMENT_ORIGINS = ["member", "operator"] as const;
export const LEDGER_KINDS = ["settlement", "restatement", "manual"] as const;

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
    /** The terms an automatic settlement applied (points per kWh, streak bonus in percent), shown to the member. */
    settlementPointsPerKwh: numeric("settlement_points_per_kwh", { mode: "number" }),
    settlementBonusPct: integer("settlement_bonus_pct"),
    createdAt: instant("created_at").notNull().defaultNow(),
    origin: text("origin", { enum: COMMITMENT_ORIGINS }).notNull().default("member"),
    /** When the member was first shown the window (the offer's time, else the commitment's): the same-day adjustment looks at the 2 h before it. */
    noticeAt: instant("notice_at"),
    /** 0 while live; 1 at the first settlement; +1 for every restatement. */
    settlementRevision: integer("settlement_revision").notNull().default(0),
    /** The uncapped points of the latest automatic settlement (the per-window cap averages these). */
    settlementRaw: doublePrecision("settlement_raw"),
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
    check("flexibility_commitments_origin_check", sql`${t.origin} in ('member', 'operator')`),
    check(
      "flexibility_commitments_outcome_check",
      sql`${t.settlementOutcome} is null or ${t.settlementOutcome} in ('delivered', 'not_delivered', 'no_baseline', 'no_data', 'no_device', 'manual')`,
    ),
    // At most one live commitment per member and window.
    uniqueIndex("flexibility_commitments_live_uq")
      .on(t.userId, t.suggestionId)
      .where(sql`${t.status} = 'committed'`),
    // GET /api/commitments: one member, optional status, newest first.
    index("flexibility_commitments_user_committed_idx").on(
      t.userId,
      t.committedAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    // Export: oldest first with a (created_at, id) keyset cursor.
    index("flexibility_commitments_created_idx").on(t.createdAt, t.id),
    // Pending reminders and settlement both scan live rows by window.
    index("flexibility_commitments_live_window_idx")
      .on(t.periodStart, t.periodEnd)
      .where(sql`${t.status} = 'committed'`),
    // Streaks and points read a member's settled rows in window order; the leaderboard a community's season.
    index("flexibility_commitments_settled_user_idx")
      .on(t.userId, t.periodStart)
      .where(sql`${t.status} = 'settled'`),
    index("flexibility_commitments_settled_community_idx")
      .on(t.communityId, t.periodStart)
      .where(sql`${t.status} = 'settled'`),
  ],
);

export type CommitmentRow = typeof commitments.$inferSelect;
export type NewCommitmentRow = typeof commitments.$inferInsert;

/**
 * What we offered to whom (GET /api/suggestions): an accept is checked against this, so the
 * window's bounds and estimate come from us, not from the client.
 */
export const offers = pgTable(
  "flexibility_offers",
  {
    userId: text("user_id").notNull(),
    windowId: text("window_id").notNull(),
    communityId: text("community_id"),
    deviceId: text("device_id"),
    periodStart: instant("period_start").notNull(),
    periodEnd: instant("period_end").notNull(),
    rewardPoints: integer("reward_points"),
    impactKwh: numeric("impact_kwh"),
    communityKwh: numeric("community_kwh"),
    offeredAt: instant("offered_at").notNull().defaultNow(),
    /** The first time this window was shown to this member; never moved by a later listing. */
    firstOfferedAt: instant("first_offered_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.windowId] })],
);

export const OUTBOX_KINDS = ["mqtt", "nudge", "webhook"] as const;
export const OUTBOX_STATUSES = ["pending", "delivered", "failed", "dropped"] as const;

/**
 * Side effects written in the same transaction as the state change that causes them, delivered
 * at least once by the relay. `due_at` holds an entry back (reminders); `commitment_id` lets the
 * relay keep per-commitment order and drop entries whose commitment is no longer live.
 */
export const outbox = pgTable(
  "flexibility_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    kind: text("kind", { enum: OUTBOX_KINDS }).notNull(),
    /** MQTT topic (without prefix) or nudging event type. */
    target: text("target").notNull(),
    payload: jsonb("payload").notNull(),
    commitmentId: uuid("commitment_id"),
    /** Deliver only while the commitment is live (reminders). */
    requiresLive: boolean("requires_live").notNull().default(false),
    dueAt: instant("due_at").notNull().defaultNow(),
    nextAttemptAt: instant("next_attempt_at").notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    status: text("status", { enum: OUTBOX_STATUSES }).notNull().default("pending"),
    lastError: text("last_error"),
    createdAt: instant("created_at").notNull().defaultNow(),
    deliveredAt: instant("delivered_at"),
  },
  (t) => [
    check("flexibility_outbox_kind_check", sql`${t.kind} in ('mqtt', 'nudge', 'webhook')`),
    check(
      "flexibility_outbox_status_check",
      sql`${t.status} in ('pending', 'delivered', 'failed', 'dropped')`,
    ),
    index("flexibility_outbox_pending_idx").on(t.nextAttemptAt, t.id).where(sql`${t.status} = 'pending'`),
    index("flexibility_outbox_commitment_idx").on(t.commitmentId, t.id),
  ],
);

/** Pipeline runs already handled by the listener (a redelivered event has no second effect). */
export const processedRuns = pgTable("flexibility_processed_runs", {
  runId: text("run_id").primaryKey(),
  flow: text("flow").notNull(),
  processedAt: instant("processed_at").notNull().defaultNow(),
});

/** Opportunity windows already announced to a community (a forecast rerun sends nothing new). */
export const broadcasts = pgTable(
  "flexibility_broadcasts",
  {
    communityId: text("community_id").notNull(),
    windowStart: instant("window_start").notNull(),
    windowEnd: instant("window_end").notNull(),
    estimatedKwh: numeric("estimated_kwh").notNull(),
    members: integer("members").notNull().default(0),
    sentAt: instant("sent_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.communityId, t.windowStart] })],
);

/** Member preferences for the points features. */
export const preferences = pgTable("flexibility_preferences", {
  userId: text("user_id").primaryKey(),
  leaderboardVisible: boolean("leaderboard_visible").notNull().default(true),
  updatedAt: instant("updated_at").notNull().defaultNow(),
});

/**
 * Metered consumption kept for baselines (retention 100 days). One row per fetch unit of the
 * Digital Twin: `slots` consecutive reading intervals from `chunk_start`, as whole µkWh, null where
 * no reading came. A chunk older than the restatement horizon when it was fetched is `final` and
 * never fetched again; younger ones are fetched again by every settlement run.
 */
export const meterChunks = pgTable(
  "flexibility_meter_chunks",
  {
    deviceId: text("device_id").notNull(),
    chunkStart: instant("chunk_start").notNull(),
    /** The member the device belongs to (erased with their data). */
    userId: text("user_id").notNull(),
    intervalSeconds: integer("interval_seconds").notNull(),
    microKwh: bigint("micro_kwh", { mode: "number" }).array().notNull(),
    fetchedAt: instant("fetched_at").notNull(),
    final: boolean("final").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.chunkStart] }),
    index("flexibility_meter_chunks_start_idx").on(t.chunkStart),
    index("flexibility_meter_chunks_user_idx").on(t.userId),
  ],
);

/**
 * Append-only points ledger: a commitment's `reward_points_actual` is the sum of its entries, a
 * member's total the sum of theirs. `revision` matches the commitment's settlement_revision.
 */
export const pointsLedger = pgTable(
  "flexibility_points_ledger",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    commitmentId: uuid("commitment_id").notNull(),
    userId: text("user_id").notNull(),
    communityId: text("community_id"),
    kind: text("kind", { enum: LEDGER_KINDS }).notNull(),
    /** Points added by this entry (a restatement's delta may be negative). */
    points: integer("points").notNull(),
    revision: integer("revision").notNull(),
    createdAt: instant("created_at").notNull().defaultNow(),
  },
  (t) => [
    check("flexibility_points_ledger_kind_check", sql`${t.kind} in ('settlement', 'restatement', 'manual')`),
    uniqueIndex("flexibility_points_ledger_revision_uq").on(t.commitmentId, t.revision),
    index("flexibility_points_ledger_user_idx").on(t.userId, t.createdAt),
  ],
);

/** What each settlement of a commitment computed, stored as it was computed (never recomputed). */
export const settlements = pgTable(
  "flexibility_settlements",
  {
    commitmentId: uuid("commitment_id").notNull(),
    revision: integer("revision").notNull(),
    method: text("method").notNull(),
    outcome: text("outcome", { enum: SETTLEMENT_OUTCOMES }).notNull(),
    points: integer("points").notNull(),
    explanation: jsonb("explanation").notNull(),
    /** A digest of the readings and forecast counts judged: a restatement re-judges only when it changed. */
    inputs: text("inputs"),
    createdAt: instant("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.commitmentId, t.revision] })],
);

/**
 * A member's calendar feed: the SHA-256 of the 256-bit secret in its URL (the secret itself is never
 * stored). One per member: a new token replaces the old, which stops working at once.
 */
export const calendarTokens = pgTable(
  "flexibility_calendar_tokens",
  {
    userId: text("user_id").primaryKey(),
    tokenHash: text("token_hash").notNull(),
    createdAt: instant("created_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("flexibility_calendar_tokens_hash_uq").on(t.tokenHash)],
);

export const WEBHOOK_EVENTS = [
  "commitment.created",
  "commitment.cancelled",
  "commitment.settled",
  "commitment.restated",
  "window.opportunity",
] as const;

/**
 * Where integrators want events pushed (Standard Webhooks): a member's own subscription (`user_id`),
 * or a service's for a whole community (`community_id`, flexibility.admin). Disabled with its reason
 * after 24 h of failed deliveries; deliveries are outbox entries (kind `webhook`, target = this id).
 */
export const webhooks = pgTable(
  "flexibility_webhooks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** The member who owns it; null for a service's community subscription. */
    userId: text("user_id"),
    /** The community a service subscribed to; null for a member's own. */
    communityId: text("community_id"),
    /** Who created it (the member's sub, or the service's sub: a service lists and deletes only its own). */
    createdBy: text("created_by").notNull(),
    url: text("url").notNull(),
    /** The signing secret (`whsec_…`, base64): shown once at creation. */
    secret: text("secret").notNull(),
    events: text("events").array().notNull(),
    createdAt: instant("created_at").notNull().defaultNow(),
    disabledAt: instant("disabled_at"),
    disabledReason: text("disabled_reason"),
    /**
     * When the current run of failed deliveries began (the first failure after a success); null while
     * deliveries succeed. A failure 24 h or more after it disables the subscription.
     */
    failingSince: instant("failing_since"),
  },
  (t) => [
    check("flexibility_webhooks_owner_check", sql`(${t.userId} is null) <> (${t.communityId} is null)`),
    index("flexibility_webhooks_user_idx").on(t.userId),
    index("flexibility_webhooks_community_idx").on(t.communityId),
  ],
);

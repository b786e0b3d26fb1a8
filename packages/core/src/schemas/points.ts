import { z } from "zod";
import { SettlementOutcome } from "./commitments.ts";
import { Count, Instant, Uuid } from "./common.ts";

export const Season = z
  .object({
    start: Instant.meta({ description: "First instant of the season (community-local midnight), inclusive" }),
    end: Instant.meta({ description: "First instant of the next season, exclusive" }),
  })
  .meta({ id: "Season" });

export const SettlementSummary = z
  .object({
    commitment_id: Uuid,
    period_start: Instant,
    period_end: Instant,
    actual_kwh: z.number().nullable().meta({ description: "Metered consumption in the window, kWh" }),
    baseline_kwh: z.number().nullable().meta({
      description: "The member's usual consumption in the same clock window, kWh; null without one",
    }),
    delivered_kwh: z.number().nullable().meta({ description: "max(0, actual − baseline), kWh" }),
    points_per_kwh: z
      .number()
      .nullable()
      .meta({ description: "Points per shifted kWh; null for a settlement made by hand" }),
    bonus: z
      .number()
      .nullable()
      .meta({ description: "Streak bonus as a fraction (0.15 = +15 %); null for a settlement made by hand" }),
    points: z.number().int(),
    outcome: SettlementOutcome.nullable(),
  })
  .meta({ id: "SettlementSummary" });
export type SettlementSummary = z.infer<typeof SettlementSummary>;

export const MyPoints = z
  .object({
    total_points: Count.meta({ description: "The sum of your points ledger, all seasons" }),
    season: Season.extend({ points: Count.meta({ description: "Points of windows in this season" }) }),
    level: z.number().int().min(1).meta({ description: "1 + floor(total_points / 100)" }),
    next_level_at: Count.meta({ description: "level × 100: the total at which the next level starts" }),
    streak: z.object({
      current: Count.meta({
        description:
          "The weekly streak level in force this week: +1 for a week with a delivered window, −1 for a week without (never below half the best), up to 10",
      }),
      best: Count.meta({ description: "The highest level reached" }),
      multiplier: z
        .number()
        .meta({ description: "min(1 + 0.05 × current, 1.5): what this week's windows are multiplied by" }),
    }),
    counts: z.object({
      committed: Count.meta({ description: "Live commitments" }),
      settled: Count,
      fulfilled: Count.meta({ description: "Settled as delivered (the window qualified)" }),
      cancelled: Count,
      rejected: Count,
    }),
    fulfilment_rate: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .meta({ description: "fulfilled ÷ settled (4 decimals); null while nothing is settled" }),
    recent_settlements: z.array(SettlementSummary).meta({ description: "The last 10, newest first" }),
  })
  .meta({ id: "MyPoints" });
export type MyPoints = z.infer<typeof MyPoints>;

export const LeaderboardEntry = z
  .object({
    rank: z
      .number()
      .int()
      .min(1)
      .meta({ description: "Equal points share a rank; the next rank skips (1, 1, 3)" }),
    points: Count,
    is_me: z.boolean(),
  })
  .meta({ id: "LeaderboardEntry" });

export const Leaderboard = z
  .object({
    community_id: z.string(),
    season: Season,
    entries: z.array(LeaderboardEntry).meta({ description: "The top 10, anonymous" }),
    me: z.object({
      rank: z
        .number()
        .int()
        .min(1)
        .nullable()
        .meta({ description: "Null when you are hidden from the board" }),
      points: Count,
      percentile: z.number().int().min(0).max(100).nullable().meta({
        description:
          "Percentile rank: 100 × (members below you + half of those level with you, you included) ÷ members; null when hidden",
      }),
    }),
  })
  .meta({ id: "Leaderboard" });
export type Leaderboard = z.infer<typeof Leaderboard>;

export const PointsPreferences = z
  .object({
    leaderboard_visible: z
      .boolean()
      .meta({ description: "false removes you from every member's leaderboard; true puts you back" }),
  })
  .meta({ id: "PointsPreferences" });
export type PointsPreferences = z.infer<typeof PointsPreferences>;

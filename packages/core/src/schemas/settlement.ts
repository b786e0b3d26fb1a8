import { z } from "zod";
import { LEDGER_KINDS } from "../db/schema.ts";
import { SettlementOutcome } from "./commitments.ts";
import { Count, Instant, Kwh, Uuid } from "./common.ts";

// How a commitment's points came about, and the method behind every settlement. Energy in kWh
// (exact decimals of whole µkWh), power in kW, fractions as plain numbers (0.25 = 25 %).

export const SettlementMethodOut = z
  .object({
    id: z.string().meta({ example: "reference-high-4-of-7/v1" }),
    time_zone: z
      .string()
      .meta({ description: "Community time: local days, clock intervals, weeks, seasons" }),
    reading_interval_minutes: z.number().int(),
    season: z.object({ anchor_date: z.string(), months_per_season: z.number().int() }),
    baseline: z.object({
      lookback_days: z
        .number()
        .int()
        .meta({ description: "Earlier same-type days (Mon–Fri or Sat–Sun) in the pool" }),
      winsorize_pct: z.number().meta({
        description: "With ≥ 4 pool values, values below this quantile or above 1 − it are dropped",
      }),
      candidate_days: z
        .number()
        .int()
        .meta({ description: "The most recent pool values kept as candidates" }),
      select_days: z.number().int().meta({ description: "The highest candidates averaged" }),
      min_candidates: z
        .number()
        .int()
        .meta({ description: "Fewer candidates in any interval → no baseline" }),
    }),
    adjustment: z.object({
      enabled: z.boolean(),
      direction: z.enum(["upward_only", "bidirectional"]),
      max_cap_fraction: z.number(),
      window_hours: z.number(),
      earliest_notice_local: z
        .string()
        .meta({ description: "Notice on the window's day at or after this local time" }),
    }),
    points: z.object({
      rate_per_kwh: z.number(),
      min_shift_kw: z.number(),
      min_shift_fraction: z.number(),
      effort_tiers: z.array(z.object({ min_fraction: z.number(), multiplier: z.number() })),
      accuracy_floor: z.number(),
      event_multiplier: z.number(),
      no_baseline_factor: z.number(),
    }),
    streak: z.object({
      increment: z.number(),
      max_multiplier: z.number(),
      max_level: z.number().int(),
      decay_per_week: z.number().int(),
      floor_fraction: z.number(),
    }),
    cap: z.object({ multiplier: z.number(), min_windows: z.number().int(), lookback_days: z.number().int() }),
    restatement_days: z.number().int(),
  })
  .meta({ id: "SettlementMethod", description: "The effective settlement configuration" });
export type SettlementMethodOut = z.infer<typeof SettlementMethodOut>;

export const CandidateWhy = z
  .enum(["selected", "not_highest", "older", "below_p5", "above_p95", "event_day"])
  .meta({
    description:
      "selected: averaged into the baseline; not_highest: a candidate below the highest ones; older: not among the most recent candidates; below_p5 / above_p95: winsorised away; event_day: the member held a commitment then",
  });

export const SettlementInterval = z.object({
  start: Instant,
  end: Instant,
  actual_kwh: Kwh.nullable().meta({ description: "Metered; null when no reading came" }),
  baseline_kwh: Kwh.nullable().meta({ description: "Reference baseline; null with too few candidates" }),
  adjusted_kwh: Kwh.nullable().meta({ description: "Baseline after the same-day adjustment" }),
  candidates: z.array(
    z.object({
      date: z.string().meta({ description: "Community-local date" }),
      kwh: Kwh,
      used: z.boolean(),
      why: CandidateWhy,
    }),
  ),
});

export const SettlementAdjustment = z.object({
  notice_at: Instant.meta({ description: "When the member was first shown the window" }),
  applies: z
    .boolean()
    .meta({ description: "Notice on the window's local day, at or after the earliest notice time" }),
  intervals: z.array(z.object({ start: Instant, actual_kwh: Kwh.nullable(), baseline_kwh: Kwh.nullable() })),
  actual_kwh: Kwh.nullable(),
  baseline_kwh: Kwh.nullable(),
  per_interval_kwh: Kwh.meta({ description: "A: the correction per interval before each interval's cap" }),
});

export const SettlementTotals = z.object({
  actual_kwh: Kwh,
  baseline_kwh: Kwh,
  adjusted_baseline_kwh: Kwh,
  shifted_kwh: Kwh.meta({ description: "max(0, actual − adjusted baseline)" }),
  shift_fraction: z.number().meta({ description: "shifted ÷ adjusted baseline" }),
  average_shift_kw: z.number().meta({ description: "shifted ÷ window hours" }),
  qualifies: z.boolean(),
  intervals_counted: Count.meta({ description: "Intervals with a reading (the totals' terms)" }),
  intervals_missing: Count,
});

export const SettlementMultipliers = z.object({
  effort: z.number(),
  event: z.number(),
  accuracy: z.number(),
  streak: z.number(),
});

export const SettlementCap = z.object({
  kind: z.enum(["device", "community", "none"]),
  value: z.number().nullable(),
  windows: Count.meta({ description: "Qualifying windows the cap was computed from" }),
});

export const LedgerEntryOut = z.object({
  kind: z.enum(LEDGER_KINDS),
  points: z
    .number()
    .int()
    .meta({ description: "Points this entry added (a restatement's delta may be negative)" }),
  revision: z.number().int(),
  at: Instant,
});

/** What settlement stored for one revision (the explanation without the ledger). */
export const StoredSettlement = z.object({
  revision: z.number().int().min(1),
  settled_at: Instant,
  method: z.string(),
  outcome: SettlementOutcome,
  points: z.number().int().min(0),
  reason: z.string().meta({ description: "One sentence on why the outcome is what it is" }),
  config: SettlementMethodOut.nullable().meta({
    description: "The configuration used; null for a settlement by hand",
  }),
  window: z.object({
    start: Instant,
    end: Instant,
    hours: z.number(),
    local_date: z.string(),
    interval_minutes: z.number().int(),
  }),
  intervals: z.array(SettlementInterval),
  adjustment: SettlementAdjustment.nullable(),
  totals: SettlementTotals.nullable(),
  multipliers: SettlementMultipliers.nullable(),
  accuracy: z
    .object({ known: z.boolean(), intervals: Count, surplus_intervals: Count })
    .nullable()
    .meta({ description: "Measured forecast intervals in the window and how many had a surplus" }),
  streak: z
    .object({
      level: Count,
      best: Count,
      week: z.string().meta({ description: "Monday of the window's ISO week" }),
    })
    .nullable(),
  raw: z
    .number()
    .nullable()
    .meta({ description: "shifted × rate × effort × event × accuracy × streak, before the cap" }),
  cap: SettlementCap.nullable(),
});
export type StoredSettlement = z.infer<typeof StoredSettlement>;

export const SettlementExplanation = StoredSettlement.extend({
  commitment_id: Uuid,
  reward_points_actual: z.number().int().meta({ description: "The sum of the ledger's entries" }),
  ledger: z.array(LedgerEntryOut),
}).meta({ id: "SettlementExplanation" });
export type SettlementExplanation = z.infer<typeof SettlementExplanation>;

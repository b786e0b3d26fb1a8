import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { messageOf } from "../lib/message-of.ts";
import type { SettlementMethodOut } from "../schemas/settlement.ts";

// The settlement method's parameters, read from the flexibility YAML in the platform pipeline's own
// format (celine-pipelines apps/rec_flexibility/flexibility_config.yaml): the same sections and keys,
// so one file tunes both. Keys we do not use are accepted as they are (UNUSED_KEYS lists them);
// a key we use with an invalid value refuses start-up, named by its path.

/** The method's id, stored with every settlement it computed. */
export const METHOD_ID = "reference-high-4-of-7/v1";

/** Fixed parts of the method (not in the pipeline's YAML). */
export const METHOD_CONSTANTS = {
  /** A baseline exists only when every interval of the window has at least this many candidates. */
  minCandidates: 3,
  /** The per-window cap looks at qualifying windows settled in this many days before the window. */
  capLookbackDays: 30,
  /** Settlements younger than this are re-evaluated by every run; older readings are final. */
  restatementDays: 7,
  /** Stored meter readings are kept this long. */
  readingRetentionDays: 100,
  /** Notice before this local time of the window's day is "not the same day" (no adjustment). */
  adjustmentEarliestNoticeMinutes: 120,
  /** Points without a baseline: actual kWh × rate × this, at most the estimate. */
  noBaselineFactor: 0.5,
  /** `event` multiplier: one tier for every window today, as the pipeline's bonus model. */
  eventMultiplier: 1,
} as const;

const fraction = z.number().min(0).max(1);
const positive = z.number().positive();
const nonNegative = z.number().min(0);
const wholeAtLeast = (min: number) => z.number().int().min(min);

const Tier = z.looseObject({ shift_pct_min: nonNegative, multiplier: nonNegative });

/** The pipeline's YAML; `looseObject` keeps every key we do not read. */
const FlexibilityYaml = z.looseObject({
  season: z.looseObject({
    anchor_date: z.union([
      z.iso.date(),
      // YAML reads an unquoted 2025-09-01 as a timestamp.
      z.date().transform((d) => d.toISOString().slice(0, 10)),
    ]),
    months_per_season: wholeAtLeast(1).max(120),
  }),
  baseline: z.looseObject({
    candidate_days: wholeAtLeast(1).max(366),
    select_days: wholeAtLeast(1).max(366),
    same_day_adjustment: z.looseObject({
      enabled: z.boolean(),
      direction: z.enum(["upward_only", "bidirectional"]),
      max_cap_fraction: nonNegative.max(10),
      window_hours: positive.max(24),
    }),
    bonus_reference: z.looseObject({
      method: z.literal("high_4_of_7").optional(),
      lookback_days: wholeAtLeast(1).max(366),
      winsorize_pct: z.number().min(0).lt(0.5),
    }),
  }),
  flexibility_bonus: z.looseObject({
    bonus_rate_points_per_kwh: nonNegative.max(1_000_000),
    min_shift_kw: nonNegative,
    min_shift_fraction: nonNegative,
    forecast_accuracy: z.looseObject({ floor: fraction }),
    shift_effort_tiers: z.array(Tier).min(1),
    streak: z.looseObject({
      increment_per_response: positive.max(1),
      max_multiplier: z.number().min(1).max(100),
      decay_period: z.literal("weekly"),
      decay_per_period: wholeAtLeast(0),
      floor_fraction: fraction,
    }),
  }),
  anti_gaming: z.looseObject({
    per_window_bonus_cap_multiplier: positive,
    min_windows_for_device_cap: wholeAtLeast(1),
  }),
});

/** The effective method: what settlement, targets and `GET /api/settlement/method` use. */
export type SettlementMethod = {
  id: string;
  season: { anchorDate: string; monthsPerSeason: number };
  baseline: {
    lookbackDays: number;
    winsorizePct: number;
    candidateDays: number;
    selectDays: number;
    minCandidates: number;
  };
  adjustment: {
    enabled: boolean;
    direction: "upward_only" | "bidirectional";
    maxCapFraction: number;
    windowHours: number;
    earliestNoticeMinutes: number;
  };
  points: {
    /** Points per shifted kWh (`POINTS_PER_KWH` overrides the YAML). */
    ratePerKwh: number;
    minShiftKw: number;
    minShiftFraction: number;
    /** Ascending by `minFraction`; the last tier reached applies. */
    effortTiers: { minFraction: number; multiplier: number }[];
    accuracyFloor: number;
    eventMultiplier: number;
    noBaselineFactor: number;
  };
  streak: {
    increment: number;
    maxMultiplier: number;
    /** (max_multiplier − 1) / increment, rounded down: the level at which the multiplier tops out. */
    maxLevel: number;
    decayPerWeek: number;
    floorFraction: number;
  };
  cap: { multiplier: number; minWindows: number; lookbackDays: number };
  restatementDays: number;
  readingRetentionDays: number;
};

/** Keys of the pipeline's file that this service reads. Everything else is accepted and ignored. */
export const USED_KEYS = [
  "season.anchor_date",
  "season.months_per_season",
  "baseline.candidate_days",
  "baseline.select_days",
  "baseline.same_day_adjustment.enabled",
  "baseline.same_day_adjustment.direction",
  "baseline.same_day_adjustment.max_cap_fraction",
  "baseline.same_day_adjustment.window_hours",
  "baseline.bonus_reference.method",
  "baseline.bonus_reference.lookback_days",
  "baseline.bonus_reference.winsorize_pct",
  "flexibility_bonus.bonus_rate_points_per_kwh",
  "flexibility_bonus.min_shift_kw",
  "flexibility_bonus.min_shift_fraction",
  "flexibility_bonus.forecast_accuracy.floor",
  "flexibility_bonus.shift_effort_tiers",
  "flexibility_bonus.streak.increment_per_response",
  "flexibility_bonus.streak.max_multiplier",
  "flexibility_bonus.streak.decay_period",
  "flexibility_bonus.streak.decay_per_period",
  "flexibility_bonus.streak.floor_fraction",
  "anti_gaming.per_window_bonus_cap_multiplier",
  "anti_gaming.min_windows_for_device_cap",
] as const;

export type MethodOverrides = { pointsPerKwh?: number | undefined };

export type MethodParse = { ok: true; method: SettlementMethod } | { ok: false; problems: string[] };

/** The YAML text → the effective method, or every problem named by its key path. */
export function parseSettlementMethod(text: string, overrides: MethodOverrides = {}): MethodParse {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    return { ok: false, problems: [`not YAML: ${messageOf(error)}`] };
  }
  const parsed = FlexibilityYaml.safeParse(document);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map(
        (issue) => `${issue.path.join(".") || "(document)"}: ${issue.message}`,
      ),
    };
  }
  const y = parsed.data;
  const problems: string[] = [];
  if (y.baseline.select_days > y.baseline.candidate_days) {
    problems.push("baseline.select_days: must not exceed baseline.candidate_days");
  }
  const tiers = [...y.flexibility_bonus.shift_effort_tiers]
    .map((t) => ({ minFraction: t.shift_pct_min, multiplier: t.multiplier }))
    .sort((a, b) => a.minFraction - b.minFraction);
  if (new Set(tiers.map((t) => t.minFraction)).size !== tiers.length) {
    problems.push("flexibility_bonus.shift_effort_tiers: two tiers share a shift_pct_min");
  }
  if (problems.length > 0) return { ok: false, problems };
  const streak = y.flexibility_bonus.streak;
  return {
    ok: true,
    method: {
      id: METHOD_ID,
      season: { anchorDate: y.season.anchor_date, monthsPerSeason: y.season.months_per_season },
      baseline: {
        lookbackDays: y.baseline.bonus_reference.lookback_days,
        winsorizePct: y.baseline.bonus_reference.winsorize_pct,
        candidateDays: y.baseline.candidate_days,
        selectDays: y.baseline.select_days,
        minCandidates: METHOD_CONSTANTS.minCandidates,
      },
      adjustment: {
        enabled: y.baseline.same_day_adjustment.enabled,
        direction: y.baseline.same_day_adjustment.direction,
        maxCapFraction: y.baseline.same_day_adjustment.max_cap_fraction,
        windowHours: y.baseline.same_day_adjustment.window_hours,
        earliestNoticeMinutes: METHOD_CONSTANTS.adjustmentEarliestNoticeMinutes,
      },
      points: {
        ratePerKwh: overrides.pointsPerKwh ?? y.flexibility_bonus.bonus_rate_points_per_kwh,
        minShiftKw: y.flexibility_bonus.min_shift_kw,
        minShiftFraction: y.flexibility_bonus.min_shift_fraction,
        effortTiers: tiers,
        accuracyFloor: y.flexibility_bonus.forecast_accuracy.floor,
        eventMultiplier: METHOD_CONSTANTS.eventMultiplier,
        noBaselineFactor: METHOD_CONSTANTS.noBaselineFactor,
      },
      streak: {
        increment: streak.increment_per_response,
        maxMultiplier: streak.max_multiplier,
        // A small epsilon: (1.5 − 1) / 0.05 is 9.999999999999998 in binary floating point.
        maxLevel: Math.floor((streak.max_multiplier - 1) / streak.increment_per_response + 1e-9),
        decayPerWeek: streak.decay_per_period,
        floorFraction: streak.floor_fraction,
      },
      cap: {
        multiplier: y.anti_gaming.per_window_bonus_cap_multiplier,
        minWindows: y.anti_gaming.min_windows_for_device_cap,
        lookbackDays: METHOD_CONSTANTS.capLookbackDays,
      },
      restatementDays: METHOD_CONSTANTS.restatementDays,
      readingRetentionDays: METHOD_CONSTANTS.readingRetentionDays,
    },
  };
}

/** The method as `GET /api/settlement/method` and every stored settlement show it. */
export function describeMethod(
  method: SettlementMethod,
  { timeZone, intervalMs }: { timeZone: string; intervalMs: number },
): SettlementMethodOut {
  const notice = method.adjustment.earliestNoticeMinutes;
  return {
    id: method.id,
    time_zone: timeZone,
    reading_interval_minutes: intervalMs / 60_000,
    season: { anchor_date: method.season.anchorDate, months_per_season: method.season.monthsPerSeason },
    baseline: {
      lookback_days: method.baseline.lookbackDays,
      winsorize_pct: method.baseline.winsorizePct,
      candidate_days: method.baseline.candidateDays,
      select_days: method.baseline.selectDays,
      min_candidates: method.baseline.minCandidates,
    },
    adjustment: {
      enabled: method.adjustment.enabled,
      direction: method.adjustment.direction,
      max_cap_fraction: method.adjustment.maxCapFraction,
      window_hours: method.adjustment.windowHours,
      earliest_notice_local: `${String(Math.floor(notice / 60)).padStart(2, "0")}:${String(notice % 60).padStart(2, "0")}`,
    },
    points: {
      rate_per_kwh: method.points.ratePerKwh,
      min_shift_kw: method.points.minShiftKw,
      min_shift_fraction: method.points.minShiftFraction,
      effort_tiers: method.points.effortTiers.map((t) => ({
        min_fraction: t.minFraction,
        multiplier: t.multiplier,
      })),
      accuracy_floor: method.points.accuracyFloor,
      event_multiplier: method.points.eventMultiplier,
      no_baseline_factor: method.points.noBaselineFactor,
    },
    streak: {
      increment: method.streak.increment,
      max_multiplier: method.streak.maxMultiplier,
      max_level: method.streak.maxLevel,
      decay_per_week: method.streak.decayPerWeek,
      floor_fraction: method.streak.floorFraction,
    },
    cap: {
      multiplier: method.cap.multiplier,
      min_windows: method.cap.minWindows,
      lookback_days: method.cap.lookbackDays,
    },
    restatement_days: method.restatementDays,
  };
}

/** The method of config/flexibility.yaml as shipped (a test keeps the two equal): for tests and the dev stack. */
export const DEFAULT_METHOD: SettlementMethod = {
  id: METHOD_ID,
  season: { anchorDate: "2025-09-01", monthsPerSeason: 2 },
  baseline: { lookbackDays: 90, winsorizePct: 0.05, candidateDays: 7, selectDays: 4, minCandidates: 3 },
  adjustment: {
    enabled: true,
    direction: "upward_only",
    maxCapFraction: 0.2,
    windowHours: 2,
    earliestNoticeMinutes: METHOD_CONSTANTS.adjustmentEarliestNoticeMinutes,
  },
  points: {
    ratePerKwh: 15,
    minShiftKw: 0.05,
    minShiftFraction: 0.05,
    effortTiers: [
      { minFraction: 0.05, multiplier: 1 },
      { minFraction: 0.25, multiplier: 1.5 },
      { minFraction: 0.5, multiplier: 2 },
      { minFraction: 1, multiplier: 2.5 },
    ],
    accuracyFloor: 0.5,
    eventMultiplier: METHOD_CONSTANTS.eventMultiplier,
    noBaselineFactor: METHOD_CONSTANTS.noBaselineFactor,
  },
  streak: { increment: 0.05, maxMultiplier: 1.5, maxLevel: 10, decayPerWeek: 1, floorFraction: 0.5 },
  cap: { multiplier: 2, minWindows: 5, lookbackDays: METHOD_CONSTANTS.capLookbackDays },
  restatementDays: METHOD_CONSTANTS.restatementDays,
  readingRetentionDays: METHOD_CONSTANTS.readingRetentionDays,
};

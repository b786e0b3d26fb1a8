import { z } from "zod";
import { SuggestionType } from "./commitments.ts";
import { Instant, Uuid } from "./common.ts";

// GET /api/suggestions and POST /api/suggestions/{id}/respond (PLATFORM §1: keys and enum values
// are kept byte for byte; the generated clients validate them strictly).

export const DAY_PERIODS = [
  "night",
  "early_morning",
  "morning",
  "late_morning",
  "midday",
  "afternoon",
  "evening",
] as const;
export const DayPeriod = z.enum(DAY_PERIODS).meta({
  description:
    "i18n key of a community-local hour: night <5, early_morning <8, morning <11, late_morning <12, midday <14, afternoon <17, evening <21, else night",
});
export type DayPeriod = z.infer<typeof DayPeriod>;

export const SuggestionTarget = z
  .object({
    baseline_kwh: z.number().meta({
      description:
        "The window's reference baseline computed now from the readings we hold, as settlement computes it (same-day adjustment aside): Σ over its reading intervals (kWh)",
      example: 1.5,
    }),
    qualifying_kwh: z.number().meta({
      description:
        "The least consumption over the window that earns points: baseline + max(min_shift_fraction × baseline, min_shift_kw × window hours) (kWh)",
      example: 1.65,
    }),
    points_per_extra_kwh: z.number().meta({
      description:
        "Points per kWh above the baseline at the lowest effort tier: rate × tier × event × streak multiplier (a larger shift earns a higher tier; a forecast that proved wrong and the per-window cap earn less)",
      example: 15.75,
    }),
    streak_multiplier: z
      .number()
      .meta({ description: "The member's weekly streak multiplier in force this week", example: 1.05 }),
  })
  .meta({
    id: "SuggestionTarget",
    description: "What the window asks of the member and pays; null when they have no baseline yet",
  });
export type SuggestionTarget = z.infer<typeof SuggestionTarget>;

export const SuggestionItem = z
  .object({
    id: z.string().meta({ description: "The window id", example: "w-2026-07-02-11" }),
    suggestion_type: SuggestionType,
    period_start: Instant,
    period_end: Instant,
    from_period: z.enum(["", "evening"]).meta({
      description: 'The period to shift away from: "evening" for a window tomorrow, otherwise ""',
    }),
    clock_range: z.string().meta({
      description:
        'Community-local "HH:MM–HH:MM" (EN DASH): the window\'s own range today, "17:00–21:00" (the evening to shift away from) for a window tomorrow',
      example: "11:00–14:00",
    }),
    to_is_tomorrow: z.boolean().meta({ description: "The window starts on a later community-local day" }),
    to_period: DayPeriod,
    to_time: z.string().meta({ description: 'Community-local start, "HH:MM"', example: "11:00" }),
    impact_kwh_estimated: z
      .number()
      .nullable()
      .meta({ description: "Personal estimate (kWh); null when there is no per-device estimate" }),
    reward_points: z
      .number()
      .int()
      .nullable()
      .meta({ description: "Personal reward estimate; null when there is no per-device estimate" }),
    confidence: z.number().nullable(),
    community_kwh: z.number().meta({ description: "The community's flexibility in the window (kWh)" }),
    target: SuggestionTarget.nullable().meta({
      description:
        "The member's target for the window (new, additive); null when we hold no baseline for them (no stored readings, or too few earlier days)",
    }),
  })
  .meta({ id: "SuggestionItem" });
export type SuggestionItem = z.infer<typeof SuggestionItem>;

export const SuggestionList = z.array(SuggestionItem).meta({ id: "SuggestionList" });

export const SuggestionIdParam = z.object({
  id: z
    .string()
    .trim()
    .min(1)
    .max(200)
    // PostgreSQL text cannot hold NUL: refused here (422) like every other id, not in the database (500).
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters")
    .meta({ param: { name: "id", in: "path" }, description: "The window id", example: "w-2026-07-02-11" }),
});

/**
 * The window's bounds and estimate are always the ones we published: `reward_points` is ignored, and
 * `period_*` only help find a window that is not on record under its id (validated then, so they are
 * loose here).
 */
export const RespondInput = z
  .object({
    response: z.enum(["accepted", "declined"]),
    reward_points: z.number().int().nullish().meta({
      description: "Ignored: the estimate is the one offered (accepted for compatibility)",
    }),
    period_start: z.string().max(100).nullish().meta({
      description: "ISO-8601; only used to find the window when the id is not one on record for the caller",
      example: "2026-07-02T11:00:00Z",
    }),
    period_end: z.string().max(100).nullish().meta({
      description: "ISO-8601; only used to find the window when the id is not one on record for the caller",
      example: "2026-07-02T14:00:00Z",
    }),
  })
  .meta({ id: "RespondInput" });
export type RespondInput = z.input<typeof RespondInput>;

export const RespondOut = z
  .object({
    commitment_id: Uuid.nullable().meta({ description: "null for a decline" }),
    status: z.enum(["committed", "declined"]),
    reward_points_estimated: z.number().int().meta({ description: "0 for a decline" }),
  })
  .meta({ id: "RespondOut" });
export type RespondOut = z.infer<typeof RespondOut>;

import { z } from "zod";
import { Count, Instant, Kwh, Uuid } from "./common.ts";

// GET /api/commitments/{id}/progress: how a commitment is doing before, during and after its window.

export const CommitmentProgress = z
  .object({
    commitment_id: Uuid,
    settled: z.boolean().meta({
      description: "true once settled: the figures are then the settlement's, as stored",
    }),
    as_of: Instant.meta({
      description:
        "How current the figures are: before the window, now; during it (and until settlement), the end of the latest interval of the window with a reading, or the window's start when none has one yet; once settled, when the latest settlement was made",
    }),
    intervals_total: Count.meta({ description: "The window's reading intervals" }),
    intervals_done: Count.meta({
      description: "Intervals of the window that have ended and have a reading (0 before the window)",
    }),
    actual_kwh_so_far: Kwh.meta({ description: "Metered over the intervals done" }),
    baseline_kwh_so_far: Kwh.nullable().meta({
      description:
        "The adjusted baseline over the intervals done (settlement's baseline and same-day adjustment); null when the window has no baseline",
    }),
    qualifying_kwh: Kwh.nullable().meta({
      description:
        "The least consumption over the whole window that earns points: adjusted baseline + max(min_shift_fraction × it, min_shift_kw × window hours); null without a baseline",
    }),
    on_track: z.boolean().nullable().meta({
      description:
        "The intervals done, judged as a window of their own, would qualify; null before any is done or without a baseline. Once settled: whether the window qualified",
    }),
    projected_points: z.number().int().nullable().meta({
      description:
        "What settlement would pay if every interval still to come used the mean of those done (forecast accuracy taken as 1); null before any is done. Once settled: the points paid (the ledger's sum)",
    }),
  })
  .meta({ id: "CommitmentProgress" });
export type CommitmentProgress = z.infer<typeof CommitmentProgress>;

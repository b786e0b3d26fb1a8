import { z } from "zod";

/**
 * A pipeline run event (PLATFORM §6). Extra keys are ignored; only what decides the work is
 * required. `run_id` may be numeric on some pipelines: it is kept as text either way.
 */
export const PipelineRun = z.object({
  flow: z.string().min(1),
  namespace: z.string().nullish(),
  /** `started` | `completed` | `failed`; only `completed` triggers work (anything else is ignored). */
  status: z.string().min(1),
  run_id: z.union([z.string().min(1), z.number()]).transform(String),
  /** ISO instant of the event; informative only. */
  timestamp: z.string().nullish(),
  duration_ms: z.number().nullish(),
  error: z.unknown().optional(),
});
export type PipelineRun = z.output<typeof PipelineRun>;

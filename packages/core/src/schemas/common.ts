import { z } from "zod";
import { parseInstant } from "../time.ts";

/**
 * An ISO-8601 instant on the way in. Without an offset it means UTC. The output is the
 * normalised UTC string, so parsing twice (transport, then verb) is harmless.
 */
export const InstantInput = z
  .string()
  .transform((text, ctx) => {
    const date = parseInstant(text);
    if (!date) {
      ctx.addIssue({ code: "custom", message: `not an ISO-8601 date-time: ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return date.toISOString();
  })
  .meta({
    description: "ISO-8601 date-time; without an offset it means UTC",
    example: "2026-07-02T11:00:00Z",
  });

/** Energy, in kWh. */
export const Kwh = z.number().meta({ description: "kWh" });

/** A count of things: a whole number, never negative. */
export const Count = z.number().int().min(0);

export const Instant = z
  .string()
  .meta({ description: "ISO-8601 instant in UTC", example: "2026-07-02T11:00:00.000Z" });

export const Uuid = z
  .uuid({ message: "not a valid UUID" })
  .meta({ example: "0b0e5ad5-6c1e-4a61-9a2a-2d1f3b8f3b10" });

export const Problem = z
  .object({
    type: z.string().meta({ example: "about:blank" }),
    title: z.string().meta({ example: "Unprocessable Content" }),
    status: z.number().int().meta({ example: 422 }),
    detail: z.string().meta({
      description: "What went wrong, for a person",
      example: "period_end: must be after period_start",
    }),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem document" });
export type Problem = z.infer<typeof Problem>;

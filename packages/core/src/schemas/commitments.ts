import { z } from "zod";
import { COMMITMENT_ORIGINS, COMMITMENT_STATUSES, SETTLEMENT_OUTCOMES } from "../db/schema.ts";
import { Instant, InstantInput, Uuid } from "./common.ts";

export const CommitmentStatus = z
  .enum(COMMITMENT_STATUSES)
  .meta({ description: "Only `committed` is live; the other three are terminal." });
export const SettlementOutcome = z.enum(SETTLEMENT_OUTCOMES);
export const SuggestionType = z.literal("shift-consumption");
export const CommitmentOrigin = z
  .enum(COMMITMENT_ORIGINS)
  .meta({ description: "Who recorded it: the member, or an operator on their behalf" });

// PostgreSQL text cannot hold NUL: refuse it here (422) rather than fail in the database (500).
const Id = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((s) => !s.includes("\u0000"), "must not contain NUL characters");

export const CommitmentOut = z
  .object({
    id: Uuid,
    user_id: z.string(),
    suggestion_id: z.string(),
    suggestion_type: z.string().meta({ example: "shift-consumption" }),
    community_id: z.string().nullable(),
    device_id: z.string().nullable(),
    period_start: Instant,
    period_end: Instant,
    committed_at: Instant,
    settled_at: Instant.nullable(),
    reminded_at: Instant.nullable(),
    status: CommitmentStatus,
    reward_points_estimated: z.number().int(),
    reward_points_actual: z.number().int().nullable(),
    actual_kwh: z.number().nullable(),
    baseline_kwh: z.number().nullable(),
    baseline_days: z.number().int().nullable(),
    delivered_kwh: z.number().nullable(),
    settlement_outcome: SettlementOutcome.nullable(),
    created_at: Instant,
    origin: CommitmentOrigin,
    settlement_revision: z
      .number()
      .int()
      .meta({ description: "0 while live; 1 once settled; +1 for every restatement of its points" }),
  })
  .meta({ id: "CommitmentOut" });
export type CommitmentOut = z.infer<typeof CommitmentOut>;

export const CommitmentList = z
  .object({
    items: z.array(CommitmentOut),
    total: z.number().int().meta({ description: "Number of matching rows (not the page size)" }),
  })
  .meta({ id: "CommitmentList" });
export type CommitmentList = z.infer<typeof CommitmentList>;

export const CreateCommitmentInput = z
  .object({
    user_id: Id.nullish().meta({
      description: "Required for operators; ignored for participants (they commit for themselves)",
    }),
    suggestion_id: Id.meta({
      description:
        "The window id; for a participant it must be a window published to them (found by id, else by period_start/period_end)",
    }),
    suggestion_type: SuggestionType.default("shift-consumption"),
    community_id: Id.nullish().meta({
      description:
        "Required for operators; ignored for participants (their community comes from the Digital Twin)",
    }),
    device_id: Id.nullish().meta({
      description:
        "Required for operators; ignored for participants (their device comes from the Digital Twin)",
    }),
    period_start: InstantInput.meta({
      description:
        "ISO-8601 (no offset means UTC). Operators: the window (at most 24 h, ended at most 7 days ago). Participants: only used to find the window; the stored bounds are the published ones",
    }),
    period_end: InstantInput,
    reward_points_estimated: z.number().int().min(0).max(1_000_000).default(10).meta({
      description:
        "Operators: the estimate recorded (default 10). Ignored for participants: theirs is the one offered",
    }),
  })
  .refine((v) => v.period_end > v.period_start, {
    path: ["period_end"],
    message: "must be after period_start",
  })
  .meta({ id: "CreateCommitmentInput" });
export type CreateCommitmentInput = z.input<typeof CreateCommitmentInput>;

const Limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const ListCommitmentsQuery = z.object({
  user_id: Id.optional().meta({ description: "Required for services; ignored for participants" }),
  status: CommitmentStatus.optional(),
  limit: Limit(200, 50),
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
});
export type ListCommitmentsQuery = z.input<typeof ListCommitmentsQuery>;

export const CommitmentIdParam = z.object({ id: Uuid.meta({ param: { name: "id", in: "path" } }) });

export const SettleCommitmentInput = z
  .object({
    reward_points_actual: z.number().int().min(0).max(1_000_000),
    actual_kwh: z.number().min(0).max(1_000_000).nullish(),
  })
  .meta({ id: "SettleCommitmentInput" });
export type SettleCommitmentInput = z.input<typeof SettleCommitmentInput>;

export const PendingQuery = z.object({ limit: Limit(1000, 500) });

/** `created_after` may arrive with its offset's `+` decoded as a space by a careless client. */
const CreatedAfter = z
  .string()
  // Only a space right after a clock time is a lost `+`; "2026-07-02 11:00" is a naive instant.
  .transform((text) => text.trim().replace(/(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/, "$1+$2"))
  .pipe(InstantInput);

export const ExportQuery = z.object({
  created_after: CreatedAfter.optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional().meta({
    description: "Page size; with it the answer is a page and `Link`/`X-Next-Cursor` carry the cursor",
  }),
  cursor: z.string().max(200).optional().meta({ description: "Opaque cursor from the previous page" }),
});
export type ExportQuery = z.input<typeof ExportQuery>;

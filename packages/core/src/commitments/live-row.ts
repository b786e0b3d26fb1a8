import type { CommitmentRow } from "../db/schema.ts";
import type { CommitmentForEntries } from "../outbox/commitment-entries.ts";

/** What a new live commitment is made of (what its side effects read, and when and how it was
 * made); everything else starts empty. */
export type LiveCommitmentValues = CommitmentForEntries &
  Pick<CommitmentRow, "committedAt" | "createdAt" | "origin" | "noticeAt"> &
  Partial<Pick<CommitmentRow, "suggestionType">>;

/**
 * A new live commitment, every column spelled out, so that what the events of a commitment say is
 * what is inserted (written before the insert, in the same statement).
 */
export function liveCommitmentRow(values: LiveCommitmentValues): CommitmentRow {
  return {
    suggestionType: "shift-consumption",
    settledAt: null,
    remindedAt: null,
    status: "committed",
    rewardPointsActual: null,
    actualKwh: null,
    baselineKwh: null,
    baselineDays: null,
    deliveredKwh: null,
    settlementOutcome: null,
    settlementPointsPerKwh: null,
    settlementBonusPct: null,
    settlementRevision: 0,
    settlementRaw: null,
    ...values,
  };
}

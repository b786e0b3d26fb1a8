// Settlement: judging delivered flexibility against the baseline, the points it earns, and why.

export { CommitmentProgress } from "../schemas/progress.ts";
export {
  CandidateWhy,
  LedgerEntryOut,
  SettlementAdjustment,
  SettlementCap,
  SettlementExplanation,
  SettlementInterval,
  SettlementMethodOut,
  SettlementMultipliers,
  SettlementTotals,
  StoredSettlement,
} from "../schemas/settlement.ts";
export { type BackfillMember, type BackfillSummary, backfillReadings } from "./backfill-readings.ts";
export { getProgress, PROGRESS_REFRESH_MS, PROGRESS_STALE } from "./get-progress.ts";
export { getSettlement, getSettlementMethod } from "./get-settlement.ts";
export {
  DEFAULT_METHOD,
  describeMethod,
  METHOD_ID,
  type MethodOverrides,
  type MethodParse,
  parseSettlementMethod,
  type SettlementMethod,
} from "./method.ts";
export { type SettlementRunSummary, settleDueCommitments } from "./settle-due-commitments.ts";

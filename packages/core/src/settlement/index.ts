// Settlement: judging delivered flexibility against the baseline, the points it earns, and why.

export { CommitmentProgress } from "../schemas/progress.ts";
export {
  SettlementExplanation,
  SettlementMethodOut,
} from "../schemas/settlement.ts";
export { backfillReadings } from "./backfill-readings.ts";
export { getProgress, PROGRESS_STALE } from "./get-progress.ts";
export { getSettlement, getSettlementMethod } from "./get-settlement.ts";
export {
  type MethodOverrides,
  parseSettlementMethod,
  type SettlementMethod,
} from "./method.ts";
export { settleDueCommitments } from "./settle-due-commitments.ts";

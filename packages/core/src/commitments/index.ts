// Commitments: a member's promise to shift consumption into a window, from creation to settlement.

export {
  CommitmentIdParam,
  CommitmentList,
  CommitmentOrigin,
  CommitmentOut,
  CommitmentStatus,
  CreateCommitmentInput,
  ExportQuery,
  ListCommitmentsQuery,
  PendingQuery,
  SettleCommitmentInput,
  SettlementOutcome,
  SuggestionType,
} from "../schemas/commitments.ts";
export { cancelCommitment } from "./cancel-commitment.ts";
export { createCommitment, OPERATOR_MAX_AGE_MS, OPERATOR_MAX_WINDOW_MS } from "./create-commitment.ts";
export { type ExportFormat, type ExportResult, exportCommitments } from "./export-commitments.ts";
export { listCommitments } from "./list-commitments.ts";
export { settleCommitment } from "./settle-commitment.ts";
export { takePendingCommitments } from "./take-pending-commitments.ts";

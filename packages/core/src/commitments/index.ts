// Commitments: a member's promise to shift consumption into a window, from creation to settlement.

export {
  CommitmentIdParam,
  CommitmentList,
  CommitmentOut,
  CreateCommitmentInput,
  ExportQuery,
  ListCommitmentsQuery,
  PendingQuery,
  SettleCommitmentInput,
} from "../schemas/commitments.ts";
export { cancelCommitment } from "./cancel-commitment.ts";
export { createCommitment } from "./create-commitment.ts";
export { exportCommitments } from "./export-commitments.ts";
export { listCommitments } from "./list-commitments.ts";
export { settleCommitment } from "./settle-commitment.ts";
export { takePendingCommitments } from "./take-pending-commitments.ts";

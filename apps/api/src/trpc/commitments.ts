import {
  CommitmentIdParam,
  CommitmentList,
  CommitmentOut,
  CommitmentProgress,
  CreateCommitmentInput,
  cancelCommitment,
  createCommitment,
  getProgress,
  getSettlement,
  ListCommitmentsQuery,
  listCommitments,
  PendingQuery,
  SettleCommitmentInput,
  SettlementExplanation,
  settleCommitment,
  takePendingCommitments,
} from "@celine/core";
import { z } from "zod";
import { procedure } from "./init.ts";

/** The commitments procedures (nested under `commitments.` in the router). */
export const commitments = {
  create: procedure
    .input(CreateCommitmentInput)
    .output(CommitmentOut)
    .mutation(({ ctx, input }) => createCommitment({ ctx: ctx.verb, input })),
  list: procedure
    .input(ListCommitmentsQuery)
    .output(CommitmentList)
    .query(({ ctx, input }) => listCommitments({ ctx: ctx.verb, input })),
  cancel: procedure
    .input(CommitmentIdParam)
    .output(z.null())
    .mutation(async ({ ctx, input }) => {
      await cancelCommitment({ ctx: ctx.verb, input });
      return null;
    }),
  pending: procedure
    .input(PendingQuery.optional())
    .output(z.array(CommitmentOut))
    .mutation(({ ctx, input }) => takePendingCommitments({ ctx: ctx.verb, input: input ?? {} })),
  settlement: procedure
    .input(CommitmentIdParam)
    .output(SettlementExplanation)
    .query(({ ctx, input }) => getSettlement({ ctx: ctx.verb, input })),
  progress: procedure
    .input(CommitmentIdParam)
    .output(CommitmentProgress)
    .query(({ ctx, input }) => getProgress({ ctx: ctx.verb, input })),
  settle: procedure
    .input(CommitmentIdParam.extend(SettleCommitmentInput.shape))
    .output(CommitmentOut)
    .mutation(({ ctx, input }) => settleCommitment({ ctx: ctx.verb, input })),
};

import { and, eq } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments } from "../db/schema.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { CommitmentIdParam, type CommitmentOut, SettleCommitmentInput } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { toCommitmentOut } from "./out.ts";

/**
 * Settle a live commitment by hand (operators). The transition is one conditional UPDATE, so of
 * any number of concurrent settles exactly one succeeds and the rest see 409.
 */
export async function settleCommitment({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: { id: string } & SettleCommitmentInput;
}): Promise<CommitmentOut> {
  await authorize(ctx, "settle", { type: "commitment" });
  const { id } = parseInput(CommitmentIdParam, { id: input.id });
  const body = parseInput(SettleCommitmentInput, {
    reward_points_actual: input.reward_points_actual,
    actual_kwh: input.actual_kwh,
  });
  return withTransaction(ctx, async (tx) => {
    const [row] = await tx.db
      .update(commitments)
      .set({
        status: "settled",
        rewardPointsActual: body.reward_points_actual,
        actualKwh: body.actual_kwh == null ? null : String(body.actual_kwh),
        settledAt: ctx.now(),
        settlementOutcome: "manual",
      })
      .where(and(eq(commitments.id, id), eq(commitments.status, "committed")))
      .returning();
    if (row) return toCommitmentOut(row);
    const [existing] = await tx.db
      .select({ status: commitments.status })
      .from(commitments)
      .where(eq(commitments.id, id));
    if (!existing) throw new NotFoundError(`commitment ${id} not found`);
    throw new ConflictError(`commitment ${id} is ${existing.status}, not committed`);
  });
}

import { and, eq } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { type CommitmentRow, commitments, pointsLedger, settlements } from "../db/schema.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { CommitmentIdParam, type CommitmentOut, SettleCommitmentInput } from "../schemas/commitments.ts";
import type { StoredSettlement } from "../schemas/settlement.ts";
import { nothingComputed, windowOut } from "../settlement/decide.ts";
import { READING_INTERVAL_MS } from "../settlement/meter-store.ts";
import { createZonedClock } from "../settlement/zoned-clock.ts";
import { formatInstant } from "../time.ts";
import { parseInput } from "../validate.ts";
import { enqueueCommitmentEvents } from "../webhooks/events.ts";
import { toCommitmentOut } from "./out.ts";

/**
 * Settle a live commitment by hand (operators). The transition is one conditional UPDATE, so of
 * any number of concurrent settles exactly one succeeds and the rest see 409. `commitment.settled`
 * goes to the member's and the community's webhooks, committed with the settlement.
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
  const now = ctx.now();
  return withTransaction(ctx, async (tx) => {
    const [row] = await tx.db
      .update(commitments)
      .set({
        status: "settled",
        rewardPointsActual: body.reward_points_actual,
        actualKwh: body.actual_kwh == null ? null : String(body.actual_kwh),
        settledAt: now,
        settlementOutcome: "manual",
        settlementRevision: 1,
      })
      .where(and(eq(commitments.id, id), eq(commitments.status, "committed")))
      .returning();
    if (row) {
      // The points are a ledger entry like any other; the settlement record says who decided them.
      await tx.db.insert(pointsLedger).values({
        commitmentId: row.id,
        userId: row.userId,
        communityId: row.communityId,
        kind: "manual",
        points: body.reward_points_actual,
        revision: 1,
        createdAt: now,
      });
      await tx.db.insert(settlements).values({
        commitmentId: row.id,
        revision: 1,
        method: "manual",
        outcome: "manual",
        points: body.reward_points_actual,
        explanation: manualSettlement(row, ctx, now),
        createdAt: now,
      });
      await enqueueCommitmentEvents(tx, "commitment.settled", [row]);
      return toCommitmentOut(row);
    }
    const [existing] = await tx.db
      .select({ status: commitments.status })
      .from(commitments)
      .where(eq(commitments.id, id));
    if (!existing) throw new NotFoundError(`commitment ${id} not found`);
    throw new ConflictError(`commitment ${id} is ${existing.status}, not committed`);
  });
}

/** What a settlement by hand stores: the operator's figures, nothing computed. */
function manualSettlement(row: CommitmentRow, ctx: Ctx, now: Date): StoredSettlement {
  return {
    revision: 1,
    settled_at: formatInstant(now),
    method: "manual",
    outcome: "manual",
    points: row.rewardPointsActual ?? 0,
    // Shown to the member: who the operator was stays in the operator's own logs, not here.
    reason: "settled by hand by an operator",
    config: null,
    window: windowOut(row, {
      clock: createZonedClock(ctx.config.communityTimezone),
      intervalMs: READING_INTERVAL_MS,
    }),
    ...nothingComputed(),
  };
}

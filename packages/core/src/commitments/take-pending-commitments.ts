import { and, asc, eq, gt, inArray, isNull, lte } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments } from "../db/schema.ts";
import type { CommitmentOut } from "../schemas/commitments.ts";
import { PendingQuery } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { toCommitmentOut } from "./out.ts";

/**
 * Claim the live commitments whose window is open now and that were not reminded yet, stamping
 * `reminded_at` in the same transaction. Rows are locked with SKIP LOCKED, so concurrent callers
 * never receive the same commitment.
 */
export async function takePendingCommitments({
  ctx,
  input = {},
}: {
  ctx: Ctx;
  input?: { limit?: number | string };
}): Promise<CommitmentOut[]> {
  await authorize(ctx, "service", { type: "commitment" });
  const { limit } = parseInput(PendingQuery, input);
  const now = ctx.now();
  return withTransaction(ctx, async (tx) => {
    const due = await tx.db
      .select({ id: commitments.id })
      .from(commitments)
      .where(
        and(
          eq(commitments.status, "committed"),
          isNull(commitments.remindedAt),
          lte(commitments.periodStart, now),
          gt(commitments.periodEnd, now),
        ),
      )
      .orderBy(asc(commitments.periodStart), asc(commitments.id))
      .limit(limit)
      .for("update", { skipLocked: true });
    if (due.length === 0) return [];
    const rows = await tx.db
      .update(commitments)
      .set({ remindedAt: now })
      .where(
        inArray(
          commitments.id,
          due.map((r) => r.id),
        ),
      )
      .returning();
    return rows.sort((a, b) => a.periodStart.getTime() - b.periodStart.getTime()).map(toCommitmentOut);
  });
}

import { and, eq } from "drizzle-orm";
import { authorize, ownScope } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments } from "../db/schema.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { CommitmentIdParam } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { enqueueCommitmentEvents } from "../webhooks/events.ts";

/**
 * Cancel a live commitment. Somebody else's commitment is reported exactly like an unknown one
 * (404), so a participant cannot probe which ids exist. `commitment.cancelled` goes to the member's
 * and the community's webhooks, committed with the cancel.
 */
export async function cancelCommitment({ ctx, input }: { ctx: Ctx; input: { id: string } }): Promise<void> {
  await authorize(ctx, "delete", { type: "commitment", ownerId: ownScope(ctx.actor) });
  const { id } = parseInput(CommitmentIdParam, input);
  const owner = ownScope(ctx.actor);
  await withTransaction(ctx, async (tx) => {
    const [row] = await tx.db
      .select({ status: commitments.status, userId: commitments.userId })
      .from(commitments)
      .where(and(eq(commitments.id, id), owner ? eq(commitments.userId, owner) : undefined))
      .for("update");
    if (!row) throw new NotFoundError(`commitment ${id} not found`);
    if (row.status !== "committed")
      throw new ConflictError(`commitment ${id} is ${row.status}, not committed`);
    const cancelled = await tx.db
      .update(commitments)
      .set({ status: "cancelled" })
      .where(eq(commitments.id, id))
      .returning();
    await enqueueCommitmentEvents(tx, "commitment.cancelled", cancelled);
  });
}

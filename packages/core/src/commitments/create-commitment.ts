import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { sqlState, UNIQUE_VIOLATION } from "../db/errors.ts";
import { commitments } from "../db/schema.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { type CommitmentOut, CreateCommitmentInput } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { toCommitmentOut } from "./out.ts";

/**
 * Record a live commitment. A participant always commits for themselves (`user_id` in the input
 * is ignored); a service must name the member.
 */
export async function createCommitment({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: CreateCommitmentInput;
}): Promise<CommitmentOut> {
  const { actor } = ctx;
  const named = typeof input === "object" && input !== null ? (input.user_id ?? undefined) : undefined;
  await authorize(ctx, "write", {
    type: "commitment",
    ownerId: actor.kind === "participant" ? actor.id : named,
  });
  const data = parseInput(CreateCommitmentInput, input);
  // The parsed (trimmed) id, not the raw one, is what gets stored.
  const owner = actor.kind === "participant" ? actor.id : data.user_id;
  if (!owner) {
    throw new ValidationError("user_id: required when a service creates a commitment", [
      { path: "user_id", message: "required when a service creates a commitment" },
    ]);
  }
  try {
    const [row] = await withTransaction(ctx, (tx) =>
      tx.db
        .insert(commitments)
        .values({
          userId: owner,
          suggestionId: data.suggestion_id,
          suggestionType: data.suggestion_type,
          communityId: data.community_id ?? null,
          deviceId: data.device_id ?? null,
          periodStart: new Date(data.period_start),
          periodEnd: new Date(data.period_end),
          rewardPointsEstimated: data.reward_points_estimated,
          committedAt: ctx.now(),
          createdAt: ctx.now(),
        })
        .returning(),
    );
    if (!row) throw new Error("insert returned no row");
    return toCommitmentOut(row);
  } catch (error) {
    if (sqlState(error) === UNIQUE_VIOLATION) {
      throw new ConflictError(
        `user ${owner} already holds a live commitment for suggestion ${data.suggestion_id}`,
      );
    }
    throw error;
  }
}

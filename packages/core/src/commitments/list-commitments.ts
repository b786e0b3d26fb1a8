import { and, count, desc, eq } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { type CommitmentList, ListCommitmentsQuery } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { toCommitmentOut } from "./out.ts";

/** One member's commitments, newest first; `total` counts every matching row, not the page. */
export async function listCommitments({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: ListCommitmentsQuery;
}): Promise<CommitmentList> {
  const { actor } = ctx;
  const named = typeof input === "object" && input !== null ? input.user_id : undefined;
  await authorize(ctx, "read", {
    type: "commitment",
    ownerId: actor.kind === "participant" ? actor.id : named,
  });
  const query = parseInput(ListCommitmentsQuery, input);
  const owner = actor.kind === "participant" ? actor.id : query.user_id;
  if (!owner) {
    throw new ValidationError("user_id: required when a service lists commitments", [
      { path: "user_id", message: "required when a service lists commitments" },
    ]);
  }
  const where = and(
    eq(commitments.userId, owner),
    query.status ? eq(commitments.status, query.status) : undefined,
  );
  // One snapshot for page and count, so `total` agrees with `items`.
  return withTransaction(ctx, async (tx) => {
    const [rows, [counted]] = await Promise.all([
      tx.db
        .select()
        .from(commitments)
        .where(where)
        .orderBy(desc(commitments.committedAt), desc(commitments.id))
        .limit(query.limit)
        .offset(query.offset),
      tx.db.select({ total: count() }).from(commitments).where(where),
    ]);
    return { items: rows.map(toCommitmentOut), total: counted?.total ?? 0 };
  });
}

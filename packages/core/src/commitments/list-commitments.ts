import { and, desc, eq, getTableColumns } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
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
  // Page and total in one statement: one round trip and one snapshot, so `total` agrees with
  // `items` without BEGIN/COMMIT. The order matches flexibility_commitments_user_committed_idx
  // (DESC NULLS FIRST), so PostgreSQL reads the page off the index instead of sorting every row.
  const rows = await ctx.db
    .select({ ...getTableColumns(commitments), total: ctx.db.$count(commitments, where) })
    .from(commitments)
    .where(where)
    .orderBy(desc(commitments.committedAt), desc(commitments.id))
    .limit(query.limit)
    .offset(query.offset);
  const first = rows[0];
  if (first) return { items: rows.map(toCommitmentOut), total: Number(first.total) };
  // An empty page carries no total: from the start there is none; past the end, count separately.
  const total = query.offset === 0 ? 0 : await ctx.db.$count(commitments, where);
  return { items: [], total };
}

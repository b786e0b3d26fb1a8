import { and, eq, type SQL, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { rowsOf } from "../db/database.ts";
import { type CommitmentRow, commitments } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { type CommitmentList, ListCommitmentsQuery } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { WIRE_SELECT, wireRowToCommitmentOut } from "./out.ts";

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
  const rows = rowsOf<Record<string, unknown> & { total: number }>(
    await ctx.db.execute(
      listPageQuery({ owner, status: query.status, limit: query.limit, offset: query.offset }),
    ),
  );
  const first = rows[0];
  if (first) return { items: rows.map(wireRowToCommitmentOut), total: first.total };
  // An empty page carries no total: from the start there is none; past the end, count separately.
  const total = query.offset === 0 ? 0 : await ctx.db.$count(commitments, filter(owner, query.status));
  return { items: [], total };
}

const filter = (owner: string, status: CommitmentRow["status"] | undefined) =>
  and(eq(commitments.userId, owner), status ? eq(commitments.status, status) : undefined);

/**
 * The page and the total in one statement: one round trip and one snapshot, so `total` agrees with
 * `items` without BEGIN/COMMIT. The order matches flexibility_commitments_user_committed_idx
 * (DESC NULLS FIRST), so PostgreSQL reads the page off the index instead of sorting every row.
 * Written as SQL over WIRE_SELECT: drizzle's builder and row mapping cost more than the query.
 * Exported for the benchmark, whose database ceiling runs this very statement.
 */
export function listPageQuery({
  owner,
  status,
  limit,
  offset,
}: {
  owner: string;
  status: CommitmentRow["status"] | undefined;
  limit: number;
  offset: number;
}): SQL {
  const where = filter(owner, status);
  return sql`select ${WIRE_SELECT}, (select count(*)::int from ${commitments} where ${where}) as total
    from ${commitments} where ${where}
    order by ${commitments.committedAt} desc, ${commitments.id} desc
    limit ${limit} offset ${offset}`;
}

import { and, desc, eq, Placeholder, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/pg-core";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { preparedRows } from "../db/direct.ts";
import { type CommitmentRow, commitments } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { type CommitmentList, ListCommitmentsQuery } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { WIRE_COLUMNS, wireRowToCommitmentOut } from "./out.ts";

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
  const { sql: text, params } = listPageStatement({
    owner,
    status: query.status,
    limit: query.limit,
    offset: query.offset,
  });
  const rows = (await preparedRows(ctx.db, text, params)) as (Record<string, unknown> & { total: number })[];
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
 * It runs as a named prepared statement with its rows unmapped (preparedRows): the list is the
 * hottest read, and drizzle's unnamed statements and per-field mapping cost more than the query.
 * Exported for the benchmark, whose database ceiling runs this very statement.
 */
export function listPageStatement(values: {
  owner: string;
  status: CommitmentRow["status"] | undefined;
  limit: number;
  offset: number;
}): { sql: string; params: unknown[] } {
  const statement = values.status ? PAGE_STATEMENTS.status : PAGE_STATEMENTS.all;
  return {
    sql: statement.sql,
    params: statement.params.map((p) =>
      p instanceof Placeholder ? values[p.name as keyof typeof values] : p,
    ),
  };
}

function pageSelect(withStatus: boolean) {
  const where = and(
    eq(commitments.userId, sql.placeholder("owner")),
    withStatus ? eq(commitments.status, sql.placeholder("status")) : undefined,
  );
  const wire = WIRE_COLUMNS.map(({ key, column }) => [key, sql`${column}`.as(key)] as const);
  return new QueryBuilder()
    .select({
      ...Object.fromEntries(wire),
      total: sql<number>`(select count(*)::int from ${commitments} where ${where})`.as("total"),
    })
    .from(commitments)
    .where(where)
    .orderBy(desc(commitments.committedAt), desc(commitments.id))
    .limit(sql.placeholder("limit"))
    .offset(sql.placeholder("offset"))
    .toSQL();
}

const PAGE_STATEMENTS = { all: pageSelect(false), status: pageSelect(true) };

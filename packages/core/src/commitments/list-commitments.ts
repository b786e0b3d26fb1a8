import { and, desc, eq, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/database.ts";
import { type CommitmentRow, commitments } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { type CommitmentList, ListCommitmentsQuery } from "../schemas/commitments.ts";
import { parseInput } from "../validate.ts";
import { WIRE_COLUMNS } from "./copy-to-json.ts";
import { wireRowToCommitmentOut } from "./out.ts";

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
  const statement = query.status ? "status" : "all";
  const rows = await preparedPage(ctx.db, statement).execute({
    owner,
    status: query.status,
    limit: query.limit,
    offset: query.offset,
  });
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
 * The wire columns come as the driver's text (no Date per instant), and the statement is a named
 * prepared one: drizzle sends unnamed statements otherwise, which PostgreSQL parses and plans on
 * every call. Exported for the benchmark, whose database ceiling runs this very statement.
 */
export function listPageSelect(db: Db, statement: "all" | "status") {
  const where = and(
    eq(commitments.userId, sql.placeholder("owner")),
    statement === "status" ? eq(commitments.status, sql.placeholder("status")) : undefined,
  );
  return db
    .select({ ...WIRE_FIELDS, total: sql<number>`(select count(*)::int from ${commitments} where ${where})` })
    .from(commitments)
    .where(where)
    .orderBy(desc(commitments.committedAt), desc(commitments.id))
    .limit(sql.placeholder("limit"))
    .offset(sql.placeholder("offset"));
}

/** The wire columns as plain SQL fields: drizzle hands their driver values through unmapped. */
const WIRE_FIELDS = Object.fromEntries(WIRE_COLUMNS.map(({ key, column }) => [key, sql<unknown>`${column}`]));

type PreparedPage = ReturnType<ReturnType<typeof listPageSelect>["prepare"]>;
const prepared = new WeakMap<Db, Record<"all" | "status", PreparedPage>>();

/** The prepared statements of one database handle, made on first use. */
function preparedPage(db: Db, statement: "all" | "status"): PreparedPage {
  let statements = prepared.get(db);
  if (!statements) {
    statements = {
      all: listPageSelect(db, "all").prepare("flexibility_list_page"),
      status: listPageSelect(db, "status").prepare("flexibility_list_page_status"),
    };
    prepared.set(db, statements);
  }
  return statements[statement];
}

import { and, asc, gt, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { commitments as c } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { ExportQuery } from "../schemas/commitments.ts";
import { parseInstant } from "../time.ts";
import { parseInput } from "../validate.ts";

export type ExportFormat = "json" | "ndjson";
export type ExportResult = {
  /** The body, in chunks: a JSON array, or one JSON object per line. */
  body: AsyncIterable<string>;
  /** With paging: the cursor of the next page, null on the last one. Without: always null. */
  nextCursor: string | null;
};

/** Rows per round trip. Postgres renders each batch as one string, so JS only concatenates. */
const BATCH = 5000;
const US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** Every member, every status, oldest first — for the data pipelines' mirror. Memory stays flat. */
export async function exportCommitments({
  ctx,
  input,
  format,
}: {
  ctx: Ctx;
  input: ExportQuery;
  format: ExportFormat;
}): Promise<ExportResult> {
  await authorize(ctx, "export", { type: "commitment" });
  const query = parseInput(ExportQuery, input);
  const after = query.created_after ? new Date(query.created_after) : null;
  const start = query.cursor ? decodeCursor(query.cursor) : null;
  const paged = query.limit !== undefined || query.cursor !== undefined;
  const pageSize = paged ? (query.limit ?? 1000) : Number.POSITIVE_INFINITY;

  // The page's last key is known before streaming, so the cursor can go in a header.
  let end: Key | null = null;
  let nextCursor: string | null = null;
  if (paged) {
    const keys = await ctx.db
      .select({ key: keyOf() })
      .from(c)
      .where(filter(after, start))
      .orderBy(asc(c.createdAt), asc(c.id))
      .offset(pageSize - 1)
      .limit(2);
    if (keys[0]) end = parseKey(keys[0].key);
    if (keys[1] && keys[0]) nextCursor = encodeCursor(keys[0].key);
  }

  const separator = format === "json" ? "," : "\n";
  // The first chunk is yielded only after the first query answered, so a transport that awaits it
  // before sending headers can still turn a failing database into a 500.
  async function* body(): AsyncGenerator<string> {
    const open = format === "json" ? "[" : "";
    let from = start;
    let first = true;
    for (;;) {
      const [batch] = await ctx.db
        .select({
          text: sql<string | null>`string_agg(page.j, ${separator} order by page.created_at, page.id)`,
          last: sql<string | null>`(array_agg(page.k order by page.created_at desc, page.id desc))[1]`,
          n: sql<number>`count(*)::int`,
        })
        .from(
          ctx.db
            .select({ j: rowJson().as("j"), k: keyOf().as("k"), created_at: c.createdAt, id: c.id })
            .from(c)
            .where(
              and(
                filter(after, from),
                end ? sql`(${c.createdAt}, ${c.id}) <= (${end.at}::timestamptz, ${end.id}::uuid)` : undefined,
              ),
            )
            .orderBy(asc(c.createdAt), asc(c.id))
            .limit(BATCH)
            .as("page"),
        );
      if (!batch?.text || !batch.last) break;
      yield (first ? open : separator) + batch.text;
      first = false;
      if (batch.n < BATCH) break;
      from = parseKey(batch.last);
    }
    if (format === "json") yield first ? "[]" : "]";
    else if (!first) yield "\n";
  }
  return { body: body(), nextCursor };
}

type Key = { at: string; id: string };

function filter(after: Date | null, from: Key | null): SQL | undefined {
  return and(
    after ? gt(c.createdAt, after) : undefined,
    from ? sql`(${c.createdAt}, ${c.id}) > (${from.at}::timestamptz, ${from.id}::uuid)` : undefined,
  );
}

/** `created_at|id` with microseconds, the exact keyset position. */
function keyOf() {
  return sql<string>`to_char(${c.createdAt} at time zone 'UTC', ${sql.raw(US)}) || '|' || ${c.id}::text`;
}

function parseKey(key: string): Key {
  const [at = "", id = ""] = key.split("|");
  return { at, id };
}

function encodeCursor(key: string): string {
  return btoa(key).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

function decodeCursor(cursor: string): Key {
  try {
    const key = parseKey(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    // Both halves are cast in SQL (::timestamptz, ::uuid): anything a cast could refuse is a 422 here.
    if (
      !/^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?Z$/.test(key.at) ||
      parseInstant(key.at) === null ||
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key.id)
    )
      throw new Error("shape");
    return key;
  } catch {
    throw new ValidationError("cursor: not a cursor this service issued", [
      { path: "cursor", message: "not a cursor this service issued" },
    ]);
  }
}

const ms = (column: SQLWrapper) =>
  sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The CommitmentOut wire shape rendered by Postgres (same keys and formats as toCommitmentOut). */
function rowJson() {
  return sql<string>`json_build_object(
    'id', ${c.id}, 'user_id', ${c.userId}, 'suggestion_id', ${c.suggestionId},
    'suggestion_type', ${c.suggestionType}, 'community_id', ${c.communityId}, 'device_id', ${c.deviceId},
    'period_start', ${ms(c.periodStart)}, 'period_end', ${ms(c.periodEnd)},
    'committed_at', ${ms(c.committedAt)}, 'settled_at', ${ms(c.settledAt)}, 'reminded_at', ${ms(c.remindedAt)},
    'status', ${c.status}, 'reward_points_estimated', ${c.rewardPointsEstimated},
    'reward_points_actual', ${c.rewardPointsActual}, 'actual_kwh', ${c.actualKwh}::float8,
    'baseline_kwh', ${c.baselineKwh}::float8, 'baseline_days', ${c.baselineDays},
    'delivered_kwh', ${c.deliveredKwh}::float8, 'settlement_outcome', ${c.settlementOutcome},
    'created_at', ${ms(c.createdAt)})::text`;
}

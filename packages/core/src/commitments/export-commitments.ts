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

/**
 * Rows per round trip: small enough that a batch in flight and one being written stay a few MB,
 * large enough that the round trips are a small share of the time.
 */
const BATCH = 1000;
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
  // Called, not built lazily: the query starts at once, so the prefetch overlaps the writing.
  const fetchBatch = async (from: Key | null): Promise<PlainRow[]> => {
    const query = ctx.db
      .select(plainColumns)
      .from(c)
      .where(
        and(
          filter(after, from),
          end ? sql`(${c.createdAt}, ${c.id}) <= (${end.at}::timestamptz, ${end.id}::uuid)` : undefined,
        ),
      )
      .orderBy(asc(c.createdAt), asc(c.id))
      .limit(BATCH)
      .getSQL();
    return rowsOf<PlainRow>(await ctx.db.execute(query));
  };
  // The first chunk is yielded only after the first query answered, so a transport that awaits it
  // before sending headers can still turn a failing database into a 500.
  async function* body(): AsyncGenerator<string> {
    let first = true;
    let pending: Promise<PlainRow[]> | null = fetchBatch(start);
    try {
      while (pending) {
        const rows: PlainRow[] = await pending;
        pending = null;
        const last = rows.at(-1);
        // Prefetch: the next batch is on its way while this one is rendered and written.
        if (last && rows.length === BATCH)
          pending = fetchBatch({ at: keyInstant(last.createdAt), id: last.id });
        if (!last) break;
        let text = first ? (format === "json" ? "[" : "") : separator;
        for (let i = 0; i < rows.length; i++) {
          if (i > 0) text += separator;
          text += renderRow(rows[i] as PlainRow);
        }
        first = false;
        yield text;
      }
    } finally {
      // A client that went away leaves a query in flight: let it finish without an unhandled rejection.
      pending?.catch(() => {});
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

/**
 * Instants as PostgreSQL's own text of the UTC wall clock (`YYYY-MM-DD HH:MM:SS[.ffffff]`): the
 * cheapest rendering it has (to_char and json_build_object cost several times a COPY); JS reshapes it.
 */
const utc = (column: SQLWrapper) => sql`(${column} at time zone 'UTC')::text`;

/** Plain columns; numerics stay decimal strings (as drizzle hands them to toCommitmentOut). */
/**
 * Plain columns, each aliased to its key: the batch runs through execute(), so the driver's row
 * objects come back as they are (drizzle's per-field mapping cost as much as the rendering).
 * Numerics stay decimal strings, as drizzle hands them to toCommitmentOut.
 */
const as = (value: SQLWrapper, key: keyof PlainRow) => sql`${value}`.as(key);
const plainColumns = {
  id: as(sql`${c.id}::text`, "id"),
  userId: as(c.userId, "userId"),
  suggestionId: as(c.suggestionId, "suggestionId"),
  suggestionType: as(c.suggestionType, "suggestionType"),
  communityId: as(c.communityId, "communityId"),
  deviceId: as(c.deviceId, "deviceId"),
  periodStart: as(utc(c.periodStart), "periodStart"),
  periodEnd: as(utc(c.periodEnd), "periodEnd"),
  committedAt: as(utc(c.committedAt), "committedAt"),
  settledAt: as(utc(c.settledAt), "settledAt"),
  remindedAt: as(utc(c.remindedAt), "remindedAt"),
  status: as(c.status, "status"),
  rewardPointsEstimated: as(c.rewardPointsEstimated, "rewardPointsEstimated"),
  rewardPointsActual: as(c.rewardPointsActual, "rewardPointsActual"),
  actualKwh: as(c.actualKwh, "actualKwh"),
  baselineKwh: as(c.baselineKwh, "baselineKwh"),
  baselineDays: as(c.baselineDays, "baselineDays"),
  deliveredKwh: as(c.deliveredKwh, "deliveredKwh"),
  settlementOutcome: as(c.settlementOutcome, "settlementOutcome"),
  createdAt: as(utc(c.createdAt), "createdAt"),
};
/** execute()'s answer: postgres.js gives the row array itself, PGlite an object holding `rows`. */
function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return (result as { rows: T[] }).rows;
}

type PlainRow = {
  id: string;
  userId: string;
  suggestionId: string;
  suggestionType: string;
  communityId: string | null;
  deviceId: string | null;
  periodStart: string;
  periodEnd: string;
  committedAt: string;
  settledAt: string | null;
  remindedAt: string | null;
  status: string;
  rewardPointsEstimated: number;
  rewardPointsActual: number | null;
  actualKwh: string | null;
  baselineKwh: string | null;
  baselineDays: number | null;
  deliveredKwh: string | null;
  settlementOutcome: string | null;
  createdAt: string;
};

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) → `YYYY-MM-DDTHH:MM:SS.mmmZ`, as Date#toISOString: truncated to ms. */
function isoInstant(text: string): string {
  if (text.length < 19 || text.length > 26 || text.charCodeAt(4) !== 45) {
    // Outside years 1000–9999 (or BC) the fixed slicing does not hold; let Date do it.
    return new Date(`${text.replace(" ", "T")}Z`).toISOString();
  }
  const fraction = text.length > 20 ? text.slice(20, 23).padEnd(3, "0") : "000";
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction}Z`;
}

/** The keyset position with microseconds, castable to timestamptz. */
const keyInstant = (text: string) => `${text.replace(" ", "T")}Z`;

const quote = (value: string | null) => (value === null ? "null" : JSON.stringify(value));
const instantOrNull = (value: string | null) => (value === null ? "null" : `"${isoInstant(value)}"`);
const kwh = (value: string | null) => (value === null ? "null" : JSON.stringify(Number(value)));
const int = (value: number | null) => (value === null ? "null" : String(value));

/** The CommitmentOut wire shape (same keys, order and formats as toCommitmentOut + JSON.stringify). */
function renderRow(r: PlainRow): string {
  return (
    `{"id":"${r.id}","user_id":${quote(r.userId)},"suggestion_id":${quote(r.suggestionId)},` +
    `"suggestion_type":${quote(r.suggestionType)},"community_id":${quote(r.communityId)},` +
    `"device_id":${quote(r.deviceId)},"period_start":"${isoInstant(r.periodStart)}",` +
    `"period_end":"${isoInstant(r.periodEnd)}","committed_at":"${isoInstant(r.committedAt)}",` +
    `"settled_at":${instantOrNull(r.settledAt)},"reminded_at":${instantOrNull(r.remindedAt)},` +
    `"status":${quote(r.status)},"reward_points_estimated":${int(r.rewardPointsEstimated)},` +
    `"reward_points_actual":${int(r.rewardPointsActual)},"actual_kwh":${kwh(r.actualKwh)},` +
    `"baseline_kwh":${kwh(r.baselineKwh)},"baseline_days":${int(r.baselineDays)},` +
    `"delivered_kwh":${kwh(r.deliveredKwh)},"settlement_outcome":${quote(r.settlementOutcome)},` +
    `"created_at":"${isoInstant(r.createdAt)}"}`
  );
}

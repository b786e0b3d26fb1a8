import { and, asc, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { copyBatchRows, copyOut } from "../db/direct.ts";
import { commitments as c } from "../db/schema.ts";
import { ValidationError } from "../errors.ts";
import { ExportQuery } from "../schemas/commitments.ts";
import { parseInstant } from "../time.ts";
import { parseInput } from "../validate.ts";
import { JsonRowWriter } from "./copy-to-json.ts";
import { WIRE_COLUMNS } from "./out.ts";

export type ExportFormat = "json" | "ndjson";
export type ExportResult = {
  /** The body, in chunks of bytes: a JSON array, or one JSON object per line. */
  body: AsyncIterable<Uint8Array>;
  /** With paging: the cursor of the next page, null on the last one. Without: always null. */
  nextCursor: string | null;
};

/** Rendered bytes gathered before a chunk goes out. */
const CHUNK_BYTES = 64 * 1024;
const US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const dialect = new PgDialect();

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
  const after = query.created_after ? new Date(query.created_after).toISOString() : null;
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

  // Rows per statement (copyBatchRows): each batch streams as COPY text, rendered as it arrives.
  const batchRows = copyBatchRows(ctx.db);
  /** One batch's SELECT, its values inlined (COPY takes no parameters; they are all validated above). */
  const batch = (from: Key | null) => {
    const select = ctx.db
      .select(Object.fromEntries(WIRE_COLUMNS.map(({ key, column }) => [key, column])))
      .from(c)
      .where(
        and(
          filter(after, from),
          end ? sql`(${c.createdAt}, ${c.id}) <= (${end.at}::timestamptz, ${end.id}::uuid)` : undefined,
        ),
      )
      .orderBy(asc(c.createdAt), asc(c.id))
      .limit(batchRows);
    return dialect.sqlToQuery(select.getSQL().inlineParams()).sql;
  };
  // The first chunk is yielded only after the first statement answered, so a transport that awaits
  // it before sending headers can still turn a failing database into a 500.
  async function* body(): AsyncGenerator<Uint8Array> {
    const writer = new JsonRowWriter(format);
    let from = start;
    for (;;) {
      let rows = 0;
      for await (const chunks of copyOut(ctx.db, batch(from))) {
        for (const chunk of chunks) {
          rows += writer.write(chunk);
          if (writer.length >= CHUNK_BYTES) yield writer.take();
        }
      }
      const last = writer.lastLine();
      if (rows < batchRows || !last) break;
      from = lineKey(last);
    }
    yield writer.finish();
  }
  return { body: body(), nextCursor };
}

type Key = { at: string; id: string };

function filter(after: string | null, from: Key | null): SQL | undefined {
  return and(
    after ? sql`${c.createdAt} > ${after}::timestamptz` : undefined,
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

const ID_FIELD = WIRE_COLUMNS.findIndex((col) => col.key === "id");
const CREATED_AT_FIELD = WIRE_COLUMNS.findIndex((col) => col.key === "created_at");

/** The keyset position of a COPY line: its id and created_at fields (in full; COPY escapes tabs in values). */
function lineKey(line: Uint8Array): Key {
  const fields = new TextDecoder().decode(line).split("\t");
  return { id: fields[ID_FIELD] ?? "", at: fields[CREATED_AT_FIELD] ?? "" };
}

import type { Readable } from "node:stream";
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Db } from "./database.ts";

// The drivers underneath drizzle, reached directly for the two hot read paths where drizzle's own
// route costs more than the query: bulk export (COPY) and the commitments list (a named prepared
// statement, rows unmapped). `db` must be the root handle an adapter opened, not a transaction's.

/** The two drivers' clients, as far as these paths need them (typed structurally: no driver import). */
type PostgresJsClient = {
  unsafe(
    query: string,
    params?: unknown[],
    options?: { prepare: boolean },
  ): Promise<Record<string, unknown>[]> & { readable(): Promise<Readable> };
};
type PgliteClient = {
  query(
    query: string,
    params?: unknown[],
    options?: { parsers: Record<number, (value: string) => unknown> },
  ): Promise<{ rows: Record<string, unknown>[]; blob?: Blob }>;
};

function clientOf(db: Db): { postgres: PostgresJsClient } | { pglite: PgliteClient } {
  const client = (db as { $client?: PostgresJsClient | PgliteClient }).$client;
  if (client && "unsafe" in client) return { postgres: client };
  if (client && "query" in client) return { pglite: client };
  throw new Error("direct database access needs the root handle of a postgres.js or PGlite database");
}

/** Instants stay PostgreSQL's text, as drizzle configures both drivers (1184 timestamptz, 1114 timestamp). */
const TEXT_INSTANTS = { 1184: (value: string) => value, 1114: (value: string) => value };

/**
 * The rows of `text` run as a named prepared statement (PostgreSQL parses and plans it once per
 * connection; drizzle's statements are unnamed, so parsed and planned on every call), keyed by column
 * name, values as the driver parses them with instants left as text.
 */
export async function preparedRows(
  db: Db,
  text: string,
  params: unknown[],
): Promise<Record<string, unknown>[]> {
  const client = clientOf(db);
  if ("postgres" in client) return await client.postgres.unsafe(text, params, { prepare: true });
  return (await client.pglite.query(text, params, { parsers: TEXT_INSTANTS })).rows;
}

const dialect = new PgDialect();

/**
 * A hand-written drizzle `sql` statement run as preparedRows does (named, parsed and planned once per
 * connection): for reads on a hot path that also serve elsewhere through rowsOf. Root handle only.
 */
export async function preparedRowsOf<T>(db: Db, query: SQL): Promise<T[]> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return (await preparedRows(db, text, params)) as T[];
}

/**
 * Rows per COPY statement for a bulk read in batches: PGlite answers a COPY whole, so its batches stay
 * small; postgres.js streams one with backpressure, so larger batches only save statements.
 */
export function copyBatchRows(db: Db): number {
  return "postgres" in clientOf(db) ? 100_000 : 10_000;
}

/**
 * `COPY (select) TO STDOUT` in text format: each step answers the chunks that arrived since the last
 * one, every chunk holding whole lines. The cheapest way out of PostgreSQL for bulk reads (no row
 * objects in the driver), and nothing is copied on the way: memory churn is what limits a big
 * export. postgres.js streams it with backpressure; PGlite answers the whole result at once (it is
 * in-process anyway), so callers keep each statement bounded with a LIMIT. COPY takes no bind parameters: `select` must already hold
 * its values as literals.
 */
export async function* copyOut(db: Db, select: string): AsyncGenerator<Uint8Array[]> {
  const client = clientOf(db);
  if ("postgres" in client) {
    yield* lines(await client.postgres.unsafe(`copy (${select}) to stdout`).readable());
  } else {
    const { blob } = await client.pglite.query(`copy (${select}) to '/dev/blob'`);
    if (blob && blob.size > 0) yield [new Uint8Array(await blob.arrayBuffer())];
  }
}

/**
 * The stream's data, everything buffered per step. postgres.js pushes one whole line per COPY
 * message, so a chunk never splits a line. Left early (a client gone), the rest is read and dropped
 * rather than the stream destroyed: postgres.js would keep its connection paused forever.
 */
async function* lines(stream: Readable): AsyncGenerator<Uint8Array[]> {
  let ended = false;
  const end = new Promise<void>((resolve, reject) => {
    stream.once("end", () => {
      ended = true;
      resolve();
    });
    stream.once("error", reject);
  });
  end.catch(() => {}); // raised where it is awaited below
  try {
    for (;;) {
      const buffered: Uint8Array[] = [];
      for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) buffered.push(chunk);
      if (buffered.length > 0) yield buffered;
      else if (ended) return;
      else await Promise.race([new Promise((resolve) => stream.once("readable", resolve)), end]);
    }
  } finally {
    if (!ended) {
      stream.on("data", () => {});
      await end.catch(() => {});
    }
    // postgres.js pauses its socket when a push fills the stream's buffer and resumes it only from the
    // stream's read hook. When that push was the last line, the COPY ends with the socket paused and
    // the pooled connection would never answer again: resume it here.
    (stream as Readable & { _read(size: number): void })._read(0);
  }
}

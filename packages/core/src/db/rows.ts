import type { SQL } from "drizzle-orm";
import type { Db } from "./database.ts";

/**
 * The rows of a hand-written statement, whichever driver runs it (postgres.js answers an array,
 * PGlite `{ rows }`). Select numbers as int or float8 and instants as epoch ms (`float8`): both
 * drivers then give JS numbers; bigint and numeric arrive as strings from postgres.js.
 */
export async function rowsOf<T>(db: Db, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** How a hand-written statement's rows are read: rowsOf, or preparedRowsOf on a hot path (root handle). */
export type RowsReader = <T>(db: Db, query: SQL) => Promise<T[]>;

import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/** A drizzle handle over either driver (postgres.js or PGlite), or a transaction of one. */
export type Db = PgDatabase<PgQueryResultHKT>;

/** What an adapter hands the app: the query handle plus the driver-specific extras. */
export type Database = {
  db: Db;
  /** Which driver is underneath; for logs and /ready. */
  driver: "postgres" | "pglite";
  /** The schema the tables live in (the connection's search_path). */
  schema: string;
  /** Subscribe to NOTIFY on a channel; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** A trivial round trip, for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

/** Quote an identifier for interpolation into DDL (schema names come from configuration). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

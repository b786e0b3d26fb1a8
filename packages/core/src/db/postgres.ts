import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { type Database, type Db, quoteIdent } from "./database.ts";

export type PostgresOptions = {
  url: string;
  schema: string;
  max?: number;
  /** Seconds a new connection may take to be ready before its queries fail (CONNECT_TIMEOUT). */
  connectTimeoutSeconds?: number;
};

/** Seconds to wait before a new connection after failed ones: postgres.js's own grows to 20 s. */
const MAX_RECONNECT_DELAY_SECONDS = 0.5;

/**
 * PostgreSQL through postgres.js; every connection runs in UTC with search_path = schema.
 *
 * While the server is down or unreachable a query fails within `connectTimeoutSeconds` (2) plus at
 * most half a second: postgres.js waits between attempts to connect after failures, 3^n/100 s up to
 * 20 s by default, and every query waits that out before its own attempt — the 3–6 s hangs of an
 * outage. The pool recovers by itself once the server is back (the next query connects).
 */
export function connectPostgres({
  url,
  schema,
  max = 10,
  connectTimeoutSeconds = 2,
}: PostgresOptions): Database {
  const client = postgres(url, {
    max,
    connect_timeout: connectTimeoutSeconds,
    backoff: (retries) => Math.min(0.01 * 2 ** retries, MAX_RECONNECT_DELAY_SECONDS),
    onnotice: () => {},
    connection: { search_path: schema, TimeZone: "UTC", application_name: "celine-flexibility" },
  });
  const db: Db = drizzle(client);
  return {
    db,
    driver: "postgres",
    schema,
    async listen(channel, onNotify) {
      const { unlisten } = await client.listen(channel, onNotify);
      return unlisten;
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** Apply the migrations in `folder` (idempotent: applied ones are recorded in the schema). */
export async function migratePostgres({ url, schema, folder }: PostgresOptions & { folder: string }) {
  const client = postgres(url, { max: 1, onnotice: () => {}, connection: { search_path: schema } });
  try {
    await client.unsafe(`create schema if not exists ${quoteIdent(schema)}`);
    await migrate(drizzle(client), { migrationsFolder: folder, migrationsSchema: schema });
  } finally {
    await client.end({ timeout: 5 });
  }
}

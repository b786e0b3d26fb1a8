import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { type Database, type Db, quoteIdent } from "./database.ts";

export type PostgresOptions = { url: string; schema: string; max?: number };

/** PostgreSQL through postgres.js; every connection runs in UTC with search_path = schema. */
export function connectPostgres({ url, schema, max = 10 }: PostgresOptions): Database {
  const client = postgres(url, {
    max,
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

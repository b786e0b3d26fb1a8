import postgres from "postgres";
import { type Database, quoteIdent } from "../db/database.ts";
import { MIGRATIONS_FOLDER } from "../db/migrations.ts";
import { openPglite } from "../db/pglite.ts";
import { connectPostgres, migratePostgres } from "../db/postgres.ts";

/**
 * A fresh, migrated database for one test file: a new schema on the real PostgreSQL when
 * DATABASE_URL is set (CI), otherwise an in-memory PGlite. `close()` drops what it made.
 */
export async function createTestDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL;
  const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  if (!url) return openPglite({ schema, migrations: MIGRATIONS_FOLDER });
  await migratePostgres({ url, schema, folder: MIGRATIONS_FOLDER });
  const database = connectPostgres({ url, schema, max: 20 });
  return {
    ...database,
    async close() {
      await database.close();
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop schema if exists ${quoteIdent(schema)} cascade`);
      await admin.end();
    },
  };
}

import postgres from "postgres";
import { type Database, quoteIdent } from "../db/database.ts";
import { MIGRATIONS_FOLDER } from "../db/migrations.ts";
import { openPglite } from "../db/pglite.ts";
import { connectPostgres, migratePostgres } from "../db/postgres.ts";

const PGLITE_SCHEMA = "flexibility";

// Creating and migrating a PGlite takes seconds; loading a dump of a migrated one takes a fraction.
// Test files share one process, so the template is made once and every file loads a copy.
let template: Promise<Blob> | null = null;
function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const database = await openPglite({ schema: PGLITE_SCHEMA, migrations: MIGRATIONS_FOLDER });
    const dump = await database.dump();
    await database.close();
    return dump;
  })();
  return template;
}

/**
 * A fresh, migrated database for one test file: a new schema on the real PostgreSQL when
 * DATABASE_URL is set (CI), otherwise an in-memory PGlite. `close()` drops what it made.
 */
export async function createTestDatabase(opts: { max?: number } = {}): Promise<Database> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    return openPglite({ from: await pgliteTemplate(), schema: PGLITE_SCHEMA, migrations: MIGRATIONS_FOLDER });
  }
  const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await migratePostgres({ url, schema, folder: MIGRATIONS_FOLDER });
  const database = connectPostgres({ url, schema, max: opts.max ?? 20 });
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

import type { Database } from "./database.ts";
import { MIGRATIONS_FOLDER } from "./migrations.ts";
import { openPglite } from "./pglite.ts";
import { connectPostgres } from "./postgres.ts";

export type OpenDatabaseOptions = {
  /** postgres:// URL; absent → embedded PGlite. */
  url?: string | undefined;
  schema: string;
  /** PGlite only: persist here; in memory when absent. */
  dataDir?: string | undefined;
  migrations?: string;
  max?: number;
};

/**
 * The store the configuration asks for. PostgreSQL is migrated separately (`bun run db:migrate`);
 * PGlite has no separate server, so it is migrated as it opens.
 */
export function openDatabase({
  url,
  schema,
  dataDir,
  migrations = MIGRATIONS_FOLDER,
  max,
}: OpenDatabaseOptions): Promise<Database> {
  if (url) return Promise.resolve(connectPostgres({ url, schema, max }));
  return openPglite({ dataDir, schema, migrations });
}

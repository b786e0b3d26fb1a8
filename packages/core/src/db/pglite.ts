import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { type Database, type Db, quoteIdent } from "./database.ts";

export type PgliteOptions = {
  /** A data directory to persist to; in-memory when absent. */
  dataDir?: string | undefined;
  /** Start from a dump (`dump()`) instead of an empty cluster: much faster than initdb. */
  from?: Blob;
  schema: string;
  /** Migrations folder; PGlite databases are migrated on open (there is no separate server). */
  migrations: string;
};

export type PgliteDatabase = Database & { dump(): Promise<Blob> };

/** Embedded PostgreSQL (WASM). One connection: statements and transactions are serialized. */
export async function openPglite({
  dataDir,
  from,
  schema,
  migrations,
}: PgliteOptions): Promise<PgliteDatabase> {
  // btree_gist: the exclusion constraint that keeps a member's live commitments from overlapping.
  const client = new PGlite({ dataDir, extensions: { btree_gist }, ...(from ? { loadDataDir: from } : {}) });
  await client.exec(
    `create schema if not exists ${quoteIdent(schema)}; set search_path to ${quoteIdent(schema)}; set timezone to 'UTC';`,
  );
  const db: Db = drizzle(client);
  await migrate(drizzle(client), { migrationsFolder: migrations, migrationsSchema: schema });
  return {
    db,
    driver: "pglite",
    schema,
    listen: (channel, onNotify) => client.listen(channel, onNotify),
    async ping() {
      await db.execute(sql`select 1`);
    },
    dump: () => client.dumpDataDir("none"),
    close: () => client.close(),
  };
}

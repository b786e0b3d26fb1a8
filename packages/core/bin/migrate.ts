// `bun run db:migrate`: apply drizzle/ to DATABASE_URL's DB_SCHEMA (idempotent). Without
// DATABASE_URL it migrates the development PGlite store under .data/.
import { mkdir } from "node:fs/promises";
import { MIGRATIONS_FOLDER, migratePostgres, openPglite } from "../src/db/index.ts";

const url = process.env.DATABASE_URL;
const schema = process.env.DB_SCHEMA || "flexibility";
if (url) {
  await migratePostgres({ url, schema, folder: MIGRATIONS_FOLDER });
  console.log(`migrated schema "${schema}" at ${url.replace(/:[^:@/]*@/, ":***@")}`);
} else {
  const dataDir = process.env.PGLITE_DATA_DIR || ".data/pglite";
  await mkdir(dataDir, { recursive: true });
  const db = await openPglite({ dataDir, schema, migrations: MIGRATIONS_FOLDER });
  await db.close();
  console.log(`migrated embedded PGlite at ${dataDir}`);
}

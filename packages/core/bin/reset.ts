// `bun run db:reset`: drop and re-create the schema. Development only.
import { rm } from "node:fs/promises";
import postgres from "postgres";
import { quoteIdent } from "../src/db/database.ts";
import { MIGRATIONS_FOLDER, migratePostgres } from "../src/db/index.ts";

if (process.env.CELINE_ENV !== "dev") {
  console.error("db:reset refuses to run unless CELINE_ENV=dev");
  process.exit(1);
}
const url = process.env.DATABASE_URL;
const schema = process.env.DB_SCHEMA || "flexibility";
if (url) {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  await client.unsafe(`drop schema if exists ${quoteIdent(schema)} cascade`);
  await client.end();
  await migratePostgres({ url, schema, folder: MIGRATIONS_FOLDER });
} else {
  await rm(process.env.PGLITE_DATA_DIR || ".data/pglite", { recursive: true, force: true });
}
console.log(`reset schema "${schema}"`);

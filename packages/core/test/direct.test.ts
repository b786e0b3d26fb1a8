import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/database.ts";
import { copyOut, preparedRows } from "../src/db/direct.ts";
import { createTestDatabase } from "../src/testing/index.ts";

// Direct driver access for the hot reads: COPY … TO STDOUT and named prepared statements, through either driver (postgres.js with DATABASE_URL, PGlite without). One pooled
// connection, so a COPY that left it unusable shows up as the next statement never answering.

let database: Database;
beforeAll(async () => {
  database = await createTestDatabase({ max: 1 });
});
afterAll(() => database.close());

const rowsOf = (n: number) => `select i, repeat('x', 100) from generate_series(1, ${n}) as i`;
const decoder = new TextDecoder();

async function collect(select: string): Promise<{ chunks: Uint8Array[]; text: string }> {
  const chunks: Uint8Array[] = [];
  for await (const step of copyOut(database.db, select)) chunks.push(...step);
  return { chunks, text: chunks.map((chunk) => decoder.decode(chunk)).join("") };
}

describe("copyOut", () => {
  test("answers every line of COPY text, each chunk ending at a line's end", async () => {
    const { chunks, text } = await collect(rowsOf(5_000));
    const lines = text.split("\n").slice(0, -1);
    expect(lines).toHaveLength(5_000);
    expect(lines[0]).toBe(`1\t${"x".repeat(100)}`);
    expect(lines.at(-1)).toBe(`5000\t${"x".repeat(100)}`);
    for (const chunk of chunks) expect(chunk.at(-1)).toBe(10);
  });

  test("back-to-back COPYs larger than the stream's buffer leave the connection usable", async () => {
    for (const n of [1_000, 10_000, 20_000, 3]) {
      const { text } = await collect(rowsOf(n));
      expect(text.split("\n").length - 1).toBe(n);
    }
    const result = (await database.db.execute(sql`select 42 as answer`)) as unknown;
    // postgres.js answers the rows themselves, PGlite an object holding them.
    const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
    expect(rows).toEqual([{ answer: 42 }]);
  });

  test("a reader that stops after the first chunk leaves the connection usable", async () => {
    for await (const _ of copyOut(database.db, rowsOf(50_000))) break;
    const { text } = await collect(rowsOf(2));
    expect(text).toBe(`1\t${"x".repeat(100)}\n2\t${"x".repeat(100)}\n`);
  });

  test("an empty result answers no chunk", async () => {
    expect((await collect("select 1 where false")).chunks).toEqual([]);
  });

  test("a failing statement rejects", async () => {
    await expect(collect("select 1 / 0")).rejects.toThrow(/division by zero/);
  });
});

describe("preparedRows", () => {
  test("answers rows keyed by column, instants as PostgreSQL's text in UTC, numbers parsed", async () => {
    const rows = await preparedRows(
      database.db,
      "select $1::text as name, timestamptz '2026-03-29 01:30:00.123456+02' as at, 7::int as n, 1.50::numeric as kwh",
      ["ok"],
    );
    expect(rows).toEqual([{ name: "ok", at: "2026-03-28 23:30:00.123456+00", n: 7, kwh: "1.50" }]);
  });

  test.skipIf(!process.env.DATABASE_URL)(
    "on PostgreSQL the statement is a named prepared one, kept by the connection",
    async () => {
      const text = "select count(*)::int as n from generate_series(1, $1::int)";
      await preparedRows(database.db, text, [3]);
      const kept = await preparedRows(
        database.db,
        "select count(*)::int as n from pg_prepared_statements where statement = $1",
        [text],
      );
      expect(kept).toEqual([{ n: 1 }]);
    },
  );
});

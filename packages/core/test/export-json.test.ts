import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc, sql } from "drizzle-orm";
import fc from "fast-check";
import { JsonRowWriter } from "../src/commitments/copy-to-json.ts";
import { type ExportFormat, exportCommitments } from "../src/commitments/export-commitments.ts";
import { listCommitments } from "../src/commitments/list-commitments.ts";
import { toCommitmentOut } from "../src/commitments/out.ts";
import type { Database } from "../src/db/database.ts";
import { copyBatchRows } from "../src/db/direct.ts";
import { commitments } from "../src/db/schema.ts";
import { createTestCtx, createTestDatabase } from "../src/testing/index.ts";

// The export renders PostgreSQL's COPY text byte by byte, and the list reads the wire columns as text
// (wireRowToCommitmentOut); every other verb maps drizzle's rows with toCommitmentOut. All must answer
// the same bytes for every row the table can hold.

let database: Database;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

const exporter = () =>
  createTestCtx({
    db: database.db,
    actor: { kind: "service", id: "svc-pipelines", clientId: null, scopes: [], roles: [] },
    authorizer: async () => ({ allow: true, reason: "test" }),
  });

async function exported(format: ExportFormat, input = {}): Promise<string> {
  const { body } = await exportCommitments({ ctx: exporter(), input, format });
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** toCommitmentOut of every row, oldest first, as one JSON text per row. */
async function listed(): Promise<string[]> {
  const rows = await database.db
    .select()
    .from(commitments)
    .orderBy(asc(commitments.createdAt), asc(commitments.id));
  return rows.map((row) => JSON.stringify(toCommitmentOut(row)));
}

// Text PostgreSQL can hold (no NUL), rich in what COPY and JSON escape.
const tricky = fc.constantFrom("\\", '"', "\t", "\n", "\r", "\b", "\f", "\v", "\u0001", "\u001f", "\u007f");
const text = fc.string({
  unit: fc.oneof(
    tricky,
    fc.constantFrom("é", "😀", "\u2028", "N", "\\N"),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }).filter((c) => !c.includes("\u0000")),
  ),
  maxLength: 12,
});
// Decimals across the fast path's edges: many digits, tiny and huge magnitudes, signs, zeros, NaN.
const decimal = fc.oneof(
  fc.constant(null),
  fc.constantFrom("0", "-0.000", "0.000001", "0.0000001", "1e21", "123456789012345.6", "NaN", "Infinity"),
  fc
    .tuple(
      fc.boolean(),
      fc.stringMatching(/^[0-9]{1,23}$/),
      fc.option(fc.stringMatching(/^[0-9]{1,22}$/), { nil: undefined }),
    )
    .map(([negative, int, fraction]) => `${negative ? "-" : ""}${int}${fraction ? `.${fraction}` : ""}`),
);
// Instants as PostgreSQL text with microseconds, years 100–9999 (both sides of 1000 and of 1970): what
// parseInstant lets in (years below 100 it refuses, as Date.UTC would read them as 19xx).
const instant = fc
  .tuple(
    fc.date({
      min: new Date("0100-01-01T00:00:00Z"),
      max: new Date("9999-12-31T00:00:00Z"),
      noInvalidDate: true,
    }),
    fc.integer({ min: 0, max: 999 }),
    fc.constantFrom(0, 1, 3, 6),
  )
  .map(([date, micros, digits]) => {
    const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, "0")}`.slice(0, digits);
    return `${iso.slice(0, 19)}${digits ? `.${fraction}` : ""}Z`;
  });
const row = fc.record({
  userId: text,
  suggestionId: text,
  suggestionType: text,
  communityId: fc.option(text, { nil: null }),
  deviceId: fc.option(text, { nil: null }),
  periodStart: instant,
  committedAt: instant,
  settledAt: fc.option(instant, { nil: null }),
  createdAt: instant,
  status: fc.constantFrom("committed", "settled", "rejected", "cancelled"),
  rewardPointsEstimated: fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
  rewardPointsActual: fc.option(fc.integer({ min: 0, max: 2_147_483_647 }), { nil: null }),
  actualKwh: decimal,
  baselineKwh: decimal,
  baselineDays: fc.option(fc.integer({ min: -5, max: 30 }), { nil: null }),
  deliveredKwh: decimal,
  settlementOutcome: fc.option(fc.constantFrom("delivered", "no_baseline", "manual"), { nil: null }),
  origin: fc.constantFrom("member", "operator"),
  settlementRevision: fc.integer({ min: 0, max: 2_147_483_647 }),
});
type GeneratedRow = typeof row extends fc.Arbitrary<infer T> ? T : never;

async function replaceRows(rows: GeneratedRow[]) {
  await database.db.delete(commitments);
  if (rows.length === 0) return;
  const at = (value: string | null) => (value === null ? null : sql`${value}::timestamptz`);
  await database.db.insert(commitments).values(
    rows.map((r) => ({
      ...r,
      // Live commitments are unique per member and window: the status of the generated row is kept
      // only where it cannot collide.
      status: r.status === "committed" ? ("cancelled" as const) : r.status,
      periodStart: at(r.periodStart),
      periodEnd: sql`${r.periodStart}::timestamptz + interval '1 hour'`,
      committedAt: at(r.committedAt),
      settledAt: at(r.settledAt),
      createdAt: at(r.createdAt),
    })) as never,
  );
}

describe("export rendering", () => {
  test("every row is exactly what toCommitmentOut + JSON.stringify make of it (JSON array, NDJSON, list)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 8 }), async (rows) => {
        await replaceRows(rows);
        const expected = await listed();
        expect(await exported("json")).toBe(`[${expected.join(",")}]`);
        expect(await exported("ndjson")).toBe(expected.map((line) => `${line}\n`).join(""));
        // The list verb, member by member (those a query parameter can name: user_id is trimmed, never
        // empty): the same text for every row it answers.
        for (const member of new Set(
          rows.map((r) => r.userId).filter((id) => id !== "" && id.trim() === id),
        )) {
          const page = await listCommitments({ ctx: exporter(), input: { user_id: member, limit: 200 } });
          expect(page.total).toBe(page.items.length);
          for (const item of page.items) expect(expected).toContain(JSON.stringify(item));
        }
      }),
      { numRuns: 60 },
    );
  });

  test("rows beyond one statement's batch follow on, in order, each once", async () => {
    const count = copyBatchRows(database.db) + 250; // one statement's batch, and some
    await database.db.delete(commitments);
    await database.db.execute(sql`
      insert into ${commitments} (user_id, suggestion_id, status, period_start, period_end, created_at)
      select 'm-' || (i % 7), 's-' || i, 'settled', now(), now() + interval '1 hour',
             timestamptz '2026-01-01' + (i / 3) * interval '1 millisecond'
      from generate_series(1, ${count}) as i`);
    const expected = await listed();
    const body = await exported("ndjson");
    expect(body.split("\n").slice(0, -1)).toEqual(expected);
    const array = JSON.parse(await exported("json")) as unknown[];
    expect(array.length).toBe(count);
  });
});

describe("JsonRowWriter", () => {
  const encode = (lines: string[]) => new TextEncoder().encode(lines.join("\n"));
  const fields = (values: string[]) => values.join("\t");
  const base = [
    "0b6e4e2a-0000-4000-8000-000000000001",
    'a\\\\b\\tc\\nd"e',
    "s",
    "t",
    "\\N",
    "\\N",
    "2026-03-29 01:30:00+00",
    "2026-03-29 02:30:00.5+00",
    "2026-03-29 00:00:00.123456+00",
    "\\N",
    "\\N",
    "settled",
    "-7",
    "\\N",
    "1.500",
    "-0.000",
    "\\N",
    "0.0000001",
    "\\N",
    "2026-01-01 00:00:00.999999+00",
    "operator",
    "3",
  ];

  test("unescapes COPY text and escapes it as JSON, pads and truncates fractions, trims decimals", () => {
    const writer = new JsonRowWriter("ndjson");
    expect(writer.write(encode([fields(base)]))).toBe(1);
    expect(JSON.parse(new TextDecoder().decode(writer.finish()))).toEqual({
      id: "0b6e4e2a-0000-4000-8000-000000000001",
      user_id: 'a\\b\tc\nd"e',
      suggestion_id: "s",
      suggestion_type: "t",
      community_id: null,
      device_id: null,
      period_start: "2026-03-29T01:30:00.000Z",
      period_end: "2026-03-29T02:30:00.500Z",
      committed_at: "2026-03-29T00:00:00.123Z",
      settled_at: null,
      reminded_at: null,
      status: "settled",
      reward_points_estimated: -7,
      reward_points_actual: null,
      actual_kwh: 1.5,
      baseline_kwh: 0,
      baseline_days: null,
      delivered_kwh: 1e-7,
      settlement_outcome: null,
      created_at: "2026-01-01T00:00:00.999Z",
      origin: "operator",
      settlement_revision: 3,
    });
  });

  test("an instant in another session time zone still comes out in UTC", () => {
    const writer = new JsonRowWriter("ndjson");
    const shifted = base.with(6, "2026-03-29 03:30:00+02");
    writer.write(encode([fields(shifted)]));
    const out = JSON.parse(new TextDecoder().decode(writer.finish()));
    expect(out.period_start).toBe("2026-03-29T01:30:00.000Z");
  });

  test("the JSON array: [ before the first row, commas between, ] at the end; [] when empty", () => {
    const writer = new JsonRowWriter("json");
    expect(writer.write(encode([fields(base), fields(base)]))).toBe(2);
    writer.write(encode([fields(base)]));
    expect(JSON.parse(new TextDecoder().decode(writer.finish()))).toHaveLength(3);
    expect(new TextDecoder().decode(new JsonRowWriter("json").finish())).toBe("[]");
    expect(new TextDecoder().decode(new JsonRowWriter("ndjson").finish())).toBe("");
  });

  test("take() hands out what was written and starts over; the buffer grows for long rows", () => {
    const writer = new JsonRowWriter("ndjson");
    const long = base.with(1, "\u0001".repeat(100_000));
    writer.write(encode([fields(long)]));
    const first = writer.take();
    expect(writer.length).toBe(0);
    expect(JSON.parse(new TextDecoder().decode(first)).user_id).toBe("\u0001".repeat(100_000));
    writer.write(encode([fields(base)]));
    expect(JSON.parse(new TextDecoder().decode(writer.take())).status).toBe("settled");
  });
});

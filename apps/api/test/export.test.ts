import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { commitments } from "@celine/core/db";
import { sql } from "drizzle-orm";
import { COLLECT_EVERY_BYTES } from "../src/routes/commitments/export.ts";
import {
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  SCOPE,
  seedCommitment,
  separateWindow,
  WIRE_KEYS,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// GET /api/commitments/export (PLATFORM §1: the rec_flexibility_commitments pipeline, issue 2 item 4).

let h: Harness;
let exporter: string;
/** Every seeded id, oldest created_at first (ties by id). */
let oldestFirst: string[] = [];
const T0 = Date.UTC(2026, 5, 1, 10);
const hour = 3_600_000;

beforeAll(async () => {
  h = await createHarness();
  exporter = await h.service([SCOPE.export], "svc-pipelines");
  const statuses = ["committed", "settled", "rejected", "cancelled"] as const;
  const seeded: { id: string; at: number }[] = [];
  // 13 rows over four members and all statuses, inserted newest first; two share one created_at.
  for (let i = 12; i >= 0; i -= 1) {
    const at = T0 + Math.min(i, 11) * hour;
    const status = statuses[i % 4] ?? "committed";
    const { id } = await seedCommitment(h, {
      userId: `member-${i % 4}`,
      status,
      createdAt: new Date(at),
      committedAt: new Date(at),
      // A member's live commitments never overlap.
      ...separateWindow(),
      ...(status === "settled"
        ? {
            rewardPointsActual: 12,
            actualKwh: "2.75",
            settledAt: new Date(at + hour),
            settlementOutcome: "manual",
          }
        : {}),
    });
    seeded.push({ id, at });
  }
  oldestFirst = seeded.toSorted((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((r) => r.id);
}, HOOK_TIMEOUT);
afterAll(() => h.close());

const exportCall = (token: string | undefined, query = "", headers: Record<string, string> = {}) =>
  h.call("GET", `/api/commitments/export${query}`, { token, headers });
const idsOf = (items: { id: string }[]) => items.map((c) => c.id);
const ndjsonLines = (text: string) =>
  text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));

/** Follow X-Next-Cursor from `query` to the end; answers every page's ids. */
async function followPages(query: string, headers: Record<string, string> = {}) {
  const pages: string[][] = [];
  let next: string | null = query;
  while (next !== null && pages.length < 50) {
    const res = await exportCall(exporter, next, headers);
    expect(res.status, res.text).toBe(200);
    const items = headers.accept === "application/x-ndjson" ? ndjsonLines(res.text) : res.json;
    pages.push(idsOf(items));
    const cursor = res.headers.get("x-next-cursor");
    if (cursor) {
      expect(res.headers.get("link"), "Link rel=next beside X-Next-Cursor").toContain('rel="next"');
      expect(res.headers.get("link")).toContain(`cursor=${cursor}`);
    }
    next = cursor ? `?limit=${new URLSearchParams(query.slice(1)).get("limit")}&cursor=${cursor}` : null;
  }
  return pages;
}

describe("happy", () => {
  test("without paging: one plain JSON array of every member and status, oldest first", async () => {
    const res = await exportCall(exporter);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.headers.get("x-next-cursor")).toBeNull();
    expect(Array.isArray(res.json), res.text).toBe(true);
    expect(idsOf(res.json)).toEqual(oldestFirst);
    expect(new Set(res.json.map((c: { user_id: string }) => c.user_id)).size).toBe(4);
    expect(new Set(res.json.map((c: { status: string }) => c.status))).toEqual(
      new Set(["committed", "settled", "rejected", "cancelled"]),
    );
    for (const item of res.json)
      for (const key of WIRE_KEYS) expect(item, `missing ${key}`).toHaveProperty(key);
  });

  test("each exported row is exactly what the list route answers for it", async () => {
    const exported = (await exportCall(exporter)).json as { id: string; user_id: string }[];
    const reader = await h.service([SCOPE.read]);
    for (const member of ["member-0", "member-1", "member-2", "member-3"]) {
      const listed = await h.call("GET", `/api/commitments?user_id=${member}&limit=200`, { token: reader });
      for (const item of listed.json.items) {
        expect(exported.find((e) => e.id === item.id)).toEqual(item);
      }
    }
  });

  test("created_after keeps only rows created strictly after the instant", async () => {
    const res = await exportCall(exporter, "?created_after=2026-06-01T15:00:00Z");
    expect(res.status, res.text).toBe(200);
    expect(idsOf(res.json)).toEqual(oldestFirst.slice(6));
  });

  test.each([
    ["Z", "2026-06-01T15:00:00Z"],
    ["naive (means UTC)", "2026-06-01T15:00:00"],
    ["an encoded + offset", "2026-06-01T17:00:00%2B02:00"],
    ["a raw + that URL decoding turns into a space", "2026-06-01T17:00:00+02:00"],
    ["a literal space before the offset", "2026-06-01T17:00:00%2002:00"],
    ["a raw + before a compact offset", "2026-06-01T17:00:00+0200"],
    ["a negative offset", "2026-06-01T10:00:00-05:00"],
    ["a naive time with a space separator", "2026-06-01%2015:00"],
    ["a space separator and a raw + offset", "2026-06-01%2017:00:00+02:00"],
  ])("created_after with %s means the same instant", async (_, value) => {
    const res = await exportCall(exporter, `?created_after=${value}`);
    expect(res.status, res.text).toBe(200);
    expect(idsOf(res.json)).toEqual(oldestFirst.slice(6));
  });

  test("limit + cursor: pages follow X-Next-Cursor to the end, each row once, oldest first", async () => {
    const pages = await followPages("?limit=4");
    expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 1]);
    expect(pages.flat()).toEqual(oldestFirst);
  });

  test("a page size that divides the rows exactly ends without a dangling empty page", async () => {
    const pages = await followPages("?limit=13");
    expect(pages).toEqual([oldestFirst]);
  });

  test("limit=1 walks through rows that share a created_at", async () => {
    const pages = await followPages("?limit=1");
    expect(pages.flat()).toEqual(oldestFirst);
  });

  test("paging combines with created_after", async () => {
    const pages = await followPages("?limit=3&created_after=2026-06-01T15:00:00Z");
    const cursorPages = pages.flat();
    expect(cursorPages).toEqual(oldestFirst.slice(6));
  });

  test("Accept: application/x-ndjson answers one object per line, same rows and order", async () => {
    const res = await exportCall(exporter, "", { accept: "application/x-ndjson" });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    expect(res.text.endsWith("\n")).toBe(true);
    expect(idsOf(ndjsonLines(res.text))).toEqual(oldestFirst);
  });

  test("NDJSON pages with a cursor too", async () => {
    const pages = await followPages("?limit=5", { accept: "application/x-ndjson" });
    expect(pages.flat()).toEqual(oldestFirst);
  });

  test("nothing after created_after → [] (JSON) and an empty body (NDJSON)", async () => {
    const json = await exportCall(exporter, "?created_after=2030-01-01T00:00:00Z");
    expect(json.status, json.text).toBe(200);
    expect(json.text).toBe("[]");
    const ndjson = await exportCall(exporter, "?created_after=2030-01-01T00:00:00Z", {
      accept: "application/x-ndjson",
    });
    expect(ndjson.status, ndjson.text).toBe(200);
    expect(ndjson.text).toBe("");
  });
});

describe("errors", () => {
  const forged = (key: string) => btoa(key).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  test.each([
    ["not base64", "!!!"],
    ["base64 of junk", forged("hello world")],
    ["an impossible instant", forged("9999-99-99T99:99:99Z|0b0e5ad5-6c1e-4a61-9a2a-2d1f3b8f3b10")],
    ["seconds out of range", forged("2026-06-01T10:00:99.000000Z|0b0e5ad5-6c1e-4a61-9a2a-2d1f3b8f3b10")],
    ["a malformed uuid", forged("2026-06-01T10:00:00.000000Z|------------------------------------")],
    ["an empty key", forged("|")],
  ])("a cursor that is %s → 422 naming cursor", async (_, cursor) => {
    expectFieldError(await exportCall(exporter, `?cursor=${cursor}`), "cursor");
    expectFieldError(await exportCall(exporter, `?limit=2&cursor=${cursor}`), "cursor");
  });

  test.each([
    ["created_after not a date", "?created_after=yesterday", "created_after"],
    ["created_after impossible", "?created_after=2026-13-01T00:00:00Z", "created_after"],
    ["limit=0", "?limit=0", "limit"],
    ["limit not a number", "?limit=many", "limit"],
    ["limit above 100000", "?limit=100001", "limit"],
  ])("%s → 422 naming the field", async (_, query, field) => {
    expectFieldError(await exportCall(exporter, query), field);
  });
});

describe("security", () => {
  test("no token → 401", async () => {
    expectProblem(await exportCall(undefined), 401);
  });

  test.each([
    ["flexibility.admin", [SCOPE.admin]],
    ["flexibility.commitments.read", [SCOPE.read]],
    ["flexibility.commitments.write", [SCOPE.write]],
    ["the legacy read and write scopes", [SCOPE.legacyRead, SCOPE.legacyWrite]],
    ["admin, read and write together", [SCOPE.admin, SCOPE.read, SCOPE.write]],
  ])("only the export scope reaches it: %s → 403 naming the export scope", async (_, scopes) => {
    const res = await exportCall(await h.service(scopes));
    expectProblem(res, 403, "missing scope flexibility.commitments.export");
  });

  test("a participant → 403", async () => {
    expectProblem(await exportCall(await h.participant("member-0")), 403);
  });

  test("a refused export streams no rows", async () => {
    const res = await exportCall(await h.service([SCOPE.admin]), "", { accept: "application/x-ndjson" });
    expect(res.status).toBe(403);
    for (const id of oldestFirst) expect(res.text).not.toContain(id);
  });
});

describe("memory", () => {
  // The runtime's full collection is handed in by the entry point (Bun.gc(true)); here a counter.
  let m: Harness;
  let token: string;
  let collections = 0;
  const ROWS = 37_500; // ~560 bytes of JSON each: ~2.5 × COLLECT_EVERY_BYTES

  beforeAll(async () => {
    m = await createHarness({ collectGarbage: () => (collections += 1) });
    token = await m.service([SCOPE.export], "svc-pipelines");
    await m.database.db.execute(sql`
      insert into ${commitments} (user_id, suggestion_id, status, period_start, period_end, created_at)
      select 'member-' || (i % 50), 'suggestion-' || i, 'settled', now(), now() + interval '1 hour',
             timestamptz '2026-01-01' + i * interval '1 second'
      from generate_series(1, ${ROWS}) as i`);
  }, HOOK_TIMEOUT);
  afterAll(() => m.close());

  test("a long export asks the runtime for a full collection after every COLLECT_EVERY_BYTES streamed", async () => {
    collections = 0;
    const res = await m.call("GET", "/api/commitments/export", { token });
    expect(res.status).toBe(200);
    expect(res.json).toHaveLength(ROWS);
    const bytes = Buffer.byteLength(res.text);
    expect(bytes / COLLECT_EVERY_BYTES, "the body spans two intervals and part of a third").toBeWithin(
      2.1,
      2.9,
    );
    expect(collections).toBe(2);
  });

  test("a page of the export streams too little to ask for one", async () => {
    collections = 0;
    const res = await m.call("GET", "/api/commitments/export?limit=1000", { token });
    expect(res.status).toBe(200);
    expect(res.json).toHaveLength(1000);
    expect(collections).toBe(0);
  });
});

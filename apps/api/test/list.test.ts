import { afterAll, beforeAll, describe, expect, test } from "bun:test";
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

// GET /api/commitments (PLATFORM §1, issue 2 item 4).

let h: Harness;
let alice: string;
let reader: string;
/** alice's 60 rows, newest committed_at first. */
const aliceIds: string[] = [];
const STATUSES = ["committed", "settled", "rejected", "cancelled"] as const;

beforeAll(async () => {
  h = await createHarness();
  alice = await h.participant("alice");
  reader = await h.service([SCOPE.read]);
  // 60 rows an hour apart, statuses cycling, inserted out of order so insertion order proves nothing.
  const rows = Array.from({ length: 60 }, (_, i) => i).sort((a, b) => ((a * 37) % 60) - ((b * 37) % 60));
  const byHour = new Map<number, string>();
  for (const i of rows) {
    const { id } = await seedCommitment(h, {
      userId: "alice",
      status: STATUSES[i % 4],
      committedAt: new Date(Date.UTC(2026, 5, 1, i)),
      // A member's live commitments never overlap.
      ...separateWindow(),
    });
    byHour.set(i, id);
  }
  for (let i = 59; i >= 0; i -= 1) aliceIds.push(byHour.get(i) as string);
  for (let i = 0; i < 3; i += 1) await seedCommitment(h, { userId: "bob", ...separateWindow() });
}, HOOK_TIMEOUT);
afterAll(() => h.close());

const list = (token: string | undefined, query = "") => h.call("GET", `/api/commitments${query}`, { token });

describe("happy", () => {
  test("a participant sees only their own commitments, newest committed_at first, default page of 50", async () => {
    const res = await list(alice);
    expect(res.status, res.text).toBe(200);
    expect(res.json.total).toBe(60);
    expect(res.json.items).toHaveLength(50);
    expect(res.json.items.map((c: { id: string }) => c.id)).toEqual(aliceIds.slice(0, 50));
    for (const item of res.json.items) {
      expect(item.user_id).toBe("alice");
      for (const key of WIRE_KEYS) expect(item, `missing ${key}`).toHaveProperty(key);
    }
  });

  test("total is the number of matching rows, not the size of the page", async () => {
    const res = await list(alice, "?limit=2");
    expect(res.status, res.text).toBe(200);
    expect(res.json.items).toHaveLength(2);
    expect(res.json.total).toBe(60);
  });

  test("limit and offset page through the rows in order", async () => {
    const pages: string[] = [];
    for (let offset = 0; offset < 60; offset += 25) {
      const res = await list(alice, `?limit=25&offset=${offset}`);
      expect(res.status, res.text).toBe(200);
      expect(res.json.total).toBe(60);
      pages.push(...res.json.items.map((c: { id: string }) => c.id));
    }
    expect(pages).toEqual(aliceIds);
  });

  test.each([
    ["limit=1", "?limit=1", 1],
    ["limit=200", "?limit=200", 60],
    ["offset past the end", "?offset=100", 0],
    ["offset=55", "?offset=55", 5],
  ])("%s answers the right slice", async (_, query, length) => {
    const res = await list(alice, query);
    expect(res.status, res.text).toBe(200);
    expect(res.json.items).toHaveLength(length);
    expect(res.json.total).toBe(60);
  });

  test.each(STATUSES)("status=%s filters, and total counts only that status", async (status) => {
    const res = await list(alice, `?status=${status}&limit=200`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.total).toBe(15);
    expect(res.json.items).toHaveLength(15);
    for (const item of res.json.items) expect(item.status).toBe(status);
  });

  test("a participant's user_id parameter is ignored", async () => {
    const res = await list(alice, "?user_id=bob&limit=200");
    expect(res.status, res.text).toBe(200);
    expect(res.json.total).toBe(60);
    for (const item of res.json.items) expect(item.user_id).toBe("alice");
  });

  test("a participant with no commitments gets an empty page and total 0", async () => {
    const res = await list(await h.participant("nobody"));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ items: [], total: 0 });
  });

  test.each([
    ["flexibility.commitments.read", SCOPE.read],
    ["legacy flexibility.read", SCOPE.legacyRead],
    ["flexibility.admin", SCOPE.admin],
  ])("a service with %s lists the named member", async (_, scope) => {
    const res = await list(await h.service([scope]), "?user_id=bob");
    expect(res.status, res.text).toBe(200);
    expect(res.json.total).toBe(3);
    for (const item of res.json.items) expect(item.user_id).toBe("bob");
  });
});

describe("errors", () => {
  test.each([
    ["status outside the four values", "?status=pending", "status"],
    ["status in the wrong case", "?status=COMMITTED", "status"],
    ["limit=0", "?limit=0", "limit"],
    ["limit=201", "?limit=201", "limit"],
    ["limit not a number", "?limit=ten", "limit"],
    ["limit fractional", "?limit=1.5", "limit"],
    ["limit empty", "?limit=", "limit"],
    ["offset negative", "?offset=-1", "offset"],
    ["offset not a number", "?offset=x", "offset"],
    ["status repeated", "?status=committed&status=settled", "status"],
  ])("%s → 422 naming the field", async (_, query, field) => {
    expectFieldError(await list(alice, query), field);
  });

  test("a service without user_id → 422 naming user_id", async () => {
    expectFieldError(await list(reader), "user_id");
  });

  test("a service with an empty user_id → 422 naming user_id", async () => {
    expectFieldError(await list(reader, "?user_id="), "user_id");
  });

  test("a user_id with a NUL → 422, not a database error", async () => {
    expectFieldError(await list(reader, "?user_id=a%00b"), "user_id");
  });
});

describe("security", () => {
  test("no token → 401", async () => {
    expectProblem(await list(undefined), 401, "missing");
  });

  test.each([
    ["write scope only", [SCOPE.write]],
    ["export scope only", [SCOPE.export]],
    ["no scope", []],
  ])("a service with %s → 403 naming the read scope", async (_, scopes) => {
    const res = await list(await h.service(scopes), "?user_id=alice");
    expectProblem(res, 403, "missing scope flexibility.commitments.read");
  });

  test("a participant never sees another member's rows, whatever the query", async () => {
    const mallory = await h.participant("mallory");
    for (const query of ["", "?user_id=alice", "?user_id=alice&status=committed", "?limit=200"]) {
      const res = await list(mallory, query);
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual({ items: [], total: 0 });
    }
  });
});

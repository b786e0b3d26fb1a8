import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { OidcIssuer, RecRegistry, RegistryCommunity } from "../src/index.ts";
import { startOidcIssuer, startRecRegistry } from "../src/index.ts";

let issuer: OidcIssuer;
let registry: RecRegistry;
let token: string;

const communities: RegistryCommunity[] = Array.from({ length: 5 }, (_, i) => ({
  key: `rec-${i}`,
  name: `REC ${i}`,
  members: Array.from({ length: i === 0 ? 7 : 1 }, (_, m) => ({
    id: `m-${i}-${m}`,
    key: `k-${i}-${m}`,
    user_id: m === 2 ? null : `user-${i}-${m}`,
    name: `Member ${m}`,
    role: "consumer",
    area: "north",
    status: "active",
  })),
}));

beforeAll(async () => {
  issuer = await startOidcIssuer();
  registry = await startRecRegistry({ issuer });
  registry.seed(communities);
  token = await issuer.mintService("svc-flexibility", ["rec-registry.read"]);
});
afterAll(async () => {
  await registry.close();
  await issuer.close();
});

function get(path: string, bearer: string | null = token) {
  return fetch(`${registry.url}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
}

type Page = { items: Record<string, unknown>[]; next_cursor: string | null };

async function readAll(
  path: string,
  limit: number,
): Promise<{ items: Record<string, unknown>[]; pages: number }> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = (await (await get(`${path}?${query}`)).json()) as Page;
    items.push(...page.items);
    cursor = page.next_cursor;
    pages += 1;
  } while (cursor !== null && pages < 20);
  return { items, pages };
}

describe("REC registry", () => {
  test("missing token → 401; participant token → 403", async () => {
    expect((await get("/admin/communities", null)).status).toBe(401);
    expect((await get("/admin/communities", await issuer.mintParticipant("alice"))).status).toBe(403);
  });

  test("communities page with a cursor until next_cursor is null", async () => {
    const { items, pages } = await readAll("/admin/communities", 2);
    expect(pages).toBe(3);
    expect(items.map((c) => c.key)).toEqual(["rec-0", "rec-1", "rec-2", "rec-3", "rec-4"]);
  });

  test("members page too, user_id null kept for the consumer to skip", async () => {
    const { items, pages } = await readAll("/admin/communities/rec-0/members", 3);
    expect(pages).toBe(3);
    expect(items).toHaveLength(7);
    expect(items.filter((m) => m.user_id === null)).toHaveLength(1);
    expect(Object.keys(items[0] ?? {}).sort()).toEqual([
      "area",
      "id",
      "key",
      "name",
      "role",
      "status",
      "user_id",
    ]);
  });

  test("unknown community → 404; bad cursor → 400; bad limit → 422", async () => {
    expect((await get("/admin/communities/nope/members")).status).toBe(404);
    expect((await get("/admin/communities?cursor=garbage")).status).toBe(400);
    expect((await get("/admin/communities?limit=0")).status).toBe(422);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createLogger, createMetrics, type Metrics, type RegistryMember, UpstreamError } from "@celine/core";
import type { OidcIssuer, RecRegistry, RegistryCommunity } from "@celine/fakes";
import { startOidcIssuer, startRecRegistry } from "@celine/fakes";
import type { TokenProvider } from "../src/index.ts";
import { createRegistryClient, createTokenProvider } from "../src/index.ts";

let issuer: OidcIssuer;
let fake: RecRegistry;
let tokens: TokenProvider;
let metrics: Metrics;

const log = createLogger({ level: "silent" });

function member(i: number, userId: string | null): RegistryCommunity["members"][number] {
  return {
    id: `id-${i}`,
    key: `m-${i}`,
    user_id: userId,
    name: `Member ${i}`,
    role: "consumer",
    area: "a",
    status: "active",
  };
}

const communities: RegistryCommunity[] = Array.from({ length: 7 }, (_, c) => ({
  key: `rec-${c}`,
  name: `REC ${c}`,
  members:
    c === 0
      ? Array.from({ length: 23 }, (_, i) => member(i, i % 5 === 0 ? null : `user-${i}`))
      : [member(100 + c, `user-${100 + c}`)],
}));

function client(overrides: Partial<Parameters<typeof createRegistryClient>[0]> = {}) {
  return createRegistryClient({
    baseUrl: fake.url,
    tokens,
    metrics,
    log,
    pageSize: 5,
    backoffMs: 5,
    ...overrides,
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  fake = await startRecRegistry({ issuer, scope: "rec-registry.read" });
  tokens = createTokenProvider({
    issuerUrl: issuer.url,
    clientId: "svc-flexibility",
    clientSecret: "svc-flexibility-secret",
  });
});
afterAll(async () => {
  await fake.close();
  await issuer.close();
});
beforeEach(() => {
  fake.reset();
  fake.clearCalls();
  fake.seed(communities);
  metrics = createMetrics();
});

describe("REC registry", () => {
  test("communities: every page is read, following next_cursor to the end", async () => {
    const got = await collect(client({ scope: "rec-registry.read" }).communities());
    expect(got.map((c) => c.key)).toEqual(communities.map((c) => c.key));
    expect(got[0]).toEqual({ key: "rec-0", name: "REC 0" });
    // 7 communities at 5 a page: two pages, the second with a cursor.
    expect(fake.calls.map((call) => call.query)).toEqual([
      { limit: "5" },
      { limit: "5", cursor: expect.any(String) },
    ]);
  });

  test("members: all pages, members without user_id returned with user_id null", async () => {
    const got: RegistryMember[] = await collect(client({ scope: "rec-registry.read" }).members("rec-0"));
    expect(got).toHaveLength(23);
    expect(got.filter((m) => m.user_id === null).map((m) => m.key)).toEqual([
      "m-0",
      "m-5",
      "m-10",
      "m-15",
      "m-20",
    ]);
    expect(got[1]).toMatchObject({
      id: "id-1",
      key: "m-1",
      user_id: "user-1",
      name: "Member 1",
      role: "consumer",
    });
    expect(fake.calls).toHaveLength(5);
    expect(fake.calls[0]?.path).toBe("/admin/communities/rec-0/members");
  });

  test("pages are fetched lazily: stopping early reads no further page", async () => {
    for await (const _ of client({ scope: "rec-registry.read" }).members("rec-0")) break;
    expect(fake.calls).toHaveLength(1);
  });

  test("a 503 on a later page is retried and the iteration continues where it was", async () => {
    const registry = client({ scope: "rec-registry.read" });
    const got: string[] = [];
    for await (const m of registry.members("rec-0")) {
      got.push(m.key);
      if (got.length === 5) fake.failNext(503, 1);
    }
    expect(got).toHaveLength(23);
    expect(fake.calls.map((call) => call.status)).toEqual([200, 503, 200, 200, 200, 200]);
  });

  test("unknown community → UpstreamError 404, not retried", async () => {
    const error = (await collect(client({ scope: "rec-registry.read" }).members("nope")).catch(
      (e: unknown) => e,
    )) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.upstream).toBe("rec-registry");
    expect(error.status).toBe(404);
    expect(fake.calls).toHaveLength(1);
  });

  test("a token without the registry's scope → 403 UpstreamError", async () => {
    const error = (await collect(client({ scope: "nudging.ingest" }).communities()).catch(
      (e: unknown) => e,
    )) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.status).toBe(403);
  });
});

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { commitments, outbox } from "@celine/core/db";
import { Hono } from "hono";
import type { ClientRateLimitInfo, HonoConfigType } from "hono-rate-limiter";
import { MemoryStore } from "hono-rate-limiter";
import { createApp } from "../src/app.ts";
import { parseApiEnv, rateLimitsOf } from "../src/env.ts";
import { addressKey, clientAddressOf } from "../src/lib/client-address.ts";
import { type CounterStore, DEFAULT_PER_MINUTE, type RateLimits } from "../src/lib/rate-limit.ts";
import { HOOK_TIMEOUT, operatorBody, SCOPE } from "./fixtures.ts";
import { createHarness, type Harness, type Json, requestApp } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// Issue 14, item 1: abuse limits per caller and route class, per client address for what carries no
// valid credential, and a cap on tRPC batches — each tested with the input the issue reports.

setDefaultTimeout(60_000);

let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  windows = createWindowPublisher(fakes.dt);
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

const LIMITS = { reads: 5, writes: 3, export: 2, feed: 2, unauthenticated: 4 };

/** The harness's app with its own limits and store (a fresh count per call). */
function limitedApp(overrides: Partial<RateLimits> = {}) {
  const rateLimits: RateLimits = {
    perMinute: { ...LIMITS },
    serviceFactor: 2,
    clientIpHeader: "x-forwarded-for",
    ...overrides,
  };
  return createApp({ ...h.deps, rateLimits });
}

type App = ReturnType<typeof limitedApp>;

async function statuses(app: App, n: number, method: string, path: string, options = {}) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await requestApp(app, method, path, options)).status);
  return out;
}

function expect429(res: Awaited<ReturnType<typeof requestApp>>) {
  expect(res.status, res.text).toBe(429);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(res.json.detail).toMatch(/^too many requests; retry in \d+ s$/);
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(60);
}

describe("per caller, per route class (REST)", () => {
  test("a member over the writes limit → 429 problem with Retry-After; their reads and other members go on", async () => {
    const app = limitedApp();
    const token = await h.participant("rl-ann");
    const body = { leaderboard_visible: true };
    const writes = await statuses(app, 3, "PUT", "/api/points/me/preferences", { token, body });
    expect(
      writes.every((s) => s !== 429),
      JSON.stringify(writes),
    ).toBe(true);
    expect429(await requestApp(app, "PUT", "/api/points/me/preferences", { token, body }));
    expect((await requestApp(app, "GET", "/api/commitments", { token })).status).toBe(200);
    const other = await h.participant("rl-bob");
    expect(
      (await requestApp(app, "PUT", "/api/points/me/preferences", { token: other, body })).status,
    ).not.toBe(429);
  });

  test("reads: the sixth GET in a minute → 429; a fresh token of the same member shares the count (keyed by sub)", async () => {
    const app = limitedApp();
    const first = await statuses(app, 5, "GET", "/api/commitments", { token: await h.participant("rl-cat") });
    expect(first).toEqual([200, 200, 200, 200, 200]);
    expect429(await requestApp(app, "GET", "/api/commitments", { token: await h.participant("rl-cat") }));
  });

  test("export is its own class; a service gets the class's limit times RATE_LIMIT_SERVICE_FACTOR, counted per client", async () => {
    const app = limitedApp();
    const exporter = await h.service([SCOPE.export], "svc-pipelines");
    const got = await statuses(app, 5, "GET", "/api/commitments/export?limit=1", { token: exporter });
    expect(got).toEqual([200, 200, 200, 200, 429]);
    // Another token of the same client shares the budget; another client has its own.
    const again = await h.service([SCOPE.export], "svc-pipelines");
    expect((await requestApp(app, "GET", "/api/commitments/export?limit=1", { token: again })).status).toBe(
      429,
    );
    const other = await h.service([SCOPE.export], "svc-other");
    expect((await requestApp(app, "GET", "/api/commitments/export?limit=1", { token: other })).status).toBe(
      200,
    );
    // Its reads are a class of their own (5 × 2).
    const reader = await h.service([SCOPE.read], "svc-pipelines");
    expect((await requestApp(app, "GET", "/api/commitments/pending?limit=1", { token: reader })).status).toBe(
      200,
    );
  });

  test("0 lifts a class's limit", async () => {
    const app = limitedApp({ perMinute: { ...LIMITS, reads: 0 } });
    const token = await h.participant("rl-dan");
    const got = await statuses(app, 12, "GET", "/api/commitments", { token });
    expect(got.every((s) => s === 200)).toBe(true);
  });

  test("the count starts again when the window ends (a store with a 1 s window)", async () => {
    const store = new MemoryStore();
    store.init({ windowMs: 1_000 } as HonoConfigType);
    const app = limitedApp({ store });
    const token = await h.participant("rl-eve");
    await statuses(app, 5, "GET", "/api/commitments", { token });
    const refused = await requestApp(app, "GET", "/api/commitments", { token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    await Bun.sleep(1_100);
    expect((await requestApp(app, "GET", "/api/commitments", { token })).status).toBe(200);
  });
});

describe("replicas: the store", () => {
  test("two replicas with the default in-process store each admit the full limit", async () => {
    const a = limitedApp();
    const b = limitedApp();
    const token = await h.participant("rl-fay");
    expect(await statuses(a, 5, "GET", "/api/commitments", { token })).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(b, 5, "GET", "/api/commitments", { token })).toEqual([200, 200, 200, 200, 200]);
  });

  test("two replicas sharing one store count together (any hono-rate-limiter store fits: MemoryStore here, RedisStore in a cluster)", async () => {
    const shared = new MemoryStore();
    shared.init({ windowMs: 60_000 } as HonoConfigType);
    let increments = 0;
    const counted: CounterStore = {
      increment: (key) => {
        increments += 1;
        return shared.increment(key);
      },
      get: (key): ClientRateLimitInfo | undefined => shared.get(key),
    };
    const a = limitedApp({ store: counted });
    const b = limitedApp({ store: counted });
    const token = await h.participant("rl-gus");
    expect(await statuses(a, 3, "GET", "/api/commitments", { token })).toEqual([200, 200, 200]);
    expect(await statuses(b, 3, "GET", "/api/commitments", { token })).toEqual([200, 200, 429]);
    expect(increments).toBe(6);
  });
});

describe("tRPC: batches are capped and each procedure counts", () => {
  /** A batch call of `procedure` `n` times with `input(i)`. */
  function batch(procedure: string, n: number, input: (i: number) => unknown) {
    const path = `/trpc/${Array.from({ length: n }, () => procedure).join(",")}?batch=1`;
    const body = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), input(i)]));
    return { path, body };
  }

  test("the issue's request — 300 commitments.create in one 35 KB batch — is refused whole (400), nothing created", async () => {
    const operator = await h.service([SCOPE.admin], "svc-operator");
    const { path, body } = batch("commitments.create", 300, () => operatorBody("rl-victim"));
    expect(JSON.stringify(body).length).toBeGreaterThan(30_000);
    const before = await h.database.db.$count(commitments);
    // The harness's app: no rate limits at all, the cap alone refuses it.
    const res = await h.call("POST", path, { token: operator, body });
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    expect(JSON.stringify(res.json)).toContain("Batch call exceeds maximum size");
    expect(await h.database.db.$count(commitments)).toBe(before);
  });

  test("a batch of 50 suggestions.respond → 400: no DT call, no side effect queued", async () => {
    const token = await h.participant("rl-hal");
    windows.member("rl-hal");
    fakes.dt.clearCalls();
    const queued = await h.database.db.$count(outbox);
    const { path, body } = batch("suggestions.respond", 50, (i) => ({ id: `w-${i}`, response: "accepted" }));
    const res = await h.call("POST", path, { token, body });
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    expect(fakes.dt.calls).toHaveLength(0);
    expect(await h.database.db.$count(outbox)).toBe(queued);
  });

  test("a batch of 10 (the cap) is served; each respond counts: 3 writes a minute → 3 answered, 7 × 429 with Retry-After", async () => {
    const app = limitedApp();
    const token = await h.participant("rl-ivy");
    windows.member("rl-ivy");
    // Windows nobody published: each answered call is a 404 after its DT lookup — and counted first.
    const { path, body } = batch("suggestions.respond", 10, (i) => ({
      id: `unpublished-${i}`,
      response: "declined",
    }));
    // What one such call of a member like them asks of the Digital Twin, alone.
    windows.member("rl-ivy-alone");
    fakes.dt.clearCalls();
    const one = await requestApp(app, "POST", "/trpc/suggestions.respond", {
      token: await h.participant("rl-ivy-alone"),
      body: { id: "unpublished-x", response: "declined" },
    });
    expect(one.json.error.data.code, one.text).toBe("NOT_FOUND");
    const perCall = fakes.dt.calls.length;
    expect(perCall).toBeGreaterThan(0);
    fakes.dt.clearCalls();
    const res = await requestApp(app, "POST", path, { token, body });
    const answers: Json[] = res.json;
    expect(answers).toHaveLength(10);
    const limited = answers.filter((a) => a.error?.data?.code === "TOO_MANY_REQUESTS");
    const served = answers.filter((a) => a.error?.data?.code === "NOT_FOUND");
    expect(served, res.text.slice(0, 500)).toHaveLength(3);
    expect(limited).toHaveLength(7);
    expect(limited[0].error.data.httpStatus).toBe(429);
    expect(limited[0].error.message).toMatch(/^too many requests; retry in \d+ s$/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The refused calls never reached the Digital Twin: only the three served ones asked it.
    expect(fakes.dt.calls).toHaveLength(3 * perCall);
  });

  test("eleven calls in one batch → 400 (TRPC_MAX_BATCH_SIZE 10 by default)", async () => {
    const token = await h.participant("rl-jon");
    const { path } = batch("points.me", 11, () => undefined);
    const res = await h.call("GET", `${path}&input=${encodeURIComponent("{}")}`, { token });
    expect(res.status, res.text.slice(0, 300)).toBe(400);
  });

  test("queries count as reads: five single calls pass, the sixth is 429 over tRPC too", async () => {
    const app = limitedApp();
    const token = await h.participant("rl-kim");
    const got = await statuses(app, 6, "GET", "/trpc/settlement.method", { token });
    expect(got).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = await requestApp(app, "GET", "/trpc/settlement.method", { token });
    expect(refused.json.error.data.code).toBe("TOO_MANY_REQUESTS");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe("without a valid credential: per client address", () => {
  test("after 4 refused tokens an address is refused (429) before its tokens are read — a valid one too — and other addresses are not", async () => {
    const app = limitedApp();
    const from = (address: string) => ({ "x-forwarded-for": address });
    const bad = await statuses(app, 4, "GET", "/api/commitments", {
      token: "not-a-jwt",
      headers: from("203.0.113.7"),
    });
    expect(bad).toEqual([401, 401, 401, 401]);
    const before = h.audits().length;
    expect429(
      await requestApp(app, "GET", "/api/commitments", { token: "not-a-jwt", headers: from("203.0.113.7") }),
    );
    const valid = await h.participant("rl-lou");
    expect429(
      await requestApp(app, "GET", "/api/commitments", { token: valid, headers: from("203.0.113.7") }),
    );
    // One audit record for the first 429 of the window; none for the second.
    expect(h.audits().slice(before)).toHaveLength(1);
    expect(
      (await requestApp(app, "GET", "/api/commitments", { token: valid, headers: from("203.0.113.8") }))
        .status,
    ).toBe(200);
    expect(
      (await requestApp(app, "GET", "/trpc/settlement.method", { headers: from("203.0.113.7") })).status,
    ).toBe(429);
  });

  test("a client cannot pick its address: X-Forwarded-For counts by its last entry (the one our proxy appended)", async () => {
    const app = limitedApp();
    for (let i = 0; i < 4; i++) {
      const spoof = { "x-forwarded-for": `10.0.0.${i}, 192.0.2.44` };
      expect((await requestApp(app, "GET", "/api/commitments", { headers: spoof })).status).toBe(401);
    }
    const spoof = { "x-forwarded-for": "10.9.9.9, 192.0.2.44" };
    expect((await requestApp(app, "GET", "/api/commitments", { headers: spoof })).status).toBe(429);
  });

  test("valid tokens never spend an address's credit (a backend-for-frontend speaks for every member from one address)", async () => {
    const app = limitedApp({ perMinute: { ...LIMITS, reads: 0 } });
    const from = { "x-forwarded-for": "192.0.2.80" };
    for (let i = 0; i < 20; i++) {
      const token = await h.participant(`rl-bff-${i}`);
      expect((await requestApp(app, "GET", "/api/commitments", { token, headers: from })).status).toBe(200);
    }
  });

  test("calendar feeds: RATE_LIMIT_FEED_PER_MIN per feed; unknown feeds count against the address like a wrong token", async () => {
    const app = limitedApp();
    const token = await h.participant("rl-mia");
    const created = await requestApp(app, "POST", "/api/calendar/token", { token });
    expect(created.status, created.text).toBe(201);
    const path = new URL(created.json.url).pathname;
    const from = { "x-forwarded-for": "198.51.100.20" };
    expect(await statuses(app, 2, "GET", path, { headers: from })).toEqual([200, 200]);
    expect429(await requestApp(app, "GET", path, { headers: from }));
    // Guessed names: 404 four times from one address, then that address is refused.
    const guess = (i: number) => `/api/calendar/${String(i).padStart(43, "B")}.ics`;
    const other = { "x-forwarded-for": "198.51.100.21" };
    for (let i = 0; i < 4; i++)
      expect((await requestApp(app, "GET", guess(i), { headers: other })).status).toBe(404);
    expect((await requestApp(app, "GET", guess(5), { headers: other })).status).toBe(429);
    // The known feed's next fetch from elsewhere is limited by the feed's own count, still 429.
    expect(
      (await requestApp(app, "GET", path, { headers: { "x-forwarded-for": "198.51.100.22" } })).status,
    ).toBe(429);
  });
});

describe("configuration", () => {
  test("defaults, and every RATE_LIMIT_* variable, CLIENT_IP_HEADER and TRPC_MAX_BATCH_SIZE", () => {
    const env = parseApiEnv({ CELINE_ENV: "dev" });
    expect(rateLimitsOf(env)).toEqual({
      perMinute: DEFAULT_PER_MINUTE,
      serviceFactor: 10,
      clientIpHeader: undefined,
    });
    expect(env.TRPC_MAX_BATCH_SIZE).toBe(10);
    const set = parseApiEnv({
      CELINE_ENV: "dev",
      RATE_LIMIT_READS_PER_MIN: "1000",
      RATE_LIMIT_WRITES_PER_MIN: "0",
      RATE_LIMIT_EXPORT_PER_MIN: "4",
      RATE_LIMIT_FEED_PER_MIN: "5",
      RATE_LIMIT_UNAUTHENTICATED_PER_MIN: "6",
      RATE_LIMIT_SERVICE_FACTOR: "3",
      CLIENT_IP_HEADER: "X-Real-IP",
      TRPC_MAX_BATCH_SIZE: "5",
    });
    expect(rateLimitsOf(set)).toEqual({
      perMinute: { reads: 1000, writes: 0, export: 4, feed: 5, unauthenticated: 6 },
      serviceFactor: 3,
      clientIpHeader: "x-real-ip",
    });
    expect(set.TRPC_MAX_BATCH_SIZE).toBe(5);
  });

  test("nonsense is refused, every problem named", () => {
    expect(() =>
      parseApiEnv({
        CELINE_ENV: "dev",
        RATE_LIMIT_READS_PER_MIN: "-1",
        RATE_LIMIT_SERVICE_FACTOR: "0",
        CLIENT_IP_HEADER: "x forwarded",
        TRPC_MAX_BATCH_SIZE: "0",
      }),
    ).toThrow(
      /RATE_LIMIT_READS_PER_MIN[\s\S]*RATE_LIMIT_SERVICE_FACTOR[\s\S]*CLIENT_IP_HEADER[\s\S]*TRPC_MAX_BATCH_SIZE/,
    );
  });
});

describe("client addresses", () => {
  test.each([
    ["192.0.2.1", "192.0.2.1"],
    ["192.0.2.1:5123", "192.0.2.1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["[::ffff:192.0.2.1]", "192.0.2.1"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::9", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:ffff::1", "2001:db8:1:2::/64"],
    ["[2001:db8::1]:443", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["unknown", null],
    ["1:2:3", null],
    ["1::2::3", null],
    ["", null],
  ])("%s → %s", (raw, key) => {
    expect(addressKey(raw)).toBe(key);
  });

  test("the header's last entry, else the socket's address, else none", async () => {
    const seen: (string | null)[] = [];
    const app = new Hono().get("/", (c) => {
      seen.push(clientAddressOf(c, "x-forwarded-for", () => "192.0.2.9"));
      seen.push(clientAddressOf(c, undefined, () => "192.0.2.9"));
      seen.push(clientAddressOf(c, undefined));
      seen.push(
        clientAddressOf(c, undefined, () => {
          throw new TypeError("no server");
        }),
      );
      return c.text("ok");
    });
    await app.request("/", { headers: { "x-forwarded-for": "10.1.1.1, 192.0.2.7 " } });
    await app.request("/");
    expect(seen).toEqual(["192.0.2.7", "192.0.2.9", null, null, "192.0.2.9", "192.0.2.9", null, null]);
  });
});

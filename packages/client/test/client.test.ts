import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "@celine/api/app";
import {
  createHarness,
  createWindowPublisher,
  type Harness,
  type PlatformFakes,
  startPlatformFakes,
  type WindowPublisher,
} from "@celine/api/testing";
import { type DigitalTwin, startDigitalTwin } from "@celine/fakes";
import { type ConfiguredPlatform, createPlatform } from "@celine/platform";
import { PlatformEnv } from "@celine/platform/env";
import { createFlexibilityClient, type FlexibilityClient, ProblemError, problemOf } from "../src/index.ts";

// The client against the real app (real policy, real JWT crypto, fresh database, the Digital Twin
// contract fake publishing members' windows), served over HTTP, the morning before the windows.

const NOW = new Date("2026-07-01T06:00:00Z");
/** The app's clock: flowing from NOW (lists order by committed_at). */
const STARTED = Date.now();
const now = () => new Date(NOW.getTime() + Date.now() - STARTED);
let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
let server: ReturnType<typeof Bun.serve>;
let baseUrl: string;

beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now };
  });
  windows = createWindowPublisher(fakes.dt, now);
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: h.app.fetch });
  baseUrl = `http://127.0.0.1:${server.port}`;
}, 60_000);

afterAll(async () => {
  await server?.stop(true);
  await h?.close();
  await fakes?.close();
});

const UNKNOWN_ID = "6f1f6c36-3c1a-4d0e-9d2b-1b2f3c4d5e6f";
const window = (n: number) => ({
  suggestion_id: `w-client-${n}`,
  period_start: `2026-07-0${n}T11:00:00Z`,
  period_end: `2026-07-0${n}T12:00:00Z`,
});

/** A client for `sub`, whom the DT publishes windows(n) for, each estimated at 10 × n points. */
async function clientFor(sub: string, published: number[] = []): Promise<FlexibilityClient> {
  for (const n of published) {
    const { suggestion_id: id, period_start: start, period_end: end } = window(n);
    windows.publish(sub, { id, start, end, reward: 10 * n });
  }
  return createFlexibilityClient({ baseUrl, token: await h.participant(sub) });
}

/** The error a call rejects with (fails the test when it resolves). */
async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("REST", () => {
  test("a participant creates, lists (filtered, paged) and cancels their own commitments", async () => {
    const { rest } = await clientFor("rest-alice", [1, 2]);
    const first = await rest.createCommitment(window(1));
    const second = await rest.createCommitment({ ...window(2), user_id: "somebody-else" });
    expect(first).toMatchObject({
      user_id: "rest-alice",
      suggestion_id: "w-client-1",
      status: "committed",
      reward_points_estimated: 10,
      origin: "member",
      settlement_revision: 0,
    });
    expect(second.user_id).toBe("rest-alice");

    const page = await rest.listCommitments({ limit: 1 });
    expect(page.total).toBe(2);
    expect(page.items.map((c) => c.id)).toEqual([second.id]);
    const next = await rest.listCommitments({ limit: 1, offset: 1 });
    expect(next.items.map((c) => c.id)).toEqual([first.id]);

    await rest.cancelCommitment(first.id);
    const cancelled = await rest.listCommitments({ status: "cancelled" });
    expect(cancelled.total).toBe(1);
    expect(cancelled.items[0]).toMatchObject({ id: first.id, status: "cancelled" });
    expect((await rest.listCommitments({ status: "committed" })).items.map((c) => c.id)).toEqual([second.id]);
  });

  test("a participant never sees another member's commitments", async () => {
    const bob = await clientFor("rest-bob", [3]);
    await bob.rest.createCommitment(window(3));
    const mallory = await clientFor("rest-mallory");
    expect(await mallory.rest.listCommitments({ user_id: "rest-bob" })).toEqual({ items: [], total: 0 });
  });

  test("the typed hc routes are there too, and throw the same ProblemError", async () => {
    const { rest } = await clientFor("rest-routes");
    const res = await rest.routes.api.commitments.$get({ query: { limit: "5" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [], total: 0 });
    const health = await rest.routes.health.$get();
    expect(await health.json()).toEqual({ status: "ok" });
    const error = await rejection(rest.routes.api.commitments[":id"].$delete({ param: { id: UNKNOWN_ID } }));
    expect(error).toBeInstanceOf(ProblemError);
  });
});

describe("REST errors surface as ProblemError with the API's detail", () => {
  test("404: somebody else's or an unknown commitment", async () => {
    const owner = await clientFor("err-owner", [4]);
    const mine = await owner.rest.createCommitment(window(4));
    const stranger = await clientFor("err-stranger");
    for (const id of [mine.id, UNKNOWN_ID]) {
      const error = await rejection(stranger.rest.cancelCommitment(id));
      expect(error).toBeInstanceOf(ProblemError);
      const problem = error as ProblemError;
      expect(problem.status, problem.message).toBe(404);
      expect(problem.title).toBe("Not Found");
      expect(problem.detail).toBe(`commitment ${id} not found`);
      expect(problem.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(problem.message).toBe(`404 Not Found: commitment ${id} not found`);
    }
  });

  test("409: cancelling a commitment that is no longer live", async () => {
    const { rest } = await clientFor("err-twice", [5]);
    const commitment = await rest.createCommitment(window(5));
    await rest.cancelCommitment(commitment.id);
    const problem = (await rejection(rest.cancelCommitment(commitment.id))) as ProblemError;
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem.status, problem.message).toBe(409);
    expect(problem.detail).toContain("cancelled");
  });

  test("422: an invalid body names the field in detail and errors", async () => {
    const { rest } = await clientFor("err-invalid");
    const call = rest.createCommitment({ ...window(6), period_end: "2026-07-06T10:00:00Z" });
    const problem = (await rejection(call)) as ProblemError;
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem.status, problem.message).toBe(422);
    expect(problem.detail).toContain("period_end");
    expect(problem.errors?.map((e) => e.path)).toContain("period_end");
  });

  test("422: a malformed id", async () => {
    const { rest } = await clientFor("err-malformed");
    const problem = (await rejection(rest.cancelCommitment("not-a-uuid"))) as ProblemError;
    expect(problem.status, problem.message).toBe(422);
    expect(problem.detail).toContain("id");
  });

  test("401: no token", async () => {
    const { rest } = createFlexibilityClient({ baseUrl });
    const problem = (await rejection(rest.listCommitments())) as ProblemError;
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem.status, problem.message).toBe(401);
    expect(problem.detail).toContain("missing token");
  });

  test("a non-problem error body (a proxy's) still becomes a ProblemError with the text as detail", async () => {
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response("upstream connect error\n", { status: 502, headers: { "x-request-id": "px-1" } }),
    });
    try {
      const { rest } = createFlexibilityClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, token: "t" });
      const problem = (await rejection(rest.listCommitments())) as ProblemError;
      expect(problem).toBeInstanceOf(ProblemError);
      expect(problem.status).toBe(502);
      expect(problem.title).toBe("Bad Gateway");
      expect(problem.detail).toBe("upstream connect error");
      expect(problem.requestId).toBe("px-1");
    } finally {
      await proxy.stop(true);
    }
  });
});

describe("tRPC", () => {
  test("a participant creates, lists and cancels over tRPC", async () => {
    const { trpc, rest } = await clientFor("trpc-dana", [7]);
    const created = await trpc.commitments.create.mutate(window(7));
    expect(created).toMatchObject({ user_id: "trpc-dana", suggestion_id: "w-client-7", status: "committed" });
    const listed = await trpc.commitments.list.query({ limit: 10 });
    expect(listed.total).toBe(1);
    expect(listed.items[0]?.id).toBe(created.id);
    expect(await trpc.commitments.cancel.mutate({ id: created.id })).toBeNull();
    // Both transports reach the same store.
    expect((await rest.listCommitments()).items[0]?.status).toBe("cancelled");
  });

  test("404, 409 and 422 map to ProblemError through problemOf", async () => {
    const { trpc } = await clientFor("trpc-errors", [8]);
    const notFound = problemOf(await rejection(trpc.commitments.cancel.mutate({ id: UNKNOWN_ID })));
    expect(notFound?.status).toBe(404);
    expect(notFound?.detail).toBe(`commitment ${UNKNOWN_ID} not found`);

    const created = await trpc.commitments.create.mutate(window(8));
    await trpc.commitments.cancel.mutate({ id: created.id });
    const conflict = problemOf(await rejection(trpc.commitments.cancel.mutate({ id: created.id })));
    expect(conflict?.status).toBe(409);

    const invalid = problemOf(
      await rejection(trpc.commitments.create.mutate({ ...window(8), period_end: "2026-07-08T10:00:00Z" })),
    );
    // A failed input schema is a 422 over tRPC exactly as over REST.
    expect(invalid?.status).toBe(422);
    expect(invalid?.detail).toContain("period_end");
  });

  test("problemOf is null for what is not an answer of the API", async () => {
    const { rest } = createFlexibilityClient({ baseUrl: "http://127.0.0.1:9", token: "t" });
    const error = await rejection(rest.listCommitments());
    expect(error).not.toBeInstanceOf(ProblemError);
    expect(problemOf(error)).toBeNull();
    expect(problemOf(new Error("bug"))).toBeNull();
  });
});

describe("auth", () => {
  test("getToken is called for every request, so each call carries the current caller", async () => {
    windows.publish("auth-erin", {
      id: "w-client-9",
      start: window(9).period_start,
      end: window(9).period_end,
    });
    const tokens = { erin: await h.participant("auth-erin"), frank: await h.participant("auth-frank") };
    let caller: keyof typeof tokens = "erin";
    let calls = 0;
    const client = createFlexibilityClient({
      baseUrl,
      getToken: async () => {
        calls += 1;
        return tokens[caller];
      },
    });
    await client.rest.createCommitment(window(9));
    expect((await client.rest.listCommitments()).items[0]?.user_id).toBe("auth-erin");
    caller = "frank";
    expect((await client.rest.listCommitments()).total).toBe(0);
    expect((await client.trpc.commitments.list.query({})).total).toBe(0);
    caller = "erin";
    expect((await client.trpc.commitments.list.query({})).total).toBe(1);
    expect(calls).toBe(5);
  });

  test("a tRPC batch asks for the token once per HTTP request", async () => {
    let calls = 0;
    const token = await h.participant("auth-batch");
    const { trpc } = createFlexibilityClient({
      baseUrl,
      getToken: () => {
        calls += 1;
        return token;
      },
    });
    const [a, b] = await Promise.all([
      trpc.commitments.list.query({ limit: 1 }),
      trpc.commitments.list.query({ limit: 2 }),
    ]);
    expect([a.total, b.total]).toEqual([0, 0]);
    expect(calls).toBe(1);
  });

  test("extra headers travel with every request; the token wins over an authorization header", async () => {
    const seen: Headers[] = [];
    const token = await h.participant("auth-headers");
    const { rest } = createFlexibilityClient({
      baseUrl,
      token,
      headers: { "x-request-id": "bff-42", authorization: "Bearer not-this-one" },
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers));
        return fetch(input, init);
      },
    });
    expect((await rest.listCommitments()).total).toBe(0);
    expect(seen[0]?.get("x-request-id")).toBe("bff-42");
    expect(seen[0]?.get("authorization")).toBe(`Bearer ${token}`);
  });

  test("token and getToken together are refused", () => {
    expect(() => createFlexibilityClient({ baseUrl, token: "a", getToken: () => "b" })).toThrow(TypeError);
  });
});

describe("suggestions: the BFF flow against the app wired to the Digital Twin fake", () => {
  // A second app over the same database and issuer, with the platform adapters pointed at the DT
  // contract fake and the clock fixed the morning before the seeded window.
  const NOW = new Date("2026-07-01T06:00:00Z");
  let dt: DigitalTwin;
  let platform: ConfiguredPlatform;
  let withDt: ReturnType<typeof Bun.serve>;

  beforeAll(async () => {
    dt = await startDigitalTwin({ issuer: h.issuer });
    const env = PlatformEnv.parse({
      CELINE_ENV: "dev",
      CELINE_OIDC_BASE_URL: h.issuer.url,
      DIGITAL_TWIN_API_URL: dt.url,
    });
    platform = createPlatform({ env, log: h.deps.log, metrics: h.deps.metrics, mqtt: false });
    const app = createApp({ ...h.deps, platform, now: () => NOW });
    withDt = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    dt.setMembership("sugg-gina", {
      community: { key: "rec-client", name: "REC Client" },
      member: { key: "m-gina", name: "Gina", role: "consumer", area: "north", status: "active" },
    });
    // DT timestamps are naive UTC: 09:00–11:00 UTC is 11:00–13:00 in Rome.
    dt.setCommunityWindows("rec-client", [
      {
        _id: "w-rec-client-1",
        ts_date: "2026-07-02",
        window_start: "2026-07-02T09:00:00",
        window_end: "2026-07-02T11:00:00",
        community_kwh: 12.5,
        confidence: 0.8,
        flexibility_model: "v1",
      },
    ]);
  });

  afterAll(async () => {
    await withDt?.stop(true);
    await platform?.close();
    await dt?.close();
  });

  const clientWithDt = async (sub: string) =>
    createFlexibilityClient({ baseUrl: `http://127.0.0.1:${withDt.port}`, token: await h.participant(sub) });

  test("list suggestions, accept one, see and cancel the commitment (REST)", async () => {
    const { rest } = await clientWithDt("sugg-gina");
    const suggestions = await rest.listSuggestions();
    expect(
      suggestions.map((s) => [s.id, s.clock_range]),
      JSON.stringify(suggestions),
    ).toEqual([["w-rec-client-1", "17:00–21:00"]]);
    const accepted = await rest.respond("w-rec-client-1", { response: "accepted" });
    expect(accepted.status).toBe("committed");
    const id = accepted.commitment_id;
    if (!id) throw new Error(`accepted without a commitment id: ${JSON.stringify(accepted)}`);
    const mine = await rest.listCommitments({ status: "committed" });
    expect(mine.items.map((c) => [c.id, c.suggestion_id, c.period_start])).toEqual([
      [id, "w-rec-client-1", "2026-07-02T09:00:00.000Z"],
    ]);
    await rest.cancelCommitment(id);
  });

  test("a member outside any community gets no suggestions, and no window to answer: 404 ProblemError", async () => {
    const { rest } = await clientWithDt("sugg-henry");
    expect(await rest.listSuggestions()).toEqual([]);
    const answer = {
      response: "declined" as const,
      period_start: "2026-07-02T09:00:00Z",
      period_end: "2026-07-02T11:00:00Z",
    };
    const problem = (await rejection(rest.respond("w-declined", answer))) as ProblemError;
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem.status, problem.message).toBe(404);
    expect(problem.detail).toContain("window not found");
  });

  test("a member of the community declines its window (never listed: found in the DT): recorded", async () => {
    dt.setMembership("sugg-jo", {
      community: { key: "rec-client", name: "REC Client" },
      member: { key: "m-jo", name: "Jo", role: "consumer", area: "north", status: "active" },
    });
    const { rest } = await clientWithDt("sugg-jo");
    expect(await rest.respond("w-rec-client-1", { response: "declined" })).toEqual({
      commitment_id: null,
      status: "declined",
      reward_points_estimated: 0,
    });
  });

  test("respond with an invalid answer is a 422 ProblemError", async () => {
    const { rest } = await clientWithDt("sugg-ivan");
    // @ts-expect-error: the old README's {"action":"accept"} was never what the API accepted
    const problem = (await rejection(rest.respond("w-1", { action: "accept" }))) as ProblemError;
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem.status, problem.message).toBe(422);
    expect(problem.detail).toContain("response");
  });
});

describe("settlement: getSettlement and getSettlementMethod (REST), commitments.settlement and settlement.method (tRPC)", () => {
  test("the owner reads why a commitment got its points; an operator's hand settlement is one manual ledger entry", async () => {
    const { rest, trpc } = await clientFor("settle-kim");
    const created = await rest.createCommitment(windows.publish("settle-kim"));
    const operator = createFlexibilityClient({
      baseUrl,
      token: await h.service(["flexibility.commitments.write"], "svc-settlement"),
    });
    const settled = await operator.rest.settleCommitment(created.id, { reward_points_actual: 12 });

    const explained = await rest.getSettlement(created.id);

    expect(explained).toMatchObject({
      commitment_id: created.id,
      outcome: "manual",
      method: "manual",
      points: 12,
      reward_points_actual: 12,
      revision: 1,
      config: null,
    });
    // The entry is dated when the operator settled it.
    expect(explained.ledger).toEqual([
      { kind: "manual", points: 12, revision: 1, at: String(settled.settled_at) },
    ]);
    expect(await trpc.commitments.settlement.query({ id: created.id })).toEqual(explained);
  });

  test("somebody else's settlement and a live commitment are 404 ProblemErrors; a malformed id is 422", async () => {
    const owner = await clientFor("settle-lou");
    const live = await owner.rest.createCommitment(windows.publish("settle-lou"));
    const notYet = (await rejection(owner.rest.getSettlement(live.id))) as ProblemError;
    expect(notYet).toBeInstanceOf(ProblemError);
    expect(notYet.status, notYet.message).toBe(404);
    expect(notYet.detail).toContain("not settled yet");

    const stranger = await clientFor("settle-stranger");
    const hidden = (await rejection(stranger.rest.getSettlement(live.id))) as ProblemError;
    expect(hidden.status, hidden.message).toBe(404);
    expect(hidden.detail).toBe(`commitment ${live.id} not found`);
    expect(
      problemOf(await rejection(stranger.trpc.commitments.settlement.query({ id: live.id })))?.status,
    ).toBe(404);

    const malformed = (await rejection(owner.rest.getSettlement("not-a-uuid"))) as ProblemError;
    expect(malformed.status, malformed.message).toBe(422);
  });

  test("the method in force, over REST and tRPC", async () => {
    const { rest, trpc } = await clientFor("settle-method");
    const method = await rest.getSettlementMethod();
    expect(method).toMatchObject({
      id: "reference-high-4-of-7/v1",
      points: { rate_per_kwh: 15, accuracy_floor: 0.5 },
      baseline: { lookback_days: 90, candidate_days: 7, select_days: 4 },
      streak: { increment: 0.05, max_multiplier: 1.5, max_level: 10 },
      cap: { multiplier: 2, min_windows: 5, lookback_days: 30 },
    });
    expect(await trpc.settlement.method.query()).toEqual(method);
  });

  test("no token → 401 ProblemError", async () => {
    const { rest } = createFlexibilityClient({ baseUrl });
    const problem = (await rejection(rest.getSettlementMethod())) as ProblemError;
    expect(problem.status, problem.message).toBe(401);
  });
});

describe("progress: getProgress (REST), commitments.progress (tRPC)", () => {
  test("a commitment whose window is ahead: nothing done yet, the same over tRPC", async () => {
    const { rest, trpc } = await clientFor("progress-ada");
    const created = await rest.createCommitment(windows.publish("progress-ada"));
    const progress = await rest.getProgress(created.id);
    expect(progress).toMatchObject({
      commitment_id: created.id,
      settled: false,
      intervals_total: 1,
      intervals_done: 0,
      actual_kwh_so_far: 0,
      on_track: null,
      projected_points: null,
    });
    const viaTrpc = await trpc.commitments.progress.query({ id: created.id });
    expect({ ...viaTrpc, as_of: progress.as_of }).toEqual(progress);
  });

  test("somebody else's commitment is a 404 ProblemError over both", async () => {
    const owner = await clientFor("progress-bo");
    const live = await owner.rest.createCommitment(windows.publish("progress-bo"));
    const stranger = await clientFor("progress-stranger");
    const hidden = (await rejection(stranger.rest.getProgress(live.id))) as ProblemError;
    expect(hidden.status, hidden.message).toBe(404);
    expect(
      problemOf(await rejection(stranger.trpc.commitments.progress.query({ id: live.id })))?.status,
    ).toBe(404);
  });
});

describe("members: eraseMember (REST), members.erase (tRPC)", () => {
  test("an operator erases a member: the counts come back and the member's commitments are gone", async () => {
    const member = await clientFor("erase-ann");
    await member.rest.createCommitment(windows.publish("erase-ann"));
    const operator = createFlexibilityClient({
      baseUrl,
      token: await h.service(["flexibility.admin"], "svc-ops"),
    });

    const erased = await operator.rest.eraseMember("erase-ann");

    expect(erased).toMatchObject({ commitments: 1 });
    expect((await member.rest.listCommitments()).total).toBe(0);
    expect(await operator.trpc.members.erase.mutate({ user_id: "erase-ann" })).toMatchObject({
      commitments: 0,
    });
  });

  test("an id with a slash travels as one path segment; '..' is refused before any request", async () => {
    const operator = createFlexibilityClient({
      baseUrl,
      token: await h.service(["flexibility.admin"], "svc-ops"),
    });
    expect(await operator.rest.eraseMember("team/alice")).toMatchObject({ commitments: 0 });
    await expect(operator.rest.eraseMember("..")).rejects.toBeInstanceOf(RangeError);
  });

  test("a participant cannot erase, not even themself: 403 ProblemError", async () => {
    const { rest } = await clientFor("erase-bo");
    const problem = (await rejection(rest.eraseMember("erase-bo"))) as ProblemError;
    expect(problem.status, problem.message).toBe(403);
  });
});

describe("calendar: createCalendarToken (REST), calendar.createToken (tRPC)", () => {
  test("a participant gets their feed's URL; a new one (tRPC) replaces it at once", async () => {
    const member = await clientFor("cal-client-una");
    const { url } = await member.rest.createCalendarToken();
    expect(url).toMatch(/^http:\/\/localhost:8017\/api\/calendar\/[A-Za-z0-9_-]{43}\.ics$/);
    // The harness's public URL is not this test server's: fetch the same path here.
    const feed = await fetch(`${baseUrl}${new URL(url).pathname}`);
    expect(feed.status).toBe(200);
    expect(feed.headers.get("content-type")).toBe("text/calendar; charset=utf-8");
    expect(await feed.text()).toStartWith("BEGIN:VCALENDAR");

    const renewed = await member.trpc.calendar.createToken.mutate();
    expect(renewed.url).not.toBe(url);
    expect((await fetch(`${baseUrl}${new URL(url).pathname}`)).status).toBe(404);
    expect((await fetch(`${baseUrl}${new URL(renewed.url).pathname}`)).status).toBe(200);
  });

  test("a service has no calendar: 403 ProblemError naming the policy's reason", async () => {
    const service = createFlexibilityClient({
      baseUrl,
      token: await h.service(["flexibility.admin"], "svc-ops"),
    });
    const problem = (await rejection(service.rest.createCalendarToken())) as ProblemError;
    expect(problem.status, problem.message).toBe(403);
    expect(problem.detail).toBe("action not permitted");
  });
});

describe("webhooks: createWebhook, listWebhooks, testWebhook, deleteWebhook (REST), webhooks.* (tRPC)", () => {
  test("a participant subscribes, lists (no secret), sends a test and deletes; another member's is a 404 ProblemError", async () => {
    const member = await clientFor("wh-client-ada");
    // The harness runs with the production rule: https on a public address (here a literal: no DNS).
    const created = await member.rest.createWebhook({
      url: "https://203.0.113.10/hooks/flex",
      events: ["commitment.created", "commitment.cancelled"],
    });
    expect(created).toMatchObject({ status: "enabled", user_id: "wh-client-ada", community_id: null });
    expect(created.secret).toMatch(/^whsec_/);
    const listed = await member.rest.listWebhooks();
    expect(listed.map((w) => [w.id, w.events])).toEqual([
      [created.id, ["commitment.created", "commitment.cancelled"]],
    ]);
    expect(listed[0]).not.toHaveProperty("secret");
    expect((await member.rest.testWebhook(created.id)).message_id).toMatch(/^msg_/);

    const stranger = await clientFor("wh-client-bea");
    const problem = (await rejection(stranger.rest.deleteWebhook(created.id))) as ProblemError;
    expect(problem.status, problem.message).toBe(404);
    expect(await stranger.trpc.webhooks.list.query()).toEqual({ items: [] });

    await member.trpc.webhooks.delete.mutate({ id: created.id });
    expect(await member.rest.listWebhooks()).toEqual([]);
  });

  test("a loopback target outside development: 422 ProblemError naming the url", async () => {
    const member = await clientFor("wh-client-cy");
    const problem = (await rejection(
      member.rest.createWebhook({ url: "https://127.0.0.1/x" }),
    )) as ProblemError;
    expect(problem.status, problem.message).toBe(422);
    expect(problem.detail).toContain("loopback");
  });
});

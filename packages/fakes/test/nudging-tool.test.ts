import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { NudgingTool, OidcIssuer, ReceivedNudge } from "../src/index.ts";
import { startNudgingTool, startOidcIssuer } from "../src/index.ts";

let issuer: OidcIssuer;
let nudging: NudgingTool;
let token: string;
const printed: ReceivedNudge[] = [];

beforeAll(async () => {
  issuer = await startOidcIssuer();
  nudging = await startNudgingTool({ issuer, onEvent: (nudge) => printed.push(nudge) });
  // Obtained the way the service does it: client credentials at the token endpoint.
  const res = await fetch(issuer.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: "svc-flexibility",
      client_secret: "svc-flexibility-secret",
      scope: "nudging.ingest",
    }),
  });
  token = String(((await res.json()) as Record<string, unknown>).access_token);
});
afterAll(async () => {
  await nudging.close();
  await issuer.close();
});
beforeEach(() => {
  nudging.reset();
  nudging.clearEvents();
  printed.length = 0;
});

function reminder(overrides: Record<string, unknown> = {}, facts: Record<string, unknown> = {}) {
  return {
    event_type: "flexibility_reminder",
    user_id: "alice",
    community_id: "rec-a",
    timestamp: "2026-07-02T10:30:00Z",
    facts: {
      facts_version: "1.0",
      scenario: "flexibility_reminder",
      window_start: "13:00",
      window_end: "15:00",
      reward_points_estimated: "20",
      period: "2026-07-02",
      commitment_id: "c-1",
      suggestion_id: "w-1",
      ...facts,
    },
    ...overrides,
  };
}

function ingest(body: unknown, bearer: string | null = token) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  return fetch(`${nudging.url}/admin/ingest-event`, { method: "POST", headers, body: JSON.stringify(body) });
}

describe("authorization", () => {
  test("missing token → 401", async () => {
    expect((await ingest(reminder(), null)).status).toBe(401);
  });

  test("a token for svc-flexibility (wrong audience) → 401", async () => {
    expect((await ingest(reminder(), await issuer.mintParticipant("alice"))).status).toBe(401);
  });

  test("a svc-nudging service token without nudging.ingest → 403", async () => {
    const other = await issuer.mintService("svc-flexibility", ["nudging.read"]);
    expect((await ingest(reminder(), other)).status).toBe(403);
  });
});

describe("ingest-event", () => {
  test("a valid event → 200 {status, created, suppressed}; received() and onEvent see it", async () => {
    const res = await ingest(reminder());
    const body = (await res.json()) as { status: string; created: string[]; suppressed: string[] };
    expect(res.status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.created).toHaveLength(1);
    expect(body.suppressed).toEqual([]);
    expect(nudging.received().map((n) => n.event.facts.commitment_id)).toEqual(["c-1"]);
    expect(printed).toHaveLength(1);
  });

  test("the same rule, user, community and day → 409; another day is new", async () => {
    expect((await ingest(reminder())).status).toBe(200);
    expect((await ingest(reminder({}, { commitment_id: "c-2" }))).status).toBe(409);
    expect((await ingest(reminder({ timestamp: "2026-07-03T10:30:00Z" }))).status).toBe(200);
    expect(nudging.received()).toHaveLength(2);
  });

  const invalid: [string, unknown, number][] = [
    ["community_id null", reminder({ community_id: null }), 422],
    ["community_id missing", reminder({ community_id: undefined }), 422],
    ["extra envelope key", reminder({ priority: "high" }), 422],
    ["facts_version 2", reminder({}, { facts_version: "2.0" }), 422],
    ["scenario differs from event_type", reminder({}, { scenario: "flexibility_committed" }), 422],
    ["a required fact missing", reminder({}, { period: undefined }), 422],
    ["a fact that is a number", reminder({}, { reward_points_estimated: 20 }), 422],
    [
      "unknown scenario",
      reminder({ event_type: "flexibility_party" }, { scenario: "flexibility_party" }),
      400,
    ],
  ];
  for (const [name, body, status] of invalid) {
    test(`${name} → ${status}`, async () => {
      const res = await ingest(body);
      const problem = (await res.json()) as { detail?: unknown };
      expect({ status: res.status, detail: typeof problem.detail }).toEqual({ status, detail: "string" });
      expect(nudging.received()).toHaveLength(0);
    });
  }

  test("respondWith(202) and (204) answer as the tool does when suppressed / no rule fired", async () => {
    nudging.respondWith(202, 1);
    expect((await ingest(reminder())).status).toBe(202);
    nudging.respondWith(204, 1);
    const res = await ingest(reminder({ user_id: "bob" }));
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await ingest(reminder({ user_id: "carol" }))).status).toBe(200);
  });

  test("failNext(503) is retryable: the retry succeeds", async () => {
    nudging.failNext(503);
    expect((await ingest(reminder())).status).toBe(503);
    expect((await ingest(reminder())).status).toBe(200);
  });
});

describe("scheduled-events", () => {
  test("201 and upsert by external_key", async () => {
    const post = (triggerAt: string) =>
      fetch(`${nudging.url}/admin/scheduled-events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          event_type: "flexibility_reminder",
          user_id: "alice",
          external_key: "reminder:c-1",
          trigger_at: triggerAt,
          facts: reminder().facts,
        }),
      });
    expect((await post("2026-07-02T10:30:00Z")).status).toBe(201);
    expect((await post("2026-07-02T10:45:00Z")).status).toBe(201);
    expect(nudging.scheduled().size).toBe(1);
    expect(nudging.scheduled().get("reminder:c-1")?.trigger_at).toBe("2026-07-02T10:45:00Z");
  });
});

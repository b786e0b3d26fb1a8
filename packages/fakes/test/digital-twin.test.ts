import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { DigitalTwin, OidcIssuer } from "../src/index.ts";
import { forgeryKinds, startDigitalTwin, startOidcIssuer } from "../src/index.ts";

let issuer: OidcIssuer;
let dt: DigitalTwin;
let serviceToken: string;

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dt = await startDigitalTwin({ issuer });
  serviceToken = await issuer.mintService("svc-flexibility", ["digital-twin.read"]);
});
afterAll(async () => {
  await dt.close();
  await issuer.close();
});
beforeEach(() => {
  dt.reset();
  dt.clearCalls();
  dt.clearData();
  dt.setProfile("alice", { sub: "alice", email: "alice@example.test" });
  dt.setMembership("alice", {
    community: { key: "rec-a", name: "REC A" },
    member: { key: "m-1", name: "Alice", role: "consumer", area: "north", status: "active" },
  });
  dt.setProfile("bob", { sub: "bob" });
});

function post(path: string, body: unknown, token: string | null = serviceToken, signal?: AbortSignal) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${dt.url}${path}`, { method: "POST", headers, body: JSON.stringify(body), signal });
}

function get(path: string, token: string | null = serviceToken) {
  return fetch(`${dt.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe("authentication", () => {
  test("missing token → 401 with a detail", async () => {
    const res = await get("/participants/alice/profile", null);
    expect(res.status).toBe(401);
    expect(String((await json(res)).detail)).toContain("missing");
  });

  test("proxy-style raw token without Bearer is not accepted (DT reads Authorization: Bearer only)", async () => {
    const token = await issuer.mintParticipant("alice");
    const res = await fetch(`${dt.url}/participants/alice/profile`, { headers: { authorization: token } });
    expect(res.status).toBe(401);
  });

  // The DT checks no audience by default (it takes the participant's own token), so that forgery is not one here.
  for (const kind of forgeryKinds.filter((k) => k !== "wrong-audience")) {
    test(`forged token (${kind}) → 401`, async () => {
      const res = await get("/participants/alice/profile", await issuer.mintForged(kind, "alice"));
      expect(res.status).toBe(401);
    });
  }

  test("with an audience configured, a token for another audience → 401", async () => {
    const strict = await startDigitalTwin({ issuer, audience: "svc-digital-twin" });
    try {
      const res = await fetch(`${strict.url}/participants/alice/profile`, {
        headers: { authorization: `Bearer ${await issuer.mintForged("wrong-audience", "alice")}` },
      });
      expect(res.status).toBe(401);
    } finally {
      await strict.close();
    }
  });

  test("a participant reads only its own profile", async () => {
    const alice = await issuer.mintParticipant("alice");
    expect((await get("/participants/alice/profile", alice)).status).toBe(200);
    expect((await get("/participants/bob/profile", alice)).status).toBe(403);
    expect((await get("/participants/bob/assets", alice)).status).toBe(403);
  });

  test("a participant reads only its own community's values", async () => {
    const alice = await issuer.mintParticipant("alice");
    const path = (key: string) => `/communities/it/${key}/values/rec_flexibility_windows`;
    expect((await post(path("rec-a"), { payload: {} }, alice)).status).toBe(200);
    expect((await post(path("rec-b"), { payload: {} }, alice)).status).toBe(403);
  });
});

describe("participants", () => {
  test("profile with membership; no membership key when not in a community; 404 when unknown", async () => {
    const alice = await json(await get("/participants/alice/profile"));
    expect(alice).toEqual({
      profile: { sub: "alice", email: "alice@example.test" },
      membership: {
        community: { key: "rec-a", name: "REC A" },
        member: { key: "m-1", name: "Alice", role: "consumer", area: "north", status: "active" },
      },
    });
    expect(Object.keys(await json(await get("/participants/bob/profile")))).toEqual(["profile"]);
    expect((await get("/participants/nobody/profile")).status).toBe(404);
  });

  test("assets answer { items, total }", async () => {
    dt.setAssets("alice", [
      { asset_type: "meter", key: "a1", name: "Meter", sensor_id: "" },
      { asset_type: "meter", key: "a2", name: "Meter 2", sensor_id: "dev-7" },
    ]);
    const body = await json(await get("/participants/alice/assets"));
    expect(body.total).toBe(2);
    expect(body.items).toHaveLength(2);
  });

  test("per-device windows require device_id and offset, nothing else", async () => {
    dt.setDeviceWindows("alice", [{ _id: "w1", window_start: "2026-07-02T11:00:00" }], "dev-7");
    const path = "/participants/alice/values/rec_flexibility_windows";
    const ok = await json(await post(path, { payload: { device_id: "dev-7", offset: 0 } }));
    expect(ok).toEqual({
      items: [{ _id: "w1", window_start: "2026-07-02T11:00:00" }],
      limit: 100,
      offset: 0,
      count: 1,
    });
    const other = await json(await post(path, { payload: { device_id: "dev-8", offset: 0 } }));
    expect(other.count).toBe(0);
    expect((await post(path, { payload: { device_id: "dev-7" } })).status).toBe(400);
  });
});

describe("value fetchers enforce their schemas", () => {
  const cases: [string, string, unknown][] = [
    ["extra payload key", "rec_flexibility_windows", { payload: { limit: 10 } }],
    ["extra top-level key", "rec_flexibility_windows", { payload: {}, limit: 10 }],
    ["missing payload", "rec_flexibility_windows", {}],
    ["settlement without device", "rec_settlement_1h", { payload: { window_start: "2026-07-02T10:00:00" } }],
    [
      "settlement with a non-ISO start",
      "rec_settlement_1h",
      { payload: { device_id: "d", window_start: "yesterday", window_end: "2026-07-02T12:00:00" } },
    ],
    ["forecast with a number", "rec_forecast", { payload: { start: 0, end: "2026-07-03T00:00:00Z" } }],
  ];
  for (const [name, fetcher, body] of cases) {
    test(`${name} → 400 with a message`, async () => {
      const res = await post(`/communities/it/rec-a/values/${fetcher}`, body);
      const problem = await json(res);
      expect({ status: res.status, detail: typeof problem.detail }).toEqual({
        status: 400,
        detail: "string",
      });
      expect(String(problem.detail).length).toBeGreaterThan(5);
    });
  }

  test("the extra key is named in the message", async () => {
    const res = await post("/communities/it/rec-a/values/rec_flexibility_windows", { payload: { limit: 1 } });
    expect(String((await json(res)).detail)).toContain("limit");
  });

  test("unknown fetcher → 404", async () => {
    expect((await post("/communities/it/rec-a/values/rec_nope", { payload: {} })).status).toBe(404);
    expect((await post("/participants/alice/values/rec_forecast", { payload: {} })).status).toBe(404);
  });

  test("a body that is not JSON → 400", async () => {
    const res = await fetch(`${dt.url}/communities/it/rec-a/values/rec_flexibility_windows`, {
      method: "POST",
      headers: { authorization: `Bearer ${serviceToken}`, "content-type": "application/json" },
      body: "{",
    });
    expect(res.status).toBe(400);
  });
});

describe("rows", () => {
  test("community windows pass through as seeded, junk included", async () => {
    const rows = [{ _id: "w", community_kwh: "12.5", confidence: null, window_start: "2026-07-02T11:00:00" }];
    dt.setCommunityWindows("rec-a", rows);
    const body = await json(
      await post("/communities/it/rec-a/values/rec_flexibility_windows", { payload: {} }),
    );
    expect(body).toEqual({ items: rows, limit: 100, offset: 0, count: 1 });
  });

  test("settlement: rows of the device with ts in [start, end), naive UTC, at most 24", async () => {
    const hours = Array.from({ length: 30 }, (_, h) => ({
      ts: new Date(Date.UTC(2026, 6, 2, 0) + h * 3_600_000).toISOString().slice(0, 19),
      device_id: "dev-7",
      consumption_kwh: h === 3 ? "n/a" : 0.5,
    }));
    dt.addConsumption("rec-a", [
      ...hours,
      { ts: "2026-07-02T11:00:00", device_id: "dev-8", consumption_kwh: 9 },
    ]);
    const path = "/communities/it/rec-a/values/rec_settlement_1h";
    const narrow = await json(
      await post(path, {
        payload: {
          device_id: "dev-7",
          window_start: "2026-07-02T11:00:00+00:00",
          window_end: "2026-07-02T14:00:00Z",
        },
      }),
    );
    expect(narrow.items).toEqual([
      { window_start: "2026-07-02T11:00:00", window_end: "2026-07-02T14:00:00", ...hours[11] },
      { window_start: "2026-07-02T11:00:00", window_end: "2026-07-02T14:00:00", ...hours[12] },
      { window_start: "2026-07-02T11:00:00", window_end: "2026-07-02T14:00:00", ...hours[13] },
    ]);
    const wide = await json(
      await post(path, {
        payload: {
          device_id: "dev-7",
          window_start: "2026-07-01T00:00:00",
          window_end: "2026-07-05T00:00:00",
        },
      }),
    );
    expect(wide.count).toBe(24);
    expect(wide.limit).toBe(24);
  });

  test("forecast: at most 48 rows in [start, end)", async () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({
      datetime: new Date(Date.UTC(2026, 6, 2) + i * 900_000).toISOString().slice(0, 19),
      prediction: 1.5,
      period: "15m",
      lower: 1,
      upper: 2,
    }));
    dt.setForecast("rec-a", rows);
    const body = await json(
      await post("/communities/it/rec-a/values/rec_forecast", {
        payload: { start: "2026-07-02T00:00:00Z", end: "2026-07-03T00:00:00Z" },
      }),
    );
    expect(body.count).toBe(48);
  });
});

describe("recording and faults", () => {
  test("every call is recorded with method, path, authorization, parsed body and status", async () => {
    await post("/communities/it/rec-a/values/rec_flexibility_windows", { payload: {} });
    await get("/participants/alice/profile", null);
    expect(dt.calls.map(({ method, path, body, status }) => ({ method, path, body, status }))).toEqual([
      {
        method: "POST",
        path: "/communities/it/rec-a/values/rec_flexibility_windows",
        body: { payload: {} },
        status: 200,
      },
      { method: "GET", path: "/participants/alice/profile", body: null, status: 401 },
    ]);
    expect(dt.calls[0]?.authorization).toBe(`Bearer ${serviceToken}`);
    expect(dt.calls[0]?.at).toBeInstanceOf(Date);
  });

  test("failNext(503, 2) fails two calls, then the fake recovers", async () => {
    dt.failNext(503, 2);
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await get("/participants/alice/profile")).status);
    expect(statuses).toEqual([503, 503, 200]);
  });

  test("failNext with Infinity fails until reset", async () => {
    dt.failNext(500, Number.POSITIVE_INFINITY);
    expect((await get("/participants/alice/profile")).status).toBe(500);
    expect((await get("/participants/alice/profile")).status).toBe(500);
    dt.reset();
    expect((await get("/participants/alice/profile")).status).toBe(200);
  });

  test("hang: the call stays unanswered until the client aborts", async () => {
    dt.hang();
    const path = "/communities/it/rec-a/values/rec_flexibility_windows";
    await expect(post(path, { payload: {} }, serviceToken, AbortSignal.timeout(150))).rejects.toThrow();
    expect(dt.calls.at(-1)?.status).toBe(0);
  });

  test("latency slows each call", async () => {
    dt.setLatency(120);
    const started = performance.now();
    await get("/participants/alice/profile");
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });
});

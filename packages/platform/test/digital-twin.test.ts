import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  createLogger,
  createMetrics,
  type DigitalTwin as DigitalTwinPort,
  type Metrics,
  UpstreamError,
} from "@celine/core";
import type { DigitalTwin, OidcIssuer } from "@celine/fakes";
import { startDigitalTwin, startOidcIssuer } from "@celine/fakes";
import type { TokenProvider } from "../src/index.ts";
import { createDigitalTwinClient, createTokenProvider, toDtInstant } from "../src/index.ts";
import { decodeJwt } from "./jwt.ts";

let issuer: OidcIssuer;
let fake: DigitalTwin;
let tokens: TokenProvider;
let metrics: Metrics;
let dt: DigitalTwinPort;
let aliceToken: string;

const log = createLogger({ level: "silent" });
const membership = {
  community: { key: "rec-a", name: "REC A" },
  member: { key: "m-1", name: "Alice", role: "consumer", area: "north", status: "active" },
};

function client(overrides: Partial<Parameters<typeof createDigitalTwinClient>[0]> = {}) {
  return createDigitalTwinClient({
    baseUrl: fake.url,
    tokens,
    scope: "digital-twin.read",
    metrics,
    log,
    backoffMs: 5,
    ...overrides,
  });
}

const bearerOf = (index: number) => fake.calls[index]?.authorization?.replace(/^Bearer /, "") ?? "";

beforeAll(async () => {
  issuer = await startOidcIssuer();
  fake = await startDigitalTwin({ issuer });
  tokens = createTokenProvider({
    issuerUrl: issuer.url,
    clientId: "svc-flexibility",
    clientSecret: "svc-flexibility-secret",
  });
  aliceToken = await issuer.mintParticipant("alice");
});
afterAll(async () => {
  await fake.close();
  await issuer.close();
});
beforeEach(() => {
  fake.reset();
  fake.clearCalls();
  fake.clearData();
  metrics = createMetrics();
  dt = client();
  fake.setProfile("alice", { sub: "alice", email: "alice@example.test" });
  fake.setMembership("alice", membership);
  fake.setProfile("bob", { sub: "bob" });
});

describe("authorization", () => {
  test("a user call forwards the caller's own JWT, untouched", async () => {
    expect(await dt.membership({ kind: "user", token: aliceToken }, "alice")).toEqual(membership);
    expect(fake.calls[0]?.authorization).toBe(`Bearer ${aliceToken}`);
  });

  test("a service call carries our client-credentials token with DT_CLIENT_SCOPE", async () => {
    await dt.membership({ kind: "service" }, "alice");
    const claims = decodeJwt(bearerOf(0));
    expect(claims.azp).toBe("svc-flexibility");
    expect(claims.scope).toBe("digital-twin.read");
  });

  test("a participant reading someone else → UpstreamError 403, not retried", async () => {
    const error = (await dt
      .membership({ kind: "user", token: aliceToken }, "bob")
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.upstream).toBe("digital-twin");
    expect(error.status).toBe(403);
    expect(error.message).toContain("GET /participants/bob/profile answered 403");
    expect(fake.calls).toHaveLength(1);
  });

  test("a refused service token is dropped and the call made once more with a fresh one", async () => {
    let handedOut = 0;
    const stale = await issuer.mintService("svc-flexibility", ["digital-twin.read"], {}, { expiresIn: -120 });
    const fresh = await issuer.mintService("svc-flexibility", ["digital-twin.read"]);
    const rotating: TokenProvider = {
      token: async () => (handedOut++ === 0 ? stale : fresh),
      invalidate: () => {},
    };
    expect(await client({ tokens: rotating }).membership({ kind: "service" }, "alice")).toEqual(membership);
    expect(fake.calls.map((call) => call.status)).toEqual([401, 200]);
  });
});

describe("participant reads", () => {
  test("no membership key → null", async () => {
    expect(await dt.membership({ kind: "service" }, "bob")).toBeNull();
  });

  test("a participant the DT does not know (404) → null membership", async () => {
    expect(await dt.membership({ kind: "service" }, "nobody")).toBeNull();
    expect(fake.calls[0]?.status).toBe(404);
  });

  test("the device is the first asset with a non-empty sensor_id", async () => {
    fake.setAssets("alice", [
      { asset_type: "pv", key: "a-1", name: "Roof" },
      { asset_type: "meter", key: "a-2", name: "Blank", sensor_id: "" },
      { asset_type: "meter", key: "a-3", name: "Null", sensor_id: null },
      { asset_type: "meter", key: "a-4", name: "Main", sensor_id: "sensor-42" },
      { asset_type: "meter", key: "a-5", name: "Second", sensor_id: "sensor-43" },
    ]);
    expect(await dt.deviceOf({ kind: "user", token: aliceToken }, "alice")).toBe("sensor-42");
  });

  test("no asset with a sensor → null device", async () => {
    fake.setAssets("alice", [{ asset_type: "pv", key: "a-1", name: "Roof" }]);
    expect(await dt.deviceOf({ kind: "user", token: aliceToken }, "alice")).toBeNull();
  });
});

describe("value fetchers", () => {
  test("community windows: POST {payload: {}} and the items come back as sent", async () => {
    const rows = [
      {
        _id: "w-1",
        window_start: "2026-07-02T11:00:00",
        window_end: "2026-07-02T14:00:00",
        community_kwh: "12.5",
      },
    ];
    fake.setCommunityWindows("rec-a", rows);
    expect(await dt.communityWindows({ kind: "user", token: aliceToken }, "rec-a")).toEqual(rows);
    expect(fake.calls[0]?.path).toBe("/communities/it/rec-a/values/rec_flexibility_windows");
    expect(fake.calls[0]?.body).toEqual({ payload: {} });
  });

  test("device windows: payload names the device and offset 0", async () => {
    fake.setDeviceWindows("alice", [{ _id: "w-1", estimated_kwh: 1.5 }], "sensor-42");
    expect(await dt.deviceWindows({ kind: "user", token: aliceToken }, "alice", "sensor-42")).toEqual([
      { _id: "w-1", estimated_kwh: 1.5 },
    ]);
    expect(fake.calls[0]?.body).toEqual({ payload: { device_id: "sensor-42", offset: 0 } });
  });

  test("rows that are not objects are skipped, the rest served", async () => {
    fake.setCommunityWindows("rec-a", [{ _id: "w-1" }, "junk" as never, null as never, { _id: "w-2" }]);
    expect(await dt.communityWindows({ kind: "service" }, "rec-a")).toEqual([{ _id: "w-1" }, { _id: "w-2" }]);
  });

  test("settlement hours: service token, naive UTC bounds, rows in [start, end)", async () => {
    fake.addConsumption("rec-a", [
      { ts: "2026-07-02T10:00:00", device_id: "sensor-42", consumption_kwh: "0.4" },
      { ts: "2026-07-02T11:00:00", device_id: "sensor-42", consumption_kwh: "0.5" },
      { ts: "2026-07-02T12:00:00", device_id: "sensor-42", consumption_kwh: 0.6 },
      { ts: "2026-07-02T13:00:00", device_id: "sensor-42", consumption_kwh: 0.7 },
    ]);
    const rows = await dt.settlementHours(
      "rec-a",
      "sensor-42",
      new Date("2026-07-02T11:00:00Z"),
      new Date("2026-07-02T13:00:00Z"),
    );
    expect(rows.map((row) => row.ts)).toEqual(["2026-07-02T11:00:00", "2026-07-02T12:00:00"]);
    expect(fake.calls[0]?.body).toEqual({
      payload: {
        device_id: "sensor-42",
        window_start: "2026-07-02T11:00:00",
        window_end: "2026-07-02T13:00:00",
      },
    });
    expect(decodeJwt(bearerOf(0)).azp).toBe("svc-flexibility");
  });

  test("forecast: payload {start, end} in naive UTC", async () => {
    fake.setForecast("rec-a", [{ datetime: "2026-07-02T11:00:00", prediction: 3.2 }]);
    const rows = await dt.forecast(
      "rec-a",
      new Date("2026-07-02T00:00:00Z"),
      new Date("2026-07-03T00:00:00Z"),
    );
    expect(rows).toEqual([{ datetime: "2026-07-02T11:00:00", prediction: 3.2 }]);
    expect(fake.calls[0]?.body).toEqual({
      payload: { start: "2026-07-02T00:00:00", end: "2026-07-03T00:00:00" },
    });
  });

  test("instants keep their milliseconds only when they have some", () => {
    expect(toDtInstant(new Date("2026-07-02T11:00:00Z"))).toBe("2026-07-02T11:00:00");
    expect(toDtInstant(new Date("2026-07-02T11:00:00.250Z"))).toBe("2026-07-02T11:00:00.250");
  });
});

describe("failures", () => {
  test("503 twice then success: retried, and each attempt counted", async () => {
    fake.failNext(503, 2);
    expect(await dt.membership({ kind: "service" }, "alice")).toEqual(membership);
    expect(fake.calls.map((call) => call.status)).toEqual([503, 503, 200]);
    expect(
      metrics.value("upstream_requests_total", { upstream: "digital-twin", outcome: "server_error" }),
    ).toBe(2);
    expect(metrics.value("upstream_requests_total", { upstream: "digital-twin", outcome: "ok" })).toBe(1);
  });

  test("503 past the retries → UpstreamError with the status, after 1 + retries attempts", async () => {
    fake.failNext(503, Infinity);
    const error = (await client({ retries: 1 })
      .communityWindows({ kind: "service" }, "rec-a")
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.status).toBe(503);
    expect(error.message).toStartWith(
      "digital-twin: POST /communities/it/rec-a/values/rec_flexibility_windows answered 503",
    );
    expect(fake.calls).toHaveLength(2);
  });

  test("400 is never retried", async () => {
    fake.failNext(400, Infinity);
    const error = (await dt
      .communityWindows({ kind: "service" }, "rec-a")
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error.status).toBe(400);
    expect(fake.calls).toHaveLength(1);
    expect(
      metrics.value("upstream_requests_total", { upstream: "digital-twin", outcome: "client_error" }),
    ).toBe(1);
  });

  test("a DT that hangs → timeout error after the configured deadline, retried, then thrown", async () => {
    fake.hang(true);
    const error = (await client({ timeoutMs: 80, retries: 1 })
      .membership({ kind: "user", token: aliceToken }, "alice")
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toBe("digital-twin: GET /participants/alice/profile timed out after 80 ms");
    expect(fake.calls).toHaveLength(2);
    expect(metrics.value("upstream_requests_total", { upstream: "digital-twin", outcome: "timeout" })).toBe(
      2,
    );
  });

  test("nothing listening → network error naming the refused connection", async () => {
    const closed = await startDigitalTwin({ issuer });
    await closed.close();
    const error = (await client({ baseUrl: closed.url, retries: 0 })
      .membership({ kind: "user", token: aliceToken }, "alice")
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toContain("connection refused");
    expect(metrics.value("upstream_requests_total", { upstream: "digital-twin", outcome: "network" })).toBe(
      1,
    );
  });

  test("an answer without items → UpstreamError, not a crash", async () => {
    const weird = createDigitalTwinClient({
      baseUrl: "http://127.0.0.1:1",
      tokens,
      metrics,
      log,
      fetch: async () => Response.json({ rows: [] }),
    });
    await expect(weird.communityWindows({ kind: "user", token: "t" }, "rec-a")).rejects.toThrow(
      "answer has no items array",
    );
  });
});

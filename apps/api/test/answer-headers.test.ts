import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createMetrics } from "@celine/core";
import { presentsToken } from "@celine/platform/metrics-access";
import { createApp } from "../src/app.ts";
import { parseApiEnv } from "../src/env.ts";
import { metricsFetch } from "../src/lib/metrics-endpoint.ts";
import { clientRequestIdOf } from "../src/lib/request-id.ts";
import { HOOK_TIMEOUT, SCOPE } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// Issue 14, items 7 and 8: our own request id on every answer (a client's beside it, never instead);
// security headers on every answer; no caching of what a credential fetched; /metrics behind a token
// or on a port of its own.

setDefaultTimeout(60_000);

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
}, HOOK_TIMEOUT);
afterAll(() => h.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("request ids", () => {
  test.each([
    ["trace-abc-123", "trace-abc-123"],
    ["A.b_c-9", "A.b_c-9"],
    ["x".repeat(64), "x".repeat(64)],
    ["x".repeat(65), null],
    ["has space", null],
    ['quote"d', null],
    ["semi;colon", null],
    ["ünïcode", null],
    ["", null],
  ])("client id %j is kept as %j", (sent, kept) => {
    expect(clientRequestIdOf(sent)).toBe(kept);
  });

  test("a safe client id is logged beside ours (request log and audit record); the answer carries ours", async () => {
    const before = h.logs.length;
    const res = await h.call("GET", "/api/commitments", { headers: { "x-request-id": "bff-7f3a.42" } });
    expect(res.status).toBe(401);
    const ours = res.headers.get("x-request-id") ?? "";
    expect(ours).toMatch(UUID);
    expect(res.json.request_id).toBe(ours);
    const lines = h.logs.slice(before);
    const audit = lines.find((l) => l.logger === "audit");
    expect(audit).toMatchObject({ request_id: ours, client_request_id: "bff-7f3a.42" });
    const request = lines.find((l) => l.msg === "request");
    expect(request).toMatchObject({ request_id: ours, client_request_id: "bff-7f3a.42" });
  });

  test("a client id that collides with one of ours is still only beside it", async () => {
    const first = await h.call("GET", "/health");
    const reused = first.headers.get("x-request-id") ?? "";
    const second = await h.call("GET", "/health", { headers: { "x-request-id": reused } });
    expect(second.headers.get("x-request-id")).not.toBe(reused);
  });

  test("an unsafe client id is dropped: logged nowhere, ours stands alone", async () => {
    const before = h.logs.length;
    const res = await h.call("GET", "/api/commitments", { headers: { "x-request-id": "a".repeat(200) } });
    const lines = h.logs.slice(before);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.request_id).toBe(res.headers.get("x-request-id"));
      expect(line).not.toHaveProperty("client_request_id");
    }
  });

  test("tRPC answers carry our id too", async () => {
    const res = await h.call("GET", "/trpc/settlement.method", { headers: { "x-request-id": "mine" } });
    expect(res.headers.get("x-request-id")).toMatch(UUID);
  });
});

describe("security headers on every answer", () => {
  async function answers() {
    const participant = await h.participant("hdr-ann");
    return [
      ["200 JSON", await h.call("GET", "/api/commitments", { token: participant })],
      ["401 problem", await h.call("GET", "/api/commitments")],
      ["404 problem", await h.call("GET", "/nowhere")],
      ["422 problem", await h.call("GET", "/api/commitments?limit=x", { token: participant })],
      [
        "413 problem",
        await h.call("POST", "/api/commitments", { token: participant, body: "x".repeat(70_000) }),
      ],
      ["tRPC", await h.call("GET", "/trpc/settlement.method", { token: participant })],
      ["health", await h.call("GET", "/health")],
      ["ready", await h.call("GET", "/ready")],
      ["metrics", await h.call("GET", "/metrics")],
      ["openapi.json", await h.call("GET", "/openapi.json")],
      ["docs", await h.call("GET", "/docs")],
    ] as const;
  }

  test("nosniff, no referrer, no framing (X-Frame-Options and CSP frame-ancestors)", async () => {
    for (const [name, res] of await answers()) {
      expect(res.headers.get("x-content-type-options"), name).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), name).toBe("no-referrer");
      expect(res.headers.get("x-frame-options"), name).toBe("DENY");
      expect(res.headers.get("content-security-policy"), name).toBe("frame-ancestors 'none'");
      expect(res.headers.get("x-powered-by"), name).toBeNull();
    }
  });

  test("Cache-Control: no-store on everything under /api and /trpc; the public documents may be cached", async () => {
    const participant = await h.participant("hdr-bob");
    const exporter = await h.service([SCOPE.export]);
    for (const res of [
      await h.call("GET", "/api/commitments", { token: participant }),
      await h.call("GET", "/api/commitments"),
      await h.call("GET", "/api/commitments/export?limit=1", { token: exporter }),
      await h.call("GET", "/trpc/settlement.method", { token: participant }),
    ]) {
      expect(res.headers.get("cache-control"), res.text.slice(0, 200)).toBe("no-store");
    }
    expect((await h.call("GET", "/openapi.json")).headers.get("cache-control")).not.toBe("no-store");
  });

  test("a calendar feed keeps its own Cache-Control (calendar apps may reuse it for 5 minutes)", async () => {
    const participant = await h.participant("hdr-cal");
    const created = await h.call("POST", "/api/calendar/token", { token: participant });
    const feed = await h.call("GET", new URL(created.json.url).pathname);
    expect(feed.status, feed.text).toBe(200);
    expect(feed.headers.get("cache-control")).toBe("private, max-age=300");
    expect(feed.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("/metrics access", () => {
  const TOKEN = "metrics-token-0123456789";

  test("METRICS_TOKEN: without it or with a wrong one → 401 problem; with it → the exposition", async () => {
    const app = createApp({ ...h.deps, metricsAccess: { token: TOKEN } });
    for (const authorization of [undefined, "Bearer wrong", `Bearer ${TOKEN}x`, TOKEN, `Basic ${TOKEN}`]) {
      const res = await app.request("/metrics", { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    const res = await app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("http_requests_total");
  });

  test("METRICS_PORT: the API's own port answers 404 for /metrics; the metrics port serves it (behind the token)", async () => {
    const app = createApp({ ...h.deps, metricsAccess: { elsewhere: true, token: TOKEN } });
    expect((await app.request("/metrics")).status).toBe(404);
    const metrics = createMetrics();
    metrics.inc("http_requests_total", { route: "/x" });
    const serve = metricsFetch(metrics, TOKEN);
    expect((await serve(new Request("http://metrics/metrics"))).status).toBe(401);
    const ok = await serve(
      new Request("http://metrics/metrics", { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('http_requests_total{route="/x"} 1');
    expect((await serve(new Request("http://metrics/health"))).status).toBe(404);
    expect((await metricsFetch(metrics, undefined)(new Request("http://metrics/metrics"))).status).toBe(200);
  });

  test("the token is compared as a whole: a prefix, a longer string or an empty one never pass", async () => {
    expect(await presentsToken(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(await presentsToken(`bearer  ${TOKEN} `, TOKEN)).toBe(true);
    expect(await presentsToken(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(await presentsToken(`Bearer ${TOKEN}0`, TOKEN)).toBe(false);
    expect(await presentsToken("Bearer ", TOKEN)).toBe(false);
    expect(await presentsToken(null, TOKEN)).toBe(false);
    expect(await presentsToken("Bearer x", "")).toBe(false);
  });

  test("configuration: METRICS_TOKEN of at least 16 characters, METRICS_PORT a port", () => {
    const env = parseApiEnv({ CELINE_ENV: "dev", METRICS_TOKEN: TOKEN, METRICS_PORT: "9464" });
    expect(env.METRICS_TOKEN).toBe(TOKEN);
    expect(env.METRICS_PORT).toBe(9464);
    expect(
      parseApiEnv({ CELINE_ENV: "dev", METRICS_TOKEN: "", METRICS_PORT: "" }).METRICS_TOKEN,
    ).toBeUndefined();
    expect(() => parseApiEnv({ CELINE_ENV: "dev", METRICS_TOKEN: "short", METRICS_PORT: "http" })).toThrow(
      /METRICS_TOKEN[\s\S]*METRICS_PORT/,
    );
  });
});

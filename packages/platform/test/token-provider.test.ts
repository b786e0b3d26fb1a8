import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createMetrics, UpstreamError } from "@celine/core";
import type { OidcIssuer } from "@celine/fakes";
import { startOidcIssuer } from "@celine/fakes";
import { createTokenProvider } from "../src/index.ts";
import { decodeJwt } from "./jwt.ts";

let issuer: OidcIssuer;

beforeAll(async () => {
  issuer = await startOidcIssuer({ tokenTtlSeconds: 300 });
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(() => {
  issuer.reset();
  issuer.clearCalls();
});

const discoveryPath = () => new URL(issuer.discoveryUrl).pathname;
const tokenPath = () => new URL(issuer.tokenEndpoint).pathname;
const callsTo = (path: string) => issuer.calls.filter((call) => call.path === path);

function provider(overrides: Partial<Parameters<typeof createTokenProvider>[0]> = {}) {
  return createTokenProvider({
    issuerUrl: issuer.url,
    clientId: "svc-flexibility",
    clientSecret: "svc-flexibility-secret",
    retries: 0,
    ...overrides,
  });
}

describe("token provider", () => {
  test("fetches a client-credentials token with the requested scope, as a form post", async () => {
    const token = await provider().token("nudging.ingest");
    const claims = decodeJwt(token);
    expect(claims.scope).toBe("nudging.ingest");
    expect(claims.azp).toBe("svc-flexibility");
    const [call] = callsTo(tokenPath());
    expect(call?.headers["content-type"]).toContain("application/x-www-form-urlencoded");
    expect(call?.body).toEqual({
      grant_type: "client_credentials",
      client_id: "svc-flexibility",
      client_secret: "svc-flexibility-secret",
      scope: "nudging.ingest",
    });
  });

  test("without a scope the request carries no scope parameter", async () => {
    await provider().token();
    const [call] = callsTo(tokenPath());
    expect(call?.body).not.toHaveProperty("scope");
  });

  test("discovery happens once and each scope's token is cached", async () => {
    const tokens = provider();
    const a1 = await tokens.token("nudging.ingest");
    const a2 = await tokens.token("nudging.ingest");
    const b = await tokens.token("digital-twin.read");
    expect(a2).toBe(a1);
    expect(b).not.toBe(a1);
    expect(callsTo(discoveryPath())).toHaveLength(1);
    expect(callsTo(tokenPath())).toHaveLength(2);
  });

  test("a token is renewed 30 s before it expires, not earlier", async () => {
    let clock = Date.now();
    const tokens = provider({ now: () => clock });
    const first = await tokens.token("nudging.ingest");
    clock += (300 - 31) * 1000;
    expect(await tokens.token("nudging.ingest")).toBe(first);
    clock += 2 * 1000; // now 29 s before expiry
    const second = await tokens.token("nudging.ingest");
    expect(second).not.toBe(first);
    expect(callsTo(tokenPath())).toHaveLength(2);
    expect(callsTo(discoveryPath())).toHaveLength(1);
  });

  test("concurrent callers share one token request", async () => {
    issuer.setLatency(50);
    const tokens = provider();
    const all = await Promise.all(Array.from({ length: 20 }, () => tokens.token("nudging.ingest")));
    expect(new Set(all).size).toBe(1);
    expect(callsTo(tokenPath())).toHaveLength(1);
    expect(callsTo(discoveryPath())).toHaveLength(1);
  });

  test("invalidate forces a new token on the next call", async () => {
    const tokens = provider();
    const first = await tokens.token("nudging.ingest");
    tokens.invalidate("nudging.ingest");
    // The fake mints a fresh jti each time, so a new token differs.
    expect(await tokens.token("nudging.ingest")).not.toBe(first);
    expect(callsTo(tokenPath())).toHaveLength(2);
  });

  test("wrong client secret → UpstreamError naming oidc with status 401", async () => {
    const error = await provider({ clientSecret: "wrong" })
      .token()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).upstream).toBe("oidc");
    expect((error as UpstreamError).status).toBe(401);
    expect((error as UpstreamError).message).toContain("invalid_client");
  });

  test("a scope the client may not have → 400 invalid_scope", async () => {
    const error = (await provider()
      .token("flexibility.admin")
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("invalid_scope");
  });

  test("a failed discovery is not cached: the next call discovers again", async () => {
    issuer.failNext(503, 1, { path: discoveryPath() });
    const tokens = provider();
    const error = (await tokens.token().catch((e: unknown) => e)) as UpstreamError;
    expect(error.status).toBe(503);
    expect(error.message).toContain("oidc");
    expect(await tokens.token()).toBeString();
    expect(callsTo(discoveryPath())).toHaveLength(2);
  });

  test("a 503 from the token endpoint is retried", async () => {
    issuer.failNext(503, 1, { path: tokenPath() });
    const metrics = createMetrics();
    const tokens = provider({ retries: 2, metrics });
    expect(await tokens.token()).toBeString();
    expect(callsTo(tokenPath())).toHaveLength(2);
    expect(metrics.value("upstream_requests_total", { upstream: "oidc", outcome: "server_error" })).toBe(1);
  });

  test("an issuer that does not answer times out with the deadline in the message", async () => {
    issuer.hang(true);
    const error = (await provider({ timeoutMs: 100 })
      .token()
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toContain("timed out after 100 ms");
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import type { OidcIssuer } from "../src/index.ts";
import { classifyClaims, forgeryKinds, startOidcIssuer } from "../src/index.ts";

let issuer: OidcIssuer;

beforeAll(async () => {
  issuer = await startOidcIssuer({ tokenTtlSeconds: 120 });
});
afterAll(async () => {
  await issuer.close();
});

function verifyLikeAService(token: string, audience = "svc-flexibility") {
  const jwks = createRemoteJWKSet(new URL(issuer.jwksUri), { cooldownDuration: 0 });
  // Configured as PLATFORM §2 asks of every service: asymmetric only, issuer, audience, `sub` required.
  return jwtVerify(token, jwks, {
    algorithms: ["RS256", "ES256"],
    issuer: issuer.url,
    audience,
    clockTolerance: 30,
    requiredClaims: ["sub"],
  });
}

function requestToken(form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(issuer.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
}

describe("discovery and keys", () => {
  test("the discovery document names the issuer, JWKS and token endpoint", async () => {
    const res = await fetch(issuer.discoveryUrl);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(issuer.url);
    expect(doc.jwks_uri).toBe(issuer.jwksUri);
    expect(doc.token_endpoint).toBe(issuer.tokenEndpoint);
    expect(issuer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/realms\/celine$/);
  });

  test("the JWKS publishes public keys only, each with a kid", async () => {
    const { keys } = (await (await fetch(issuer.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) {
      expect(typeof key.kid).toBe("string");
      expect(key.d).toBeUndefined();
    }
  });
});

describe("minted tokens", () => {
  test("a participant token verifies and carries no flexibility scope", async () => {
    const token = await issuer.mintParticipant("user-1", { groups: ["rec-a"] });
    const { payload } = await verifyLikeAService(token);
    expect(payload.sub).toBe("user-1");
    expect(payload.email).toBe("user-1@participants.test");
    expect(String(payload.scope)).not.toContain("flexibility");
    expect(classifyClaims(payload)).toBe("participant");
  });

  test("a service token is a service account with its scopes and derived audiences", async () => {
    const token = await issuer.mintService("svc-pipelines", [
      "flexibility.commitments.export",
      "nudging.ingest",
    ]);
    const { payload } = await verifyLikeAService(token);
    expect(payload.preferred_username).toBe("service-account-svc-pipelines");
    expect(payload.scope).toBe("flexibility.commitments.export nudging.ingest");
    expect(payload.aud).toEqual(["svc-flexibility", "svc-nudging"]);
    expect(classifyClaims(payload)).toBe("service");
  });

  test("ES256 tokens from the issuer verify too", async () => {
    const token = await issuer.mint(
      { sub: "u", iss: issuer.url, aud: "svc-flexibility", exp: Math.floor(Date.now() / 1000) + 60 },
      { alg: "ES256" },
    );
    await expect(verifyLikeAService(token)).resolves.toBeDefined();
  });

  test("expiresIn accepts a negative span", async () => {
    const token = await issuer.mintParticipant("user-1", {}, { expiresIn: "-10s" });
    expect(decodeJwt(token).exp).toBeLessThan(Date.now() / 1000);
  });
});

describe("security suite tokens are refused by a JWKS verifier", () => {
  test("the valid baseline passes", async () => {
    await expect(verifyLikeAService(await issuer.mintParticipant("forged-user"))).resolves.toBeDefined();
  });

  for (const kind of forgeryKinds) {
    test(`${kind} fails verification`, async () => {
      const token = await issuer.mintForged(kind);
      await expect(verifyLikeAService(token)).rejects.toThrow();
    });
  }

  test("hs256 forgery really is an HMAC over the published key's kid", async () => {
    const header = decodeProtectedHeader(await issuer.mintForged("hs256-public-pem"));
    expect(header.alg).toBe("HS256");
    const { keys } = issuer.jwks();
    expect(keys.map((k) => k.kid)).toContain(header.kid);
  });
});

describe("token endpoint", () => {
  test("client credentials give a bearer token with expires_in", async () => {
    const res = await requestToken({
      grant_type: "client_credentials",
      client_id: "svc-flexibility",
      client_secret: "svc-flexibility-secret",
      scope: "nudging.ingest",
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(120);
    const { payload } = await verifyLikeAService(String(body.access_token), "svc-nudging");
    expect(payload.scope).toBe("nudging.ingest");
    expect(payload.exp).toBe((payload.iat ?? 0) + 120);
  });

  test("HTTP Basic client authentication works too", async () => {
    const basic = `Basic ${btoa("svc-pipelines:svc-pipelines-secret")}`;
    const res = await requestToken({ grant_type: "client_credentials" }, { authorization: basic });
    expect(res.status).toBe(200);
  });

  const refusals: [string, Record<string, string>, number, string][] = [
    ["wrong secret", { client_id: "svc-flexibility", client_secret: "nope" }, 401, "invalid_client"],
    ["unknown client", { client_id: "who", client_secret: "x" }, 401, "invalid_client"],
    ["no credentials", {}, 401, "invalid_client"],
    [
      "scope not granted",
      { client_id: "svc-pipelines", client_secret: "svc-pipelines-secret", scope: "flexibility.admin" },
      400,
      "invalid_scope",
    ],
  ];
  for (const [name, form, status, error] of refusals) {
    test(`refuses: ${name}`, async () => {
      const res = await requestToken({ grant_type: "client_credentials", ...form });
      const body = (await res.json()) as Record<string, unknown>;
      expect({ status: res.status, error: body.error }).toEqual({ status, error });
    });
  }

  test("other grant types are refused", async () => {
    const res = await requestToken({ grant_type: "password", client_id: "svc-flexibility" });
    expect(res.status).toBe(400);
  });
});

describe("key rotation", () => {
  test("a verifier refetches the JWKS on an unknown kid; retired keys stop verifying", async () => {
    const rotating = await startOidcIssuer();
    try {
      const jwks = createRemoteJWKSet(new URL(rotating.jwksUri), { cooldownDuration: 0 });
      const verify = (token: string) =>
        jwtVerify(token, jwks, { algorithms: ["RS256"], issuer: rotating.url, audience: "svc-flexibility" });
      const before = await rotating.mintParticipant("u");
      await verify(before);
      const kid = await rotating.rotateKeys();
      const after = await rotating.mintParticipant("u");
      expect(decodeProtectedHeader(after).kid).toBe(kid);
      await expect(verify(after)).resolves.toBeDefined();
      await expect(verify(before)).resolves.toBeDefined();
      await rotating.rotateKeys({ retire: true });
      // A verifier that already cached the old key keeps it; a fresh one no longer finds it.
      const fresh = createRemoteJWKSet(new URL(rotating.jwksUri));
      await expect(
        jwtVerify(before, fresh, { algorithms: ["RS256"], issuer: rotating.url }),
      ).rejects.toThrow();
      expect(rotating.calls.filter((call) => call.path.endsWith("/certs")).length).toBeGreaterThanOrEqual(2);
    } finally {
      await rotating.close();
    }
  });
});

describe("faults", () => {
  test("failNext scoped to the JWKS path fails it K times, leaving discovery alone", async () => {
    const jwksPath = new URL(issuer.jwksUri).pathname;
    issuer.failNext(503, 2, { path: jwksPath });
    expect((await fetch(issuer.discoveryUrl)).status).toBe(200);
    expect((await fetch(issuer.jwksUri)).status).toBe(503);
    expect((await fetch(issuer.jwksUri)).status).toBe(503);
    expect((await fetch(issuer.jwksUri)).status).toBe(200);
    const statuses = issuer.calls.slice(-4).map((call) => call.status);
    expect(statuses).toEqual([200, 503, 503, 200]);
  });

  test("a hung JWKS never answers; the client can abort; reset releases", async () => {
    issuer.hang(true);
    const started = performance.now();
    await expect(fetch(issuer.jwksUri, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2000);
    const pending = fetch(issuer.jwksUri);
    await Bun.sleep(50);
    issuer.reset();
    expect((await pending).status).toBe(200);
  });

  test("latency delays answers", async () => {
    issuer.setLatency(150);
    const started = performance.now();
    await fetch(issuer.discoveryUrl);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    issuer.reset();
  });
});

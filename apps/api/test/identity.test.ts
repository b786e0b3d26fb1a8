import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, spyOn, test } from "bun:test";
import { UnauthorizedError } from "@celine/core";
import type { JWTPayload } from "jose";
import { createApp } from "../src/app.ts";
import { actorOf, createTokenVerifier, tokenFrom, type VerifierOptions } from "../src/lib/identity.ts";
import { commitmentBody, HOOK_TIMEOUT, SCOPE } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// Generous on a loaded two-core CI machine; the default is 5 s.
setDefaultTimeout(60_000);

// PLATFORM §2 identity: service-account detection in the documented order, scopes, header
// precedence, JWKS caching and rotation, JWKS failures as 401, the verified-token cache, leeway.

let h: Harness;
let jwksPath: string;
beforeAll(async () => {
  h = await createHarness();
  jwksPath = new URL(h.issuer.jwksUri).pathname;
}, HOOK_TIMEOUT);
afterAll(() => h.close());
afterEach(() => h.issuer.reset());

/** A verifier of its own (its own JWKS cache and token cache) against the harness's issuer. */
function freshVerifier(opts: Partial<VerifierOptions> = {}) {
  return createTokenVerifier({
    issuer: h.issuer.url,
    jwksUri: h.issuer.jwksUri,
    audience: h.issuer.audience,
    cooldownMs: 0,
    ...opts,
  });
}
const jwksCalls = () => h.issuer.calls.filter((c) => c.path === jwksPath).length;

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UnauthorizedError);
    return (error as Error).message;
  }
  throw new Error("expected an UnauthorizedError");
}

describe("happy", () => {
  // PLATFORM §2, in order: service-account- username → service; gty client-credentials → service;
  // email, groups or any other username → participant; client_id (and no email) → service; else participant.
  test.each<[string, JWTPayload, "service" | "participant"]>([
    ["service-account- username", { preferred_username: "service-account-svc-a" }, "service"],
    [
      "service-account- username wins over an email",
      { preferred_username: "service-account-x", email: "x@y.z" },
      "service",
    ],
    ["gty client-credentials", { gty: "client-credentials" }, "service"],
    [
      "gty client-credentials wins over an email and groups",
      { gty: "client-credentials", email: "a@b.c", groups: ["g"] },
      "service",
    ],
    ["an email", { email: "alice@example.org" }, "participant"],
    ["an email wins over client_id", { email: "alice@example.org", client_id: "webapp" }, "participant"],
    ["groups win over client_id", { groups: ["/rec/a"], client_id: "webapp" }, "participant"],
    [
      "another username wins over client_id",
      { preferred_username: "alice", client_id: "webapp" },
      "participant",
    ],
    ["client_id alone", { client_id: "svc-b" }, "service"],
    ["client_id with empty groups (no groups)", { client_id: "svc-b", groups: [] }, "service"],
    ["azp alone is not client_id", { azp: "svc-b" }, "participant"],
    ["nothing but sub", {}, "participant"],
    ["gty of another grant", { gty: "password", client_id: "svc-c" }, "service"],
    [
      "a username that only contains the prefix",
      { preferred_username: "x-service-account-y" },
      "participant",
    ],
  ])("actorOf: %s → %s", (_, claims, kind) => {
    expect(actorOf({ sub: "s-1", ...claims }).kind).toBe(kind);
  });

  test.each<[string, unknown, string[]]>([
    [
      "space-separated",
      "openid flexibility.commitments.read flexibility.admin",
      ["openid", "flexibility.commitments.read", "flexibility.admin"],
    ],
    ["extra spaces", "  a   b ", ["a", "b"]],
    ["absent", undefined, []],
    ["empty", "", []],
    ["not a string", ["flexibility.admin"], []],
  ])("scopes come from the `scope` claim (%s)", (_, scope, scopes) => {
    expect(actorOf({ sub: "s", client_id: "svc", scope } as JWTPayload)).toMatchObject({ scopes });
  });

  test("the actor carries sub, the client id (client_id, else azp) and realm roles", () => {
    expect(actorOf({ sub: "s", client_id: "svc", azp: "other", realm_access: { roles: ["r", 3] } })).toEqual({
      kind: "service",
      id: "s",
      clientId: "svc",
      scopes: [],
      roles: ["r"],
    });
    expect(actorOf({ sub: "p", azp: "celine-webapp", email: "p@x" }).clientId).toBe("celine-webapp");
  });

  test.each<[string, Record<string, string>, string | null]>([
    ["proxy header (raw token)", { "x-auth-request-access-token": "P" }, "P"],
    ["proxy header with a Bearer prefix", { "x-auth-request-access-token": "Bearer P" }, "P"],
    ["Authorization: Bearer", { authorization: "Bearer A" }, "A"],
    ["lower-case scheme", { authorization: "bearer A" }, "A"],
    ["both: the proxy header wins", { "x-auth-request-access-token": "P", authorization: "Bearer A" }, "P"],
    [
      "an empty proxy header falls back to Authorization",
      { "x-auth-request-access-token": " ", authorization: "Bearer A" },
      "A",
    ],
    ["Basic is not a token", { authorization: "Basic dXNlcjpwYXNz" }, null],
    ["a bare token without scheme", { authorization: "A" }, null],
    ["nothing", {}, null],
  ])("tokenFrom: %s", (_, headers, token) => {
    expect(tokenFrom(new Headers(headers), "x-auth-request-access-token")).toBe(token);
  });

  test("a participant token and a service token from the issuer are told apart", async () => {
    const verifier = freshVerifier();
    expect(await verifier.verify(await h.participant("alice"))).toMatchObject({
      kind: "participant",
      id: "alice",
    });
    expect(await verifier.verify(await h.service([SCOPE.read], "svc-x"))).toMatchObject({
      kind: "service",
      id: "service-account-id-svc-x",
      clientId: "svc-x",
      scopes: [SCOPE.read],
    });
  });

  test("an ES256 token (another asymmetric algorithm) verifies", async () => {
    const claims = {
      iss: h.issuer.url,
      aud: h.issuer.audience,
      sub: "es-user",
      exp: Math.floor(Date.now() / 1000) + 60,
    };
    expect((await freshVerifier().verify(await h.issuer.mint(claims, { alg: "ES256" }))).id).toBe("es-user");
  });

  test("aud may be a list that contains our audience", async () => {
    const token = await h.issuer.mintParticipant("multi", { aud: ["svc-other", h.issuer.audience] });
    expect((await freshVerifier().verify(token)).id).toBe("multi");
  });

  test("30 s leeway: expired 20 s ago or valid from 20 s ahead is accepted", async () => {
    const now = Math.floor(Date.now() / 1000);
    const verifier = freshVerifier();
    expect((await verifier.verify(await h.issuer.mintParticipant("late", { exp: now - 20 }))).id).toBe(
      "late",
    );
    expect((await verifier.verify(await h.issuer.mintParticipant("early", { nbf: now + 20 }))).id).toBe(
      "early",
    );
  });

  test("a custom JWT_HEADER_NAME is the proxy header the app reads", async () => {
    const app = createApp({ ...h.deps, jwtHeaderName: "x-forwarded-access-token" });
    const token = await h.participant("alice");
    const viaCustom = await app.request("/api/commitments", {
      headers: { "x-forwarded-access-token": token },
    });
    expect(viaCustom.status, await viaCustom.text()).toBe(200);
    const viaDefault = await app.request("/api/commitments", {
      headers: { "x-auth-request-access-token": token },
    });
    expect(viaDefault.status).toBe(401);
  });
});

describe("JWKS", () => {
  test("the key set is fetched once and reused across tokens", async () => {
    const verifier = freshVerifier();
    const before = jwksCalls();
    for (const sub of ["a", "b", "c", "d"]) await verifier.verify(await h.participant(sub));
    expect(jwksCalls() - before).toBe(1);
  });

  test("rotation: a token signed with the new kid verifies (refetch on the unknown kid)", async () => {
    const verifier = freshVerifier();
    await verifier.verify(await h.participant("before"));
    const before = jwksCalls();
    const kid = await h.issuer.rotateKeys();
    const token = await h.participant("after");
    expect(JSON.parse(atob(token.split(".")[0] as string)).kid).toBe(kid);
    expect((await verifier.verify(token)).id).toBe("after");
    expect(jwksCalls() - before).toBe(1);
  });

  test("rotation with retirement: an old-key token not seen before is refused once the set is refetched", async () => {
    const verifier = freshVerifier();
    const old = await h.participant("old");
    await verifier.verify(await h.participant("warm"));
    await h.issuer.rotateKeys({ retire: true });
    await verifier.verify(await h.participant("new"));
    expect(await refusal(verifier.verify(old))).toMatch(/signing key not found|invalid/);
  });

  test("the app follows a rotation end to end", async () => {
    await h.call("GET", "/api/commitments", { token: await h.participant("warm-app") });
    await h.issuer.rotateKeys();
    const res = await h.call("GET", "/api/commitments", { token: await h.participant("rotated") });
    expect(res.status, res.text).toBe(200);
  });

  test("unknown kids do not refetch more than the cooldown allows", async () => {
    const verifier = freshVerifier({ cooldownMs: 60_000 });
    await verifier.verify(await h.participant("warm"));
    const before = jwksCalls();
    for (let i = 0; i < 5; i += 1) {
      expect(await refusal(verifier.verify(await h.issuer.mintForged("unknown-kid")))).toMatch(/invalid/);
    }
    expect(jwksCalls() - before).toBeLessThanOrEqual(1);
  });

  test.each([
    ["answers 503", () => h.issuer.failNext(503, Number.POSITIVE_INFINITY, { path: jwksPath })],
    ["hangs", () => h.issuer.hang(true, { path: jwksPath })],
  ])("JWKS that %s → UnauthorizedError 'JWKS unreachable'", async (_, fault) => {
    fault();
    const verifier = freshVerifier({ timeoutMs: 200 });
    expect(await refusal(verifier.verify(await h.participant("alice")))).toMatch(/^JWKS unreachable/);
  });

  test("JWKS at a closed port → 'JWKS unreachable'", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const port = closed.port;
    await closed.stop(true);
    const verifier = freshVerifier({ jwksUri: `http://127.0.0.1:${port}/certs`, timeoutMs: 1_000 });
    expect(await refusal(verifier.verify(await h.participant("alice")))).toMatch(/^JWKS unreachable/);
  });

  test("the app answers 401 'JWKS unreachable' (not 500) and audits it once", async () => {
    h.issuer.failNext(503, Number.POSITIVE_INFINITY, { path: jwksPath });
    const app = createApp({ ...h.deps, verifier: freshVerifier({ timeoutMs: 200 }) });
    const before = h.audits().length;
    const res = await app.request("/api/commitments", {
      headers: { authorization: `Bearer ${await h.participant("alice")}` },
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(401);
    expect(body.detail).toMatch(/^JWKS unreachable/);
    expect(h.audits().slice(before)).toHaveLength(1);
  });

  test("a JWKS outage is not remembered: the next request after recovery verifies", async () => {
    h.issuer.failNext(503, 1, { path: jwksPath });
    const verifier = freshVerifier({ timeoutMs: 500 });
    const token = await h.participant("alice");
    expect(await refusal(verifier.verify(token))).toMatch(/JWKS unreachable/);
    expect((await verifier.verify(token)).id).toBe("alice");
  });
});

describe("verified-token cache", () => {
  test("the same token is verified (signature checked) once; a different token is verified again", async () => {
    const verifier = freshVerifier();
    const token = await h.participant("cached");
    const spy = spyOn(crypto.subtle, "verify");
    try {
      const first = await verifier.verify(token);
      const signatureChecks = spy.mock.calls.length;
      expect(signatureChecks).toBeGreaterThan(0);
      for (let i = 0; i < 10; i += 1) expect(await verifier.verify(token)).toBe(first);
      expect(spy.mock.calls.length).toBe(signatureChecks);
      await verifier.verify(await h.participant("other"));
      expect(spy.mock.calls.length).toBeGreaterThan(signatureChecks);
    } finally {
      spy.mockRestore();
    }
  });

  test("a busy caller through the app costs one JWKS fetch and one verification", async () => {
    const verifier = freshVerifier();
    const app = createApp({ ...h.deps, verifier });
    const token = await h.participant("busy");
    const before = jwksCalls();
    const spy = spyOn(crypto.subtle, "verify");
    try {
      for (let i = 0; i < 20; i += 1) {
        const res = await app.request("/api/commitments", { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
      }
      expect(jwksCalls() - before).toBe(1);
      expect(spy.mock.calls.length).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  test("a cached token stops being accepted once it expires (30 s leeway included)", async () => {
    let clock = Date.now();
    const verifier = freshVerifier({ now: () => clock });
    const token = await h.issuer.mintParticipant("short", {}, { expiresIn: 60 });
    expect((await verifier.verify(token)).id).toBe("short");
    clock += 80_000;
    expect((await verifier.verify(token)).id).toBe("short");
    clock += 20_000;
    expect(await refusal(verifier.verify(token))).toMatch(/expired/);
  });

  test("the cache is bounded: the least recently used token is evicted", async () => {
    const verifier = freshVerifier({ cacheSize: 2 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((s) => h.participant(s)));
    const first = await verifier.verify(a as string);
    await verifier.verify(b as string);
    await verifier.verify(c as string);
    expect(await verifier.verify(a as string)).not.toBe(first);
    const second = await verifier.verify(a as string);
    expect(await verifier.verify(a as string)).toBe(second);
  });

  test("a refused token is not cached as accepted", async () => {
    const verifier = freshVerifier();
    const forged = await h.issuer.mintForged("tampered-payload");
    for (let i = 0; i < 3; i += 1) expect(await refusal(verifier.verify(forged))).toMatch(/invalid/);
  });
});

describe("errors", () => {
  test.each([
    [
      "expired past the leeway",
      async () => h.issuer.mintParticipant("x", { exp: Math.floor(Date.now() / 1000) - 40 }),
      /expired/,
    ],
    [
      "not valid for another 40 s",
      async () => h.issuer.mintParticipant("x", { nbf: Math.floor(Date.now() / 1000) + 40 }),
      /not yet valid/,
    ],
    ["wrong issuer", async () => h.issuer.mintForged("wrong-issuer"), /wrong issuer/],
    ["wrong audience", async () => h.issuer.mintForged("wrong-audience"), /wrong audience/],
    ["no sub", async () => h.issuer.mintForged("missing-sub"), /no subject/],
    ["an empty sub", async () => h.issuer.mintParticipant("x", { sub: "" }), /no subject/],
    [
      "a sub with NUL (it could never be stored)",
      async () => h.issuer.mintParticipant("a\u0000b"),
      /malformed subject/,
    ],
    [
      "HS256 keyed with the public key",
      async () => h.issuer.mintForged("hs256-public-pem"),
      /algorithm not allowed/,
    ],
    ["alg none", async () => h.issuer.mintForged("alg-none"), /invalid/],
    [
      "a foreign key under a known kid",
      async () => h.issuer.mintForged("foreign-key-known-kid"),
      /bad signature/,
    ],
    ["a tampered payload", async () => h.issuer.mintForged("tampered-payload"), /bad signature/],
    ["not a JWT at all", async () => "hello", /invalid/],
  ])("%s → UnauthorizedError naming the cause", async (_, mint, cause) => {
    expect(await refusal(freshVerifier().verify(await mint()))).toMatch(cause);
  });

  test.each([
    ["an empty sub is a 401, not a policy 403", ""],
    ["a sub with NUL is a 401, not a database 500", "a\u0000b"],
    ["a sub with a lone surrogate is a 401, not a 500", "a\ud800b"],
  ])("%s", async (_, sub) => {
    const token = await h.issuer.mintParticipant("x", { sub });
    for (const [method, path] of [
      ["POST", "/api/commitments"],
      ["GET", "/api/commitments"],
    ] as const) {
      const res = await h.call(method, path, {
        token,
        body: method === "POST" ? commitmentBody() : undefined,
      });
      expect(res.status, res.text).toBe(401);
    }
  });
});

describe("issue 14 item 4: exp required, sub a string, the key set stale-while-revalidate", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const base = () => ({ iss: h.issuer.url, aud: h.issuer.audience });

  test.each<[string, () => Record<string, unknown>, string]>([
    [
      "a signed token without exp (it was accepted forever)",
      () => ({ ...base(), sub: "no-exp" }),
      "exp is required",
    ],
    [
      "exp as a string",
      () => ({ ...base(), sub: "str-exp", exp: String(now() + 60) }),
      "exp must be a number",
    ],
    [
      "a numeric sub (it was reported as 'JWKS unreachable')",
      () => ({ ...base(), sub: 42, exp: now() + 60 }),
      "sub must be a string",
    ],
    ["an object as sub", () => ({ ...base(), sub: { id: "x" }, exp: now() + 60 }), "sub must be a string"],
  ])("%s → 401 naming it, over REST and tRPC, audited", async (_, claims, named) => {
    const token = await h.issuer.mint(claims() as JWTPayload);
    expect(await refusal(freshVerifier().verify(token))).toBe(`token invalid: ${named}`);
    const before = h.audits().length;
    const res = await h.call("GET", "/api/commitments", { token });
    expect(res.status, res.text).toBe(401);
    expect(res.json.detail).toBe(`token invalid: ${named}`);
    expect(
      h
        .audits()
        .slice(before)
        .map((a) => a.reason),
    ).toEqual([`token invalid: ${named}`]);
    const trpc = await h.app.request("/trpc/commitments.list?input=%7B%7D", {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await trpc.text();
    expect(trpc.status, body).toBe(401);
    expect(JSON.parse(body).error.message).toBe(`token invalid: ${named}`);
  });

  /** A verifier on a clock the test moves, with the production timings but a short fetch timeout. */
  function clocked(opts: Partial<VerifierOptions> = {}) {
    const clock = { t: Date.now() };
    const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log = {
      warn: (msg: string, fields?: Record<string, unknown>) => logs.push({ msg, fields }),
      info: (msg: string, fields?: Record<string, unknown>) => logs.push({ msg, fields }),
    };
    const verifier = freshVerifier({ cooldownMs: 30_000, timeoutMs: 300, now: () => clock.t, log, ...opts });
    return { clock, logs, verifier };
  }
  /** A member token good for the whole test's simulated hours. */
  const longLived = (sub: string) => h.issuer.mintParticipant(sub, {}, { expiresIn: 6 * 3600 });
  /**
   * The JWKS calls the fake has seen since `from`, once `n` have arrived and stray ones had time to:
   * a background refresh is recorded by the fake a moment after the verification that started it.
   */
  async function jwksCallsSince(from: number, n: number): Promise<number> {
    const deadline = performance.now() + 2_000;
    while (jwksCalls() - from < n && performance.now() < deadline) await Bun.sleep(10);
    await Bun.sleep(50);
    return jwksCalls() - from;
  }
  async function fast(sub: string, verifier: ReturnType<typeof freshVerifier>) {
    const token = await longLived(sub);
    const started = performance.now();
    const actor = await verifier.verify(token);
    return { id: actor.id, ms: performance.now() - started };
  }

  test("the IdP unreachable: known keys keep verifying new tokens at once, one JWKS attempt per cooldown, for at most an hour; then refused; then recovered", async () => {
    const { clock, logs, verifier } = clocked();
    expect((await fast("warm", verifier)).id).toBe("warm");
    const fetched = jwksCalls();
    h.issuer.hang(true, { path: jwksPath });

    // 11 min later the set is due a refresh: asked in the background, the token verified meanwhile.
    clock.t += 11 * 60_000;
    for (const sub of ["s1", "s2", "s3", "s4"]) {
      const { id, ms } = await fast(sub, verifier);
      expect(id).toBe(sub);
      expect(ms).toBeLessThan(150);
    }
    expect(await jwksCallsSince(fetched, 1)).toBe(1);
    await Bun.sleep(400); // the background attempt times out (300 ms)
    expect(logs.map((l) => l.msg)).toContain("JWKS unreachable");

    // Within the cooldown: no new attempt; past it: one more, still in the background.
    clock.t += 10_000;
    expect((await fast("s5", verifier)).id).toBe("s5");
    expect(await jwksCallsSince(fetched, 1)).toBe(1);
    clock.t += 25_000;
    expect((await fast("s6", verifier)).id).toBe("s6");
    expect(await jwksCallsSince(fetched, 2)).toBe(2);
    await Bun.sleep(400);

    // Past an hour since the last successful fetch the keys are not trusted any more.
    clock.t += 50 * 60_000;
    expect(await refusal(verifier.verify(await longLived("late")))).toBe(
      "JWKS unreachable: timed out after 300 ms",
    );
    expect(await jwksCallsSince(fetched, 3)).toBe(3);
    const started = performance.now();
    expect(await refusal(verifier.verify(await longLived("later")))).toMatch(/^JWKS unreachable/);
    expect(performance.now() - started).toBeLessThan(150);
    expect(await jwksCallsSince(fetched, 3)).toBe(3);

    // The IdP back: the next attempt (after the cooldown) fetches and every token verifies again.
    h.issuer.reset();
    clock.t += 31_000;
    expect((await fast("back", verifier)).id).toBe("back");
    expect(await jwksCallsSince(fetched, 4)).toBe(4);
    expect(logs.at(-1)?.msg).toBe("JWKS reachable again");
  });

  test("no key set yet and the IdP hanging: the first token waits out the timeout, the next ones are refused at once until the cooldown", async () => {
    const { clock, verifier } = clocked();
    h.issuer.hang(true, { path: jwksPath });
    const before = jwksCalls();
    expect(await refusal(verifier.verify(await longLived("first")))).toBe(
      "JWKS unreachable: timed out after 300 ms",
    );
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      expect(await refusal(verifier.verify(await longLived(`next-${i}`)))).toMatch(/^JWKS unreachable/);
      expect(performance.now() - started).toBeLessThan(150);
    }
    expect(await jwksCallsSince(before, 1)).toBe(1);
    h.issuer.reset();
    clock.t += 30_000;
    expect((await verifier.verify(await longLived("after"))).id).toBe("after");
  });

  test("concurrent first requests share one fetch", async () => {
    const { verifier } = clocked();
    const before = jwksCalls();
    const tokens = await Promise.all(["c1", "c2", "c3", "c4", "c5"].map((s) => longLived(s)));
    const actors = await Promise.all(tokens.map((t) => verifier.verify(t)));
    expect(actors.map((a) => a.id)).toEqual(["c1", "c2", "c3", "c4", "c5"]);
    expect(await jwksCallsSince(before, 1)).toBe(1);
  });

  test("a rotation during the outage: a token under a new kid is refused 'JWKS unreachable', known kids still verify", async () => {
    const { clock, verifier } = clocked();
    expect((await fast("warm-r", verifier)).id).toBe("warm-r");
    await h.issuer.rotateKeys();
    h.issuer.failNext(503, Number.POSITIVE_INFINITY, { path: jwksPath });
    clock.t += 31_000;
    expect(await refusal(verifier.verify(await longLived("new-kid")))).toBe("JWKS unreachable: HTTP 503");
    const es = await h.issuer.mint({ ...base(), sub: "es-known", exp: now() + 3600 }, { alg: "ES256" });
    expect((await verifier.verify(es)).id).toBe("es-known");
  });
});

import { describe, expect, test } from "bun:test";
import type { PolicyInput } from "@celine/core";
import { forgeryKinds } from "@celine/fakes";
import { createApp } from "../src/app.ts";
import type { RateLimits } from "../src/lib/rate-limit.ts";
import { SCOPE, seedCommitment, separateWindow } from "./fixtures.ts";
import type { Harness, Json } from "./harness.ts";
import type { PublishedBody } from "./published-windows.ts";

// The auth checks every secured route must pass, run against each row of SECURED_ROUTES (REST and
// tRPC alike): forged and missing tokens → 401, a caller the policy refuses → 403 with the policy's
// reason, a caller the verb refuses after the policy → 403, a caller over its rate limit → 429, a
// stranger's commitment → 404, header precedence, and exactly one audit record per refusal — under
// our own request id, with the client's X-Request-Id beside it when it is a safe token.

export type Transport = "rest" | "trpc";

export type SecuredRoute = {
  /** `METHOD /openapi/path` for REST, the procedure path for tRPC. */
  name: string;
  transport: Transport;
  /** Who the route serves: participants acting on their own data, or services holding `scope`. */
  caller: "participant" | "service";
  /** The policy action and resource type the verb asks about (named in a 403's audit record). */
  action: string;
  resource: string;
  /** The scope an admitted service holds (participant routes: the scope a service would need). */
  scope: string;
  /** The route acts on one commitment the caller must own: a stranger gets 404, never 403. */
  ownerScoped?: boolean;
  /** The status an admitted caller gets; omitted where an answer needs more of the platform fakes. */
  ok?: number;
  /**
   * The request. `id`: a live commitment of `owner`'s; `window`: a window the DT publishes for
   * `owner`, fresh for every request (a participant commits only to those, never twice to one).
   */
  build(target: { id: string; owner: string; window: PublishedBody }): {
    method: string;
    path: string;
    body?: unknown;
  };
};

const trpcQuery = (procedure: string, input?: unknown) => ({
  method: "GET",
  path: `/trpc/${procedure}${input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
});
const trpcMutation = (procedure: string, input?: unknown) => ({
  method: "POST",
  path: `/trpc/${procedure}`,
  body: input ?? {},
});

/** Every secured route of the API. A route missing here fails the completeness tests below. */
export const SECURED_ROUTES: SecuredRoute[] = [
  {
    name: "POST /api/commitments",
    transport: "rest",
    caller: "participant",
    // A participant commits for themselves (`write`); a service only records for a member as an
    // operator (`record`, flexibility.admin).
    action: "record",
    resource: "commitment",
    scope: SCOPE.admin,
    ok: 201,
    build: ({ owner, window }) => ({
      method: "POST",
      path: "/api/commitments",
      body: { ...window, user_id: owner },
    }),
  },
  {
    name: "GET /api/commitments",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "commitment",
    scope: SCOPE.read,
    ok: 200,
    build: ({ owner }) => ({ method: "GET", path: `/api/commitments?user_id=${owner}` }),
  },
  {
    name: "DELETE /api/commitments/{id}",
    transport: "rest",
    caller: "participant",
    action: "delete",
    resource: "commitment",
    scope: SCOPE.write,
    ownerScoped: true,
    ok: 204,
    build: ({ id }) => ({ method: "DELETE", path: `/api/commitments/${id}` }),
  },
  {
    name: "GET /api/commitments/pending",
    transport: "rest",
    caller: "service",
    action: "service",
    resource: "commitment",
    scope: SCOPE.read,
    ok: 200,
    build: () => ({ method: "GET", path: "/api/commitments/pending?limit=1" }),
  },
  {
    name: "PATCH /api/commitments/{id}/settle",
    transport: "rest",
    caller: "service",
    action: "settle",
    resource: "commitment",
    scope: SCOPE.write,
    ok: 200,
    build: ({ id }) => ({
      method: "PATCH",
      path: `/api/commitments/${id}/settle`,
      body: { reward_points_actual: 1 },
    }),
  },
  {
    name: "GET /api/commitments/export",
    transport: "rest",
    caller: "service",
    action: "export",
    resource: "commitment",
    scope: SCOPE.export,
    ok: 200,
    build: () => ({ method: "GET", path: "/api/commitments/export?limit=1" }),
  },
  {
    // The target is live (not settled yet): even its owner gets 404, so no `ok` status here.
    name: "GET /api/commitments/{id}/settlement",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "settlement",
    scope: SCOPE.read,
    ownerScoped: true,
    build: ({ id }) => ({ method: "GET", path: `/api/commitments/${id}/settlement` }),
  },
  {
    // The target is live with a window ahead and no device: the owner's answer needs no DT.
    name: "GET /api/commitments/{id}/progress",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "commitment_progress",
    scope: SCOPE.read,
    ownerScoped: true,
    ok: 200,
    build: ({ id }) => ({ method: "GET", path: `/api/commitments/${id}/progress` }),
  },
  {
    name: "GET /api/settlement/method",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "settlement_method",
    scope: SCOPE.read,
    ok: 200,
    build: () => ({ method: "GET", path: "/api/settlement/method" }),
  },
  {
    name: "GET /api/suggestions",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "suggestion",
    scope: SCOPE.read,
    ok: 200,
    build: () => ({ method: "GET", path: "/api/suggestions" }),
  },
  {
    name: "POST /api/suggestions/{id}/respond",
    transport: "rest",
    caller: "participant",
    action: "respond",
    resource: "suggestion",
    scope: SCOPE.write,
    ok: 200,
    build: ({ window }) => ({
      method: "POST",
      path: `/api/suggestions/${window.suggestion_id}/respond`,
      body: { response: "accepted" },
    }),
  },
  {
    name: "GET /api/points/me",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "points",
    scope: SCOPE.read,
    build: () => ({ method: "GET", path: "/api/points/me" }),
  },
  {
    name: "GET /api/leaderboard",
    transport: "rest",
    caller: "participant",
    action: "read",
    resource: "points",
    scope: SCOPE.read,
    build: () => ({ method: "GET", path: "/api/leaderboard" }),
  },
  {
    name: "PUT /api/points/me/preferences",
    transport: "rest",
    caller: "participant",
    action: "write",
    resource: "points",
    scope: SCOPE.write,
    build: () => ({ method: "PUT", path: "/api/points/me/preferences", body: { leaderboard_visible: true } }),
  },
  {
    // Operators only: a participant is refused even erasing themself (the suite's participant is OWNER).
    name: "DELETE /api/members/{user_id}",
    transport: "rest",
    caller: "service",
    action: "erase",
    resource: "member",
    scope: SCOPE.admin,
    ok: 200,
    build: ({ owner }) => ({ method: "DELETE", path: `/api/members/${owner}` }),
  },
  {
    // A participant's own feed URL; no scope lets a service mint one (the policy: action not permitted).
    name: "POST /api/calendar/token",
    transport: "rest",
    caller: "participant",
    action: "calendar",
    resource: "calendar_feed",
    scope: SCOPE.admin,
    ok: 201,
    build: () => ({ method: "POST", path: "/api/calendar/token" }),
  },
  {
    name: "calendar.createToken",
    transport: "trpc",
    caller: "participant",
    action: "calendar",
    resource: "calendar_feed",
    scope: SCOPE.admin,
    ok: 200,
    build: () => trpcMutation("calendar.createToken"),
  },
  {
    // A participant's own subscription; a service subscribes a community (flexibility.admin). The
    // target is https on a public address literal: no name to resolve, allowed outside development.
    // No `ok`: every admitted call creates one and a member holds at most 5, so past the fifth the
    // owner's answer is 409 (webhooks.test.ts covers the 201 and the limit).
    name: "POST /api/webhooks",
    transport: "rest",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    build: () => ({ method: "POST", path: "/api/webhooks", body: { url: "https://203.0.113.10/hook" } }),
  },
  {
    name: "GET /api/webhooks",
    transport: "rest",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    ok: 200,
    build: () => ({ method: "GET", path: "/api/webhooks" }),
  },
  {
    // The id is a commitment's, no subscription's: even its owner gets 404, so no `ok` here
    // (webhooks.test.ts covers deleting one's own and another member's).
    name: "DELETE /api/webhooks/{id}",
    transport: "rest",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    build: ({ id }) => ({ method: "DELETE", path: `/api/webhooks/${id}` }),
  },
  {
    name: "POST /api/webhooks/{id}/test",
    transport: "rest",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    build: ({ id }) => ({ method: "POST", path: `/api/webhooks/${id}/test` }),
  },
  {
    name: "webhooks.create",
    transport: "trpc",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    build: () => trpcMutation("webhooks.create", { url: "https://203.0.113.10/hook" }),
  },
  {
    name: "webhooks.list",
    transport: "trpc",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    ok: 200,
    build: () => trpcQuery("webhooks.list"),
  },
  {
    name: "webhooks.delete",
    transport: "trpc",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    build: ({ id }) => trpcMutation("webhooks.delete", { id }),
  },
  {
    name: "webhooks.test",
    transport: "trpc",
    caller: "participant",
    action: "webhook",
    resource: "webhook",
    scope: SCOPE.admin,
    build: ({ id }) => trpcMutation("webhooks.test", { id }),
  },
  {
    name: "commitments.create",
    transport: "trpc",
    caller: "participant",
    action: "record",
    resource: "commitment",
    scope: SCOPE.admin,
    ok: 200,
    build: ({ owner, window }) => trpcMutation("commitments.create", { ...window, user_id: owner }),
  },
  {
    name: "commitments.list",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "commitment",
    scope: SCOPE.read,
    ok: 200,
    build: ({ owner }) => trpcQuery("commitments.list", { user_id: owner }),
  },
  {
    name: "commitments.cancel",
    transport: "trpc",
    caller: "participant",
    action: "delete",
    resource: "commitment",
    scope: SCOPE.write,
    ownerScoped: true,
    ok: 200,
    build: ({ id }) => trpcMutation("commitments.cancel", { id }),
  },
  {
    name: "commitments.pending",
    transport: "trpc",
    caller: "service",
    action: "service",
    resource: "commitment",
    scope: SCOPE.read,
    ok: 200,
    build: () => trpcMutation("commitments.pending", { limit: 1 }),
  },
  {
    name: "commitments.settle",
    transport: "trpc",
    caller: "service",
    action: "settle",
    resource: "commitment",
    scope: SCOPE.write,
    ok: 200,
    build: ({ id }) => trpcMutation("commitments.settle", { id, reward_points_actual: 1 }),
  },
  {
    name: "commitments.settlement",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "settlement",
    scope: SCOPE.read,
    ownerScoped: true,
    build: ({ id }) => trpcQuery("commitments.settlement", { id }),
  },
  {
    name: "commitments.progress",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "commitment_progress",
    scope: SCOPE.read,
    ownerScoped: true,
    ok: 200,
    build: ({ id }) => trpcQuery("commitments.progress", { id }),
  },
  {
    name: "settlement.method",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "settlement_method",
    scope: SCOPE.read,
    ok: 200,
    build: () => trpcQuery("settlement.method"),
  },
  {
    name: "suggestions.list",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "suggestion",
    scope: SCOPE.read,
    ok: 200,
    build: () => trpcQuery("suggestions.list"),
  },
  {
    name: "suggestions.respond",
    transport: "trpc",
    caller: "participant",
    action: "respond",
    resource: "suggestion",
    scope: SCOPE.write,
    ok: 200,
    build: ({ window }) =>
      trpcMutation("suggestions.respond", { id: window.suggestion_id, response: "accepted" }),
  },
  {
    name: "points.me",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "points",
    scope: SCOPE.read,
    build: () => trpcQuery("points.me"),
  },
  {
    name: "points.leaderboard",
    transport: "trpc",
    caller: "participant",
    action: "read",
    resource: "points",
    scope: SCOPE.read,
    build: () => trpcQuery("points.leaderboard"),
  },
  {
    name: "points.setPreferences",
    transport: "trpc",
    caller: "participant",
    action: "write",
    resource: "points",
    scope: SCOPE.write,
    build: () => trpcMutation("points.setPreferences", { leaderboard_visible: true }),
  },
  {
    name: "members.erase",
    transport: "trpc",
    caller: "service",
    action: "erase",
    resource: "member",
    scope: SCOPE.admin,
    ok: 200,
    build: ({ owner }) => trpcMutation("members.erase", { user_id: owner }),
  },
];

type Answer = { status: number; headers: Headers; text: string; json: Json };

/** The caller-visible refusal: a problem document on REST, a tRPC error object on tRPC. */
function expectRefusal(route: SecuredRoute, res: Answer, status: number, detail?: string | RegExp) {
  expect(res.status, res.text).toBe(status);
  const message = route.transport === "rest" ? res.json?.detail : res.json?.error?.message;
  if (route.transport === "rest") {
    expect(res.headers.get("content-type"), res.text).toContain("application/problem+json");
  } else {
    expect(res.json?.error?.data?.httpStatus, res.text).toBe(status);
  }
  expect(typeof message, res.text).toBe("string");
  if (typeof detail === "string") expect(message, res.text).toBe(detail);
  else if (detail) expect(message, res.text).toMatch(detail);
}

const YEAR_MS = 365 * 86_400_000;

function parsed(text: string): Json {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** Participant tokens from the issuer fake carry these (and no flexibility.* scope). */
const PARTICIPANT_SUBJECT = {
  is_service: false,
  scopes: ["openid", "profile", "email"],
  roles: ["participant"],
};

/**
 * Registers the shared security tests for `routes` against the harness `getHarness()` answers
 * (created by the caller's beforeAll), whose Digital Twin fake `publish` puts windows on.
 */
export function runSecuritySuite(
  getHarness: () => Harness,
  publish: (owner: string) => PublishedBody,
  routes: SecuredRoute[] = SECURED_ROUTES,
): void {
  const OWNER = "owner-1";

  /**
   * One request of `route` with the client request id `sec-<uuid>`; `app` answers it (default: the
   * harness's). `requestId` is ours, as answered; `clientRequestId` the one sent.
   */
  async function send(
    route: SecuredRoute,
    auth: Record<string, string>,
    target?: { id: string },
    app: Pick<Harness["app"], "request"> = getHarness().app,
  ) {
    const h = getHarness();
    const id = target?.id ?? (await liveCommitment()).id;
    const { method, path, body } = route.build(buildArgs(id));
    const clientRequestId = `sec-${crypto.randomUUID()}`;
    const before = h.audits().length;
    const headers: Record<string, string> = { ...auth, "x-request-id": clientRequestId };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await app.request(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const res: Answer = { status: response.status, headers: response.headers, text, json: parsed(text) };
    const requestId = response.headers.get("x-request-id") ?? "";
    expect(requestId, "our own request id, never the client's").not.toBe(clientRequestId);
    return { res, requestId, clientRequestId, audits: h.audits().slice(before) };
  }

  /**
   * A live commitment of OWNER's in a window of its own (a member's live commitments never overlap):
   * a year out, clear of the windows `publish` hands out (the next weeks).
   */
  function liveCommitment() {
    return seedCommitment(getHarness(), { userId: OWNER, ...separateWindow(new Date(Date.now() + YEAR_MS)) });
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /**
   * What `build` gets: a window is published only when the route reads it (each publish takes the
   * next free hour, days ahead: a suite that published on every request would push the windows of
   * later test files past the calendar feed's 7 days).
   */
  function buildArgs(id: string): { id: string; owner: string; window: PublishedBody } {
    return {
      id,
      owner: OWNER,
      get window() {
        return publish(OWNER);
      },
    };
  }

  /** The harness's app with every limit at 1 a minute and a fresh store (one per test). */
  function limitedApp() {
    const rateLimits: RateLimits = {
      perMinute: { reads: 1, writes: 1, export: 1, feed: 1, unauthenticated: 1 },
      serviceFactor: 1,
      clientIpHeader: "x-forwarded-for",
    };
    return createApp({ ...getHarness().deps, rateLimits });
  }

  async function admittedToken(route: SecuredRoute): Promise<string> {
    const h = getHarness();
    return route.caller === "participant" ? h.participant(OWNER) : h.service([route.scope], "svc-admitted");
  }

  async function policyReason(subject: NonNullable<PolicyInput["subject"]>, route: SecuredRoute) {
    const decision = await getHarness().deps.authorizer({
      subject,
      action: { name: route.action },
      resource: { type: route.resource, attributes: {} },
    });
    expect(decision.allow, `the policy admits ${JSON.stringify(subject)} to ${route.name}`).toBe(false);
    return decision.reason;
  }

  /** The one audit record of a refusal, with the fields the issue names and nothing personal. */
  function expectOneAuditRecord(
    audits: Json[],
    expected: {
      requestId: string;
      clientRequestId: string;
      sub: string | null;
      clientId: string | null;
      action?: string;
    },
  ) {
    expect(audits, JSON.stringify(audits)).toHaveLength(1);
    const [record] = audits;
    expect(record).toMatchObject({
      event: "denied",
      sub: expected.sub,
      client_id: expected.clientId,
      request_id: expected.requestId,
      client_request_id: expected.clientRequestId,
    });
    expect(typeof record.action).toBe("string");
    expect(record.action.length).toBeGreaterThan(0);
    if (expected.action) expect(record.action).toBe(expected.action);
    expect(typeof record.reason).toBe("string");
    for (const key of ["email", "name", "preferred_username", "given_name", "family_name"]) {
      expect(record, `audit record carries ${key}`).not.toHaveProperty(key);
    }
    expect(JSON.stringify(record)).not.toContain("@participants.test");
  }

  describe.each(routes.map((r) => [`${r.transport} ${r.name}`, r] as const))(
    "security suite: %s",
    (_, route) => {
      if (route.ok !== undefined) {
        test(`an admitted ${route.caller} gets ${route.ok} (the suite is not vacuous)`, async () => {
          const { res, audits } = await send(route, bearer(await admittedToken(route)));
          expect(res.status, res.text).toBe(route.ok as number);
          // No refusal recorded (an erasure is audited as done: `event: "erased"`).
          expect(audits.filter((a: Json) => a.event === "denied")).toHaveLength(0);
        });
      }

      test("no token → 401 'missing', one audit record with sub null", async () => {
        const { res, requestId, clientRequestId, audits } = await send(route, {});
        expectRefusal(route, res, 401, /missing/);
        expectOneAuditRecord(audits, { requestId, clientRequestId, sub: null, clientId: null });
      });

      test.each([...forgeryKinds])(
        "forged token (%s) → 401, one audit record with sub null",
        async (kind) => {
          const token = await getHarness().issuer.mintForged(kind, "forged-admin");
          const { res, requestId, clientRequestId, audits } = await send(route, bearer(token));
          expectRefusal(route, res, 401, kind === "expired" ? /expired/ : /invalid/);
          expectOneAuditRecord(audits, { requestId, clientRequestId, sub: null, clientId: null });
          expect(JSON.stringify(audits)).not.toContain("forged-admin");
        },
      );

      test.each([
        ["not a JWT", { authorization: "Bearer not-a-jwt" }],
        ["three empty segments", { authorization: "Bearer .." }],
        ["Basic credentials", { authorization: `Basic ${btoa("svc:secret")}` }],
        ["an empty bearer", { authorization: "Bearer " }],
        ["garbage in the proxy header", { "x-auth-request-access-token": "garbage" }],
      ])("%s → 401 with one audit record", async (_, headers) => {
        const { res, requestId, clientRequestId, audits } = await send(route, headers);
        expectRefusal(route, res, 401);
        expectOneAuditRecord(audits, { requestId, clientRequestId, sub: null, clientId: null });
      });

      test("a service without the route's scope → 403 with the policy's reason and one audit record", async () => {
        const h = getHarness();
        const token = await h.service([], "svc-scopeless");
        const reason = await policyReason(
          { id: "service-account-id-svc-scopeless", is_service: true, scopes: [], roles: [] },
          route,
        );
        const { res, requestId, clientRequestId, audits } = await send(route, bearer(token));
        expectRefusal(route, res, 403, reason);
        expectOneAuditRecord(audits, {
          requestId,
          clientRequestId,
          sub: "service-account-id-svc-scopeless",
          clientId: "svc-scopeless",
          action: route.action,
        });
        expect(audits[0]?.reason).toBe(reason);
      });

      if (route.caller === "service") {
        test("a participant → 403 with the policy's reason and one audit record (no email, no name)", async () => {
          const token = await getHarness().participant(OWNER);
          const reason = await policyReason({ id: OWNER, ...PARTICIPANT_SUBJECT }, route);
          const { res, requestId, clientRequestId, audits } = await send(route, bearer(token));
          expectRefusal(route, res, 403, reason);
          expectOneAuditRecord(audits, {
            requestId,
            clientRequestId,
            sub: OWNER,
            clientId: "celine-webapp",
            action: route.action,
          });
          expect(audits[0]?.reason).toBe(reason);
        });
      }

      if (route.ownerScoped) {
        test("a stranger's commitment → 404 (never 403), no audit record, and it stays live", async () => {
          const target = await liveCommitment();
          const stranger = await getHarness().participant("stranger-9");
          const { res, audits } = await send(route, bearer(stranger), target);
          expectRefusal(route, res, 404);
          expect(audits).toHaveLength(0);
          const owner = await getHarness().participant(OWNER);
          const listed = await getHarness().call("GET", "/api/commitments?status=committed&limit=200", {
            token: owner,
          });
          expect(listed.json.items.map((c: { id: string }) => c.id)).toContain(target.id);
        });
      }

      if (route.caller === "participant") {
        test("a service holding the route's scope: admitted, or refused (by the policy or the verb after it) with exactly one audit record", async () => {
          const token = await getHarness().service([route.scope], "svc-scoped");
          const { res, requestId, clientRequestId, audits } = await send(route, bearer(token));
          if (res.status !== 403) {
            expect(res.status, res.text).toBeLessThan(500);
            expect(audits.filter((a: Json) => a.event === "denied")).toHaveLength(0);
            return;
          }
          expectRefusal(route, res, 403);
          expectOneAuditRecord(audits, {
            requestId,
            clientRequestId,
            sub: "service-account-id-svc-scoped",
            clientId: "svc-scoped",
          });
        });
      }

      test("over the caller's rate limit → 429 with Retry-After; the first refusal of the window has one audit record, the next none", async () => {
        const limited = limitedApp();
        const auth = bearer(await admittedToken(route));
        await send(route, auth, undefined, limited);
        const first = await send(route, auth, undefined, limited);
        expectRefusal(route, first.res, 429, /too many requests; retry in \d+ s/);
        const wait = Number(first.res.headers.get("retry-after"));
        expect(wait, first.res.text).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(60);
        const caller = route.caller === "participant" ? OWNER : "service-account-id-svc-admitted";
        expectOneAuditRecord(first.audits, {
          requestId: first.requestId,
          clientRequestId: first.clientRequestId,
          sub: caller,
          clientId: route.caller === "participant" ? "celine-webapp" : "svc-admitted",
        });
        expect(first.audits[0]?.reason).toMatch(
          /^rate limit: more than 1 (reads|writes|export) requests a minute$/,
        );
        const again = await send(route, auth, undefined, limited);
        expectRefusal(route, again.res, 429);
        expect(again.audits).toHaveLength(0);
      });

      test("an address over its unauthenticated limit → 429 before any token is looked at, one audit record", async () => {
        const limited = limitedApp();
        const from = { "x-forwarded-for": `198.51.100.${Math.floor(Math.random() * 250)}` };
        const refused = await send(route, { ...from, authorization: "Bearer not-a-jwt" }, undefined, limited);
        expectRefusal(route, refused.res, 401);
        // Even a valid token is not looked at now: the address is refused as a whole until the window ends.
        const blocked = await send(
          route,
          { ...from, ...bearer(await admittedToken(route)) },
          undefined,
          limited,
        );
        // Refused before tRPC reads the request: a problem document on both transports.
        expect(blocked.res.status, blocked.res.text).toBe(429);
        expect(blocked.res.headers.get("content-type")).toContain("application/problem+json");
        expect(Number(blocked.res.headers.get("retry-after"))).toBeGreaterThan(0);
        expectOneAuditRecord(blocked.audits, {
          requestId: blocked.requestId,
          clientRequestId: blocked.clientRequestId,
          sub: null,
          clientId: null,
        });
        expect(blocked.audits[0]?.reason).toBe("rate limit: more than 1 unauthenticated requests a minute");
      });

      test("an unsafe client X-Request-Id is dropped: the audit record carries ours alone", async () => {
        const h = getHarness();
        const { method, path, body } = route.build(buildArgs((await liveCommitment()).id));
        const before = h.audits().length;
        const res = await h.call(method, path, {
          body,
          headers: { "x-request-id": 'forged" level=error '.padEnd(80, "x") },
        });
        expectRefusal(route, res, 401);
        const audits = h.audits().slice(before);
        expect(audits).toHaveLength(1);
        expect(audits[0]?.request_id).toBe(res.headers.get("x-request-id"));
        expect(audits[0]).not.toHaveProperty("client_request_id");
      });

      test("the proxy header wins over Authorization: a valid proxy token with a junk bearer is admitted", async () => {
        const { res } = await send(route, {
          "x-auth-request-access-token": await admittedToken(route),
          authorization: "Bearer junk.junk.junk",
        });
        if (route.ok !== undefined) expect(res.status, res.text).toBe(route.ok);
        else expect(res.status, res.text).not.toBe(401);
      });

      test("the proxy header wins over Authorization: a junk proxy token refuses a valid bearer", async () => {
        const { res, audits } = await send(route, {
          "x-auth-request-access-token": "junk.junk.junk",
          ...bearer(await admittedToken(route)),
        });
        expectRefusal(route, res, 401, /invalid/);
        expect(audits).toHaveLength(1);
      });
    },
  );
}

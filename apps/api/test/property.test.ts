import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { forgeryKinds } from "@celine/fakes";
import fc from "fast-check";
import { appRouter } from "../src/trpc/router.ts";
import { HOOK_TIMEOUT, SCOPE, seedCommitment, separateWindow, UNKNOWN_ID } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { createWindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// Generous on a loaded two-core CI machine; the default is 5 s.
setDefaultTimeout(60_000);

// Property: whatever a caller sends — parameters, bodies, content types, tokens valid or not, and
// verified tokens whose claims (sub, azp, scope, preferred_username, email) hold NUL or thousands of
// characters — the API never answers 5xx, and every REST error is a problem document with a string
// `detail`. Every route is driven, with NUL and oversized strings in path, query and body.

const RUNS = 150;

let h: Harness;
let fakes: PlatformFakes;
/** Ids of real rows, so generated requests also reach the paths that find something. */
const knownIds: string[] = [];
/** Cursors the export really issued. */
let knownCursors: string[] = [];

beforeAll(async () => {
  // Participants' creates and accepts look their window up in the Digital Twin (its contract fake):
  // alice and bob have windows there ("w-1", "w-2" among them), other callers none.
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  const windows = createWindowPublisher(fakes.dt);
  for (const sub of ["alice", "bob"]) for (const id of ["w-1", "w-2"]) windows.publish(sub, { id });
  for (let i = 0; i < 12; i += 1) {
    const { id } = await seedCommitment(h, {
      userId: i % 2 === 0 ? "alice" : "bob",
      status: (["committed", "committed", "settled", "cancelled"] as const)[i % 4],
      // A member's live commitments never overlap: each row its own window, clear of the published ones.
      ...separateWindow(new Date(Date.now() + 365 * 86_400_000)),
    });
    knownIds.push(id);
  }
  const exporter = await h.service([SCOPE.export]);
  const page = await h.call("GET", "/api/commitments/export?limit=3", { token: exporter });
  knownCursors = [page.headers.get("x-next-cursor") ?? ""].filter(Boolean);
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

// ---- generators ---------------------------------------------------------------------------------

const CATALOGUE = [
  SCOPE.read,
  SCOPE.write,
  SCOPE.export,
  SCOPE.admin,
  SCOPE.legacyRead,
  SCOPE.legacyWrite,
  "flexibility.committed.read",
  "openid",
  "nudging.ingest",
  "flexibility.commitments.*",
];

/** Any string, NUL, lone surrogates and control characters included. */
const anyText = fc.string({ unit: "binary", maxLength: 40 });
/** Past every length we store (255, 200) and past an index row (2,704 bytes); the largest past the body limit. */
const oversized = fc
  .constantFrom(256, 3_000, 20_000, 70_000)
  .chain((n) => fc.constantFrom("x", "é", "\u0000", "𝄞").map((unit) => unit.repeat(n).slice(0, n)));
/** What an attacker puts in a string field: anything, NUL in the middle, or far too much. */
const hostile = fc.oneof(
  { weight: 3, arbitrary: anyText },
  { weight: 1, arbitrary: fc.constantFrom("\u0000", "a\u0000b", "%00", "\ud800", " ", "") },
  { weight: 1, arbitrary: oversized },
);
/** What fits in an HTTP header value (Headers refuses the rest before the app sees it). */
const headerSafe = fc.string({
  unit: fc.constantFrom(..."abcXYZ019-_.~+/= %:;,\"'!*".split("")),
  maxLength: 60,
});

type TokenSpec =
  | { kind: "participant"; sub: string }
  | { kind: "claims"; service: boolean; claims: Record<string, string> }
  | { kind: "service"; scopes: string[]; clientId: string }
  | { kind: "forged"; forgery: (typeof forgeryKinds)[number] }
  | { kind: "garbage"; value: string }
  | { kind: "none" };

const tokenSpec: fc.Arbitrary<TokenSpec> = fc.oneof(
  fc.record({
    kind: fc.constant("participant" as const),
    sub: fc.oneof(
      fc.constantFrom("alice", "bob", "carol", "a\u0000b", " ", "\ud800"),
      anyText.filter((s) => s.length > 0),
    ),
  }),
  fc.record({
    kind: fc.constant("service" as const),
    scopes: fc.subarray(CATALOGUE),
    clientId: fc.oneof(fc.constantFrom("svc-a", "svc-pipelines"), anyText),
  }),
  // Verified tokens whose claims are hostile: NUL, lone surrogates, thousands of characters.
  fc.record({
    kind: fc.constant("claims" as const),
    service: fc.boolean(),
    claims: fc.record(
      {
        sub: fc.oneof(fc.constantFrom("alice", "bob"), hostile),
        azp: hostile,
        client_id: hostile,
        scope: fc.oneof(
          fc.subarray(CATALOGUE).map((s) => s.join(" ")),
          hostile,
          fc.constant(`${"flexibility.admin ".repeat(500)}`),
        ),
        preferred_username: hostile,
        email: hostile,
      },
      { requiredKeys: ["sub"] },
    ),
  }),
  fc.record({ kind: fc.constant("forged" as const), forgery: fc.constantFrom(...forgeryKinds) }),
  fc.record({ kind: fc.constant("garbage" as const), value: headerSafe }),
  fc.constant({ kind: "none" as const }),
);
const placement = fc.constantFrom("authorization", "proxy", "both");

async function authHeaders(spec: TokenSpec, where: string): Promise<Record<string, string>> {
  let token: string;
  switch (spec.kind) {
    case "none":
      return {};
    case "participant":
      token = await h.issuer.mintParticipant(spec.sub);
      break;
    case "service":
      token = await h.issuer.mintService(spec.clientId, spec.scopes);
      break;
    case "claims":
      token = spec.service
        ? await h.issuer.mintService("svc-claims", [SCOPE.admin, SCOPE.read], spec.claims)
        : await h.issuer.mintParticipant("alice", spec.claims);
      break;
    case "forged":
      token = await h.issuer.mintForged(spec.forgery);
      break;
    case "garbage":
      token = spec.value;
      break;
  }
  if (where === "proxy") return { "x-auth-request-access-token": token };
  if (where === "both") return { "x-auth-request-access-token": token, authorization: "Bearer x.y.z" };
  return { authorization: `Bearer ${token}` };
}

const instant = fc.oneof(
  fc
    .date({
      min: new Date("1900-01-01T00:00:00Z"),
      max: new Date("2200-01-01T00:00:00Z"),
      noInvalidDate: true,
    })
    .chain((d) =>
      fc.constantFrom(
        d.toISOString(),
        d.toISOString().replace("Z", ""),
        d.toISOString().replace("Z", "+02:00"),
        d.toISOString().replace("T", " ").slice(0, 16),
      ),
    ),
  fc.constantFrom(
    "2026-02-30T10:00:00Z",
    "2026-07-02T25:00:00",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
  ),
  anyText,
);
const jsonish = fc.jsonValue({ maxDepth: 3 });
/** A field that is usually plausible and sometimes anything at all. */
const sometimes = <T>(plausible: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: jsonish });

const createBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        user_id: sometimes(fc.oneof(fc.constantFrom("alice", "bob"), hostile, fc.constant(null))),
        suggestion_id: sometimes(fc.oneof(fc.constantFrom("w-1", "w-2"), hostile)),
        suggestion_type: sometimes(fc.constantFrom("shift-consumption", "other")),
        community_id: sometimes(fc.oneof(hostile, fc.constant(null))),
        device_id: sometimes(fc.oneof(hostile, fc.constant(null))),
        period_start: sometimes(instant),
        period_end: sometimes(instant),
        reward_points_estimated: sometimes(fc.oneof(fc.integer(), fc.double())),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: jsonish },
);
const settleBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        reward_points_actual: sometimes(fc.oneof(fc.integer({ min: -10, max: 2_000_000 }), fc.double())),
        actual_kwh: sometimes(
          fc.oneof(fc.double(), fc.constant(null), fc.constant(1e-300), fc.constant(5e-324)),
        ),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: jsonish },
);

/** A body as bytes: JSON of a value, or raw text that may not be JSON at all. */
const bodyText = (value: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 5, arbitrary: value.map((v) => JSON.stringify(v)) }, { weight: 1, arbitrary: anyText });
const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "application/merge-patch+json",
  "APPLICATION/JSON",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "",
);
const commitmentId = fc.oneof(
  fc.constantFrom(...Array.from({ length: 12 }, (_, i) => i)).map((i) => knownIds[i] ?? UNKNOWN_ID),
  fc.uuid(),
  headerSafe,
  fc.constantFrom("pending", "export", "%00", "..", "%zz"),
);

/** A query string: known keys with plausible or wild values, unknown keys, raw (unencoded) junk. */
function queryOf(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const encoded = fc
    .record({ ...fields, extra: headerSafe }, { requiredKeys: [] })
    .map((record) => new URLSearchParams(record as Record<string, string>).toString());
  const raw = fc
    .array(fc.tuple(fc.constantFrom(...Object.keys(fields)), headerSafe), { maxLength: 3 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v.replaceAll(" ", "+").replaceAll("#", "")}`).join("&"));
  return fc.oneof(encoded, raw).map((q) => (q ? `?${q}` : ""));
}
const numberish = fc.oneof(
  fc.integer({ min: -5, max: 300 }).map(String),
  fc.constantFrom("", "1e3", "0x10", "1.5", "NaN", "Infinity", "-0", "99999999999999999999"),
  anyText,
);

/** Percent-encoded; a lone surrogate becomes the bytes it would be in (invalid) UTF-8, %ED%A0%80. */
function encode(text: string): string {
  return text
    .split(/([\ud800-\udfff])/)
    .map((part) => (/^[\ud800-\udfff]$/.test(part) ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");
}

/** Every tRPC procedure's path and type (`query` → GET, `mutation` → POST). */
const PROCEDURE_TYPES = new Map(
  Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>).map(
    ([path, procedure]) => [path, procedure._def.type],
  ),
);

// ---- the property -------------------------------------------------------------------------------

type Generated = { method: string; path: string; body?: string; headers?: Record<string, string> };

async function expectNo5xx(request: Generated, token: TokenSpec, where: string) {
  const headers = { ...(request.headers ?? {}), ...(await authHeaders(token, where)) };
  const description = JSON.stringify({ ...request, token });
  const res = await h.app.request(request.path, { method: request.method, body: request.body, headers });
  const text = await res.text();
  expect(res.status, `${description}\n→ ${text.slice(0, 400)}`).toBeLessThan(500);
  if (res.status >= 400 && request.method !== "HEAD" && !request.path.startsWith("/trpc")) {
    expect(res.headers.get("content-type"), description).toContain("application/problem+json");
    expect(typeof JSON.parse(text).detail, description).toBe("string");
  }
}

function driveRoute(name: string, requests: fc.Arbitrary<Generated>) {
  test(`${name}: never a 5xx`, async () => {
    await fc.assert(
      fc.asyncProperty(requests, tokenSpec, placement, (request, token, where) =>
        expectNo5xx(request, token, where),
      ),
      { numRuns: RUNS },
    );
  });
}

const withBody = (method: string, path: fc.Arbitrary<string>, body: fc.Arbitrary<unknown>) =>
  fc.record({ path, body: bodyText(body), type: contentType }).map(
    ({ path: p, body: b, type }): Generated => ({
      method,
      path: p,
      body: b,
      headers: type ? { "content-type": type } : {},
    }),
  );

describe("property: every route, any input", () => {
  driveRoute("POST /api/commitments", withBody("POST", fc.constant("/api/commitments"), createBody));

  driveRoute(
    "GET /api/commitments",
    queryOf({
      user_id: fc.oneof(fc.constantFrom("alice", "bob"), hostile),
      status: fc.oneof(fc.constantFrom("committed", "settled", "rejected", "cancelled"), hostile),
      limit: numberish,
      offset: numberish,
    }).map((q) => ({ method: "GET", path: `/api/commitments${q}` })),
  );

  driveRoute(
    "DELETE /api/commitments/{id}",
    commitmentId.map((id) => ({ method: "DELETE", path: `/api/commitments/${id}` })),
  );

  driveRoute(
    "GET /api/commitments/pending",
    queryOf({ limit: numberish }).map((q) => ({ method: "GET", path: `/api/commitments/pending${q}` })),
  );

  driveRoute(
    "PATCH /api/commitments/{id}/settle",
    withBody(
      "PATCH",
      commitmentId.map((id) => `/api/commitments/${id}/settle`),
      settleBody,
    ),
  );

  driveRoute(
    "GET /api/commitments/export",
    fc
      .record({
        query: queryOf({
          created_after: instant,
          limit: numberish,
          cursor: fc.oneof(
            fc.constantFrom(...(knownCursors.length > 0 ? knownCursors : ["x"])),
            headerSafe,
            anyText.map((s) => btoa(unescape(encodeURIComponent(s)))),
          ),
        }),
        accept: fc.constantFrom("application/json", "application/x-ndjson", "*/*", "text/html", ""),
      })
      .map(
        ({ query, accept }): Generated => ({
          method: "GET",
          path: `/api/commitments/export${query}`,
          headers: accept ? { accept } : {},
        }),
      ),
  );

  driveRoute(
    "GET /health, /ready, /openapi.json, /docs",
    fc
      .record({
        path: fc.constantFrom("/health", "/ready", "/openapi.json", "/docs", "/docs/assets/x.js"),
        q: headerSafe,
      })
      .map(({ path, q }) => ({ method: "GET", path: `${path}?${encodeURIComponent(q)}` })),
  );

  driveRoute(
    "unknown routes and methods",
    fc
      .record({
        method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"),
        path: fc.oneof(
          headerSafe.map((s) => `/api/${encodeURIComponent(s)}`),
          fc.constantFrom("/", "/api", "/api/commitments/x/settle/y", "/trpc", "/trpc/"),
        ),
        body: fc.option(
          anyText.map((s) => JSON.stringify(s)),
          { nil: undefined },
        ),
      })
      .map(({ method, path, body }) => ({
        method,
        path,
        body: method === "GET" || method === "HEAD" ? undefined : body,
        headers: { "content-type": "application/json" },
      })),
  );

  // The rest of the routes, with hostile strings in path, query and body.
  const hostileSegment = fc.oneof(
    hostile.map(encode),
    fc.constantFrom("w-1", "w-2", "ab%00cd", "%00", "%ff%fe", "%ED%A0%80", "..", "%2e%2e", "a%2Fb"),
  );

  driveRoute(
    "GET /api/suggestions",
    queryOf({ x: hostile }).map((q) => ({ method: "GET", path: `/api/suggestions${q}` })),
  );

  driveRoute(
    "POST /api/suggestions/{id}/respond",
    withBody(
      "POST",
      hostileSegment.map((id) => `/api/suggestions/${id}/respond`),
      fc.record(
        {
          response: sometimes(fc.oneof(fc.constantFrom("accepted", "declined"), hostile)),
          reward_points: sometimes(fc.oneof(fc.integer(), fc.constant(null))),
          period_start: sometimes(fc.oneof(instant, hostile, fc.constant(null))),
          period_end: sometimes(fc.oneof(instant, hostile, fc.constant(null))),
        },
        { requiredKeys: [] },
      ),
    ),
  );

  driveRoute(
    "GET /api/commitments/{id}/settlement and /progress",
    fc
      .record({ id: fc.oneof(commitmentId, hostileSegment), leaf: fc.constantFrom("settlement", "progress") })
      .map(({ id, leaf }) => ({ method: "GET", path: `/api/commitments/${id}/${leaf}` })),
  );

  driveRoute(
    "GET /api/points/me, /api/leaderboard, /api/settlement/method",
    fc
      .record({
        path: fc.constantFrom("/api/points/me", "/api/leaderboard", "/api/settlement/method"),
        q: hostile,
      })
      .map(({ path, q }) => ({ method: "GET", path: `${path}?q=${encode(q)}` })),
  );

  driveRoute(
    "PUT /api/points/me/preferences",
    withBody(
      "PUT",
      fc.constant("/api/points/me/preferences"),
      fc.record({ leaderboard_visible: sometimes(fc.boolean()), nickname: hostile }, { requiredKeys: [] }),
    ),
  );

  driveRoute(
    "DELETE /api/members/{user_id}",
    fc.oneof(hostileSegment, fc.constantFrom("alice", "bob")).map((id) => ({
      method: "DELETE",
      path: `/api/members/${id}`,
    })),
  );

  driveRoute(
    "POST /api/calendar/token, GET /api/calendar/{feed}",
    fc.oneof(
      withBody("POST", fc.constant("/api/calendar/token"), fc.oneof(jsonish, hostile)),
      hostileSegment.map((feed) => ({ method: "GET", path: `/api/calendar/${feed}` })),
      hostileSegment.map((feed) => ({ method: "GET", path: `/api/calendar/${feed}.ics` })),
    ),
  );

  driveRoute(
    "tRPC, every procedure",
    fc
      .record({
        procedure: fc.constantFrom(...Object.keys(appRouter._def.procedures)),
        input: fc.oneof(
          jsonish,
          fc.record({ id: hostile, user_id: hostile, response: hostile }, { requiredKeys: [] }),
          hostile,
        ),
      })
      .map(({ procedure, input }): Generated => {
        const type = PROCEDURE_TYPES.get(procedure);
        const encoded = JSON.stringify(input);
        return type === "query"
          ? { method: "GET", path: `/trpc/${procedure}?input=${encodeURIComponent(encoded)}` }
          : {
              method: "POST",
              path: `/trpc/${procedure}`,
              body: encoded,
              headers: { "content-type": "application/json" },
            };
      }),
  );

  const trpcInput = fc.oneof(
    createBody,
    settleBody,
    jsonish,
    commitmentId.map((id) => ({ id })),
  );
  driveRoute(
    "tRPC /trpc/commitments.*",
    fc
      .record({
        procedure: fc.constantFrom(
          "commitments.create",
          "commitments.list",
          "commitments.cancel",
          "commitments.pending",
          "commitments.settle",
          "commitments.create,commitments.list",
          "commitments.nope",
        ),
        method: fc.constantFrom("GET", "POST"),
        batch: fc.boolean(),
        input: trpcInput,
        raw: fc.option(anyText, { nil: undefined }),
        type: contentType,
      })
      .map(({ procedure, method, batch, input, raw, type }): Generated => {
        const payload = batch ? { 0: input, 1: input } : input;
        const encoded = raw ?? JSON.stringify(payload);
        const query = batch ? "?batch=1" : "";
        if (method === "GET") {
          const sep = query ? "&" : "?";
          return { method, path: `/trpc/${procedure}${query}${sep}input=${encodeURIComponent(encoded)}` };
        }
        return {
          method,
          path: `/trpc/${procedure}${query}`,
          body: encoded,
          headers: type ? { "content-type": type } : {},
        };
      }),
  );
});

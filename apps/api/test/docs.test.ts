import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectProblem, HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";

// /openapi.json and /docs: present when docs are on (CELINE_ENV=dev or CELINE_PUBLIC_DOCS=true),
// 404 otherwise. The document is what generated clients are built from (PLATFORM §1).

/** Every operation the document must describe, and the error statuses each must document. */
const OPERATIONS: [method: string, path: string, statuses: number[]][] = [
  ["post", "/api/commitments", [201, 401, 403, 404, 409, 413, 415, 422, 502]],
  ["get", "/api/commitments", [200, 401, 403, 422]],
  ["delete", "/api/commitments/{id}", [204, 401, 403, 404, 409, 422]],
  ["get", "/api/commitments/pending", [200, 401, 403, 422]],
  ["patch", "/api/commitments/{id}/settle", [200, 401, 403, 404, 409, 413, 415, 422]],
  ["get", "/api/commitments/export", [200, 401, 403, 422]],
  ["get", "/api/commitments/{id}/settlement", [200, 401, 403, 404, 422]],
  ["get", "/api/commitments/{id}/progress", [200, 401, 403, 404, 422]],
  ["get", "/api/settlement/method", [200, 401, 403]],
  ["delete", "/api/members/{user_id}", [200, 401, 403, 422]],
  ["post", "/api/calendar/token", [201, 401, 403]],
  ["get", "/api/calendar/{feed}", [200, 304, 404, 429]],
  ["post", "/api/webhooks", [201, 401, 403, 409, 413, 415, 422]],
  ["get", "/api/webhooks", [200, 401, 403]],
  ["delete", "/api/webhooks/{id}", [204, 401, 403, 404, 422]],
  ["post", "/api/webhooks/{id}/test", [202, 401, 403, 404, 409, 422]],
  ["get", "/health", [200]],
  ["get", "/ready", [200, 503]],
];

let on: Harness;
let off: Harness;
let doc: Json;
/** Names the docs-asset reader was asked for (the file-system boundary). */
const assetsAsked: string[] = [];
beforeAll(async () => {
  on = await createHarness({
    docsAsset: async (name) => {
      assetsAsked.push(name);
      return name === "swagger-ui.css"
        ? new Response("/* css */", { headers: { "content-type": "text/css" } })
        : null;
    },
  });
  off = await createHarness({ docs: false });
  doc = (await on.call("GET", "/openapi.json")).json;
}, HOOK_TIMEOUT);
afterAll(async () => {
  await Promise.all([on.close(), off.close()]);
});

describe("happy", () => {
  test("/openapi.json is an OpenAPI 3.1 document", async () => {
    const res = await on.call("GET", "/openapi.json");
    expect(res.status, res.text).toBe(200);
    expect(res.json.openapi).toBe("3.1.0");
    expect(res.json.info.title).toBeTruthy();
  });

  test.each(OPERATIONS)("%s %s documents every response it can give", (method, path, statuses) => {
    const operation = doc.paths?.[path]?.[method];
    expect(operation, `${method} ${path} missing from the document`).toBeDefined();
    expect(Object.keys(operation.responses).map(Number).sort()).toEqual(expect.arrayContaining(statuses));
    for (const [status, response] of Object.entries<Json>(operation.responses)) {
      expect(response.description, `${status} has no description`).toBeTruthy();
      // Errors are problem documents; /ready's 503 is the readiness report itself.
      if (Number(status) >= 400 && path !== "/ready") {
        expect(Object.keys(response.content)).toEqual(["application/problem+json"]);
      }
    }
  });

  test("the webhook events are the document's webhooks: Standard Webhooks headers and each event's body", () => {
    const events = Object.fromEntries(
      Object.entries<Json>(doc.webhooks ?? {}).map(([name, item]) => [name.replace(/^\//, ""), item.post]),
    );
    expect(Object.keys(events).sort()).toEqual(
      [
        "commitment.cancelled",
        "commitment.created",
        "commitment.restated",
        "commitment.settled",
        "webhook.test",
        "window.opportunity",
      ].sort(),
    );
    for (const operation of Object.values<Json>(events)) {
      expect(operation.parameters.map((p: Json) => [p.in, p.name])).toEqual([
        ["header", "webhook-id"],
        ["header", "webhook-timestamp"],
        ["header", "webhook-signature"],
      ]);
    }
    const bodyOf = (name: string) => events[name].requestBody.content["application/json"].schema.$ref;
    expect(bodyOf("commitment.created")).toBe("#/components/schemas/CommitmentCreatedEvent");
    expect(doc.components.schemas.CommitmentCreatedEvent.properties.data).toEqual({
      $ref: "#/components/schemas/CommitmentOut",
    });
    expect(doc.components.schemas.WindowOpportunityEvent.properties.data).toEqual({
      $ref: "#/components/schemas/WindowOpportunity",
    });
  });

  test("the security schemes are declared: bearer JWT and the proxy header", () => {
    const schemes = doc.components.securitySchemes;
    expect(schemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(schemes.proxyToken).toMatchObject({
      type: "apiKey",
      in: "header",
      name: "x-auth-request-access-token",
    });
  });

  test("every /api operation requires one of the schemes but the calendar feed (its secret is the credential); /health and /ready require none", () => {
    for (const [method, path] of OPERATIONS) {
      const security = doc.paths[path][method].security;
      if (path.startsWith("/api/") && path !== "/api/calendar/{feed}")
        expect(security, `${method} ${path}`).toEqual([{ bearerAuth: [] }, { proxyToken: [] }]);
      else expect(security ?? [], `${method} ${path}`).toEqual([]);
    }
  });

  test("the settlement explanation and the method are named schemas, with every field the issue lists", () => {
    const explanation = doc.components.schemas.SettlementExplanation;
    expect(explanation, "SettlementExplanation missing").toBeDefined();
    expect(explanation.required).toEqual(
      expect.arrayContaining([
        "commitment_id",
        "method",
        "config",
        "window",
        "intervals",
        "adjustment",
        "totals",
        "multipliers",
        "raw",
        "cap",
        "points",
        "outcome",
        "ledger",
        "reward_points_actual",
      ]),
    );
    const settlement = doc.paths["/api/commitments/{id}/settlement"].get;
    expect(settlement.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/SettlementExplanation",
    });
    const method = doc.paths["/api/settlement/method"].get;
    expect(method.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/SettlementMethod",
    });
    expect(doc.components.schemas.SettlementMethod.required).toEqual(
      expect.arrayContaining(["id", "baseline", "adjustment", "points", "streak", "cap", "season"]),
    );
  });

  test("a suggestion's target is additive (nullable, every key kept) and the progress is a named schema", () => {
    const item = doc.components.schemas.SuggestionItem;
    expect(item.required).toEqual(
      expect.arrayContaining([
        "id",
        "period_start",
        "period_end",
        "reward_points",
        "community_kwh",
        "target",
      ]),
    );
    expect(item.properties.target.type).toEqual(["object", "null"]);
    expect(item.properties.target.required).toEqual([
      "baseline_kwh",
      "qualifying_kwh",
      "points_per_extra_kwh",
      "streak_multiplier",
    ]);
    const progress = doc.paths["/api/commitments/{id}/progress"].get;
    expect(progress.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/CommitmentProgress",
    });
    expect(doc.components.schemas.CommitmentProgress.required).toEqual(
      expect.arrayContaining([
        "as_of",
        "intervals_total",
        "intervals_done",
        "actual_kwh_so_far",
        "baseline_kwh_so_far",
        "qualifying_kwh",
        "on_track",
        "projected_points",
      ]),
    );
  });

  test("the wire schemas keep the PLATFORM §1 enum values", () => {
    const out = doc.components.schemas.CommitmentOut;
    expect(out.properties.status.enum).toEqual(["committed", "settled", "rejected", "cancelled"]);
    expect(doc.components.schemas.CommitmentList.required).toEqual(
      expect.arrayContaining(["items", "total"]),
    );
  });

  test("/docs renders from our own assets only (no internet needed)", async () => {
    const res = await on.call("GET", "/docs");
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const sources = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(source, "an external asset").toMatch(/^\/docs\/assets\//);
    const init = await on.call("GET", "/docs/assets/docs-init.js");
    expect(init.status).toBe(200);
    expect(init.text).toContain("/openapi.json");
    const css = await on.call("GET", "/docs/assets/swagger-ui.css");
    expect(css.status).toBe(200);
  });
});

describe("errors", () => {
  test.each(["/openapi.json", "/docs", "/docs/assets/docs-init.js"])(
    "docs off → %s is a 404 problem",
    async (path) => {
      expectProblem(await off.call("GET", path), 404);
    },
  );

  test("an unknown docs asset → 404", async () => {
    expect((await on.call("GET", "/docs/assets/nope.js")).status).toBe(404);
  });

  test("docs off: the API itself still answers", async () => {
    expect((await off.call("GET", "/health")).status).toBe(200);
  });
});

describe("security", () => {
  test("the documents need no token", async () => {
    expect((await on.call("GET", "/openapi.json")).status).toBe(200);
    expect((await on.call("GET", "/docs")).status).toBe(200);
  });

  test.each(["..%2F..%2Fpackage.json", "%2E%2E", "..", "a%2Fb.js", "%2Fetc%2Fpasswd"])(
    "asset names cannot walk the file system (%s)",
    async (name) => {
      assetsAsked.length = 0;
      const res = await on.call("GET", `/docs/assets/${name}`);
      expect(res.status).toBe(404);
      for (const asked of assetsAsked) expect(asked).toMatch(/^[\w.-]+$/);
      for (const asked of assetsAsked) expect(asked).not.toMatch(/^\.\.?$/);
    },
  );
});

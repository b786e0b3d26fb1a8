import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appRouter } from "../src/trpc/router.ts";
import { HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { runSecuritySuite, SECURED_ROUTES } from "./security-suite.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// Generous on a loaded two-core CI machine; the default is 5 s.
setDefaultTimeout(60_000);

// The shared security suite over every secured route (REST and tRPC), and the checks that keep the
// table complete: a route or procedure added without a row fails here.

let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  windows = createWindowPublisher(fakes.dt);
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

runSecuritySuite(
  () => h,
  (owner) => windows.publish(owner),
);

describe("the suite covers every route", () => {
  test("every operation the OpenAPI document declares secured has a row", async () => {
    const doc: Json = (await h.call("GET", "/openapi.json")).json;
    const secured: string[] = [];
    for (const [path, operations] of Object.entries<Json>(doc.paths)) {
      for (const [method, operation] of Object.entries<Json>(operations)) {
        if ((operation.security ?? []).length > 0) secured.push(`${method.toUpperCase()} ${path}`);
      }
    }
    const rows = SECURED_ROUTES.filter((r) => r.transport === "rest").map((r) => r.name);
    expect(secured.length).toBeGreaterThan(0);
    expect(rows.toSorted(), "add the route to SECURED_ROUTES in security-suite.ts").toEqual(
      secured.toSorted(),
    );
  });

  test("the only /api operation without a bearer is the calendar feed (its secret is the credential; calendar.test.ts)", async () => {
    const doc: Json = (await h.call("GET", "/openapi.json")).json;
    const open: string[] = [];
    for (const [path, operations] of Object.entries<Json>(doc.paths)) {
      for (const [method, operation] of Object.entries<Json>(operations)) {
        if (path.startsWith("/api/") && (operation.security ?? []).length === 0)
          open.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(open).toEqual(["GET /api/calendar/{feed}"]);
  });

  test("every tRPC procedure has a row", () => {
    const procedures = Object.keys(appRouter._def.procedures);
    const rows = SECURED_ROUTES.filter((r) => r.transport === "trpc").map((r) => r.name);
    expect(rows.toSorted(), "add the procedure to SECURED_ROUTES in security-suite.ts").toEqual(
      procedures.toSorted(),
    );
  });

  test("every /api path outside the document still refuses a token-less caller", async () => {
    for (const path of ["/api/anything", "/api/commitments/x/y/z", "/api/admin"]) {
      const res = await h.call("GET", path);
      expect(res.status, `${path}: ${res.text}`).toBe(401);
    }
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Db } from "@celine/core";
import {
  commitmentBody,
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  SCOPE,
  UNKNOWN_ID,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// The error contract shared by every route (issue 2 item 4): problem+json with a string `detail`,
// 404 for unknown routes, 413 over 64 KiB, 415 for a non-JSON body, and an unexpected failure as a
// 500 that carries the request id and none of the cause (which goes to the log).

const SECRET = "password authentication failed for user flex_owner at db.internal:5432";

/** A database whose every use throws an error full of internals. */
const brokenDatabase = {
  db: new Proxy(
    {},
    {
      get() {
        throw new Error(SECRET);
      },
    },
  ) as Db,
  ping: () => Promise.reject(new Error(SECRET)),
};

let h: Harness;
let broken: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
let alice: string;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  windows = createWindowPublisher(fakes.dt);
  broken = await createHarness({ database: brokenDatabase });
  alice = await h.participant("alice");
}, HOOK_TIMEOUT);
afterAll(async () => {
  await Promise.all([h.close(), broken.close()]);
  await fakes.close();
});

describe("happy", () => {
  test("an error answer is an RFC 9457 problem document", async () => {
    const res = await h.call("GET", "/api/commitments?limit=0", { token: alice });
    expectProblem(res, 422, "limit");
    expect(res.json).toMatchObject({
      type: "about:blank",
      title: "Unprocessable Content",
      status: 422,
      instance: "/api/commitments",
    });
    expect(res.json.request_id).toBe(res.headers.get("x-request-id"));
  });

  test("a 422 names every invalid field at once", async () => {
    const res = await h.call("POST", "/api/commitments", {
      token: alice,
      body: { suggestion_id: "", period_start: "soon", period_end: "later", reward_points_estimated: -3 },
    });
    expectProblem(res, 422);
    const paths = res.json.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(["suggestion_id", "period_start", "period_end", "reward_points_estimated"]),
    );
    for (const field of paths) expect(res.json.detail).toContain(field);
  });

  test("a caller-supplied x-request-id never replaces ours: the answer and the problem carry our id (request-ids.test.ts)", async () => {
    const res = await h.call("GET", "/api/commitments?limit=0", {
      token: alice,
      headers: { "x-request-id": "trace-abc-123" },
    });
    expect(res.headers.get("x-request-id")).not.toBe("trace-abc-123");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json.request_id).toBe(res.headers.get("x-request-id"));
  });
});

describe("errors", () => {
  test.each([
    ["GET", "/nope"],
    ["GET", "/api"],
    ["GET", "/api/commitments/pending/extra"],
    ["PUT", "/api/commitments"],
    ["POST", "/api/commitments/export"],
  ])("unknown route %s %s → 404 problem", async (method, path) => {
    const res = await h.call(method, path, { token: alice, body: method === "GET" ? undefined : {} });
    expectProblem(res, 404, path);
  });

  test.each([
    ["POST", "/api/commitments"],
    ["PATCH", `/api/commitments/${UNKNOWN_ID}/settle`],
  ])("%s %s with a body over 64 KiB → 413", async (method, path) => {
    const token = await h.service([SCOPE.write]);
    const res = await h.call(method, path, { token, body: { padding: "x".repeat(64 * 1024 + 1) } });
    expectProblem(res, 413, "65536");
  });

  test("a streamed body over 64 KiB without Content-Length → 413", async () => {
    const chunk = new TextEncoder().encode(`{"padding":"${"x".repeat(16 * 1024)}`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 6) controller.close();
        else controller.enqueue(chunk);
        sent += 1;
      },
    });
    const res = await h.app.request("/api/commitments", {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  test("a body just under 64 KiB is not refused for its size", async () => {
    const body = JSON.stringify({ ...windows.publish("alice"), note: "" });
    const padded = body.replace('"note":""', `"note":"${"x".repeat(64 * 1024 - body.length - 1)}"`);
    expect(padded.length).toBeLessThan(64 * 1024);
    const res = await h.call("POST", "/api/commitments", { token: alice, body: padded });
    expect(res.status, res.text).toBe(201);
  });

  test.each([
    ["text/plain", "text/plain"],
    ["form-urlencoded", "application/x-www-form-urlencoded"],
    ["multipart", "multipart/form-data; boundary=x"],
    ["xml", "application/xml"],
    ["json-looking but not json", "application/jsonp"],
  ])("a %s body → 415", async (_, contentType) => {
    const res = await h.call("POST", "/api/commitments", {
      token: alice,
      body: JSON.stringify(commitmentBody()),
      headers: { "content-type": contentType },
    });
    expectProblem(res, 415);
  });

  test.each([
    ["with a charset", "application/json; charset=utf-8"],
    ["a +json type", "application/merge-patch+json"],
  ])("JSON %s is accepted", async (_, contentType) => {
    const res = await h.call("POST", "/api/commitments", {
      token: alice,
      body: JSON.stringify(windows.publish("alice")),
      headers: { "content-type": contentType },
    });
    expect(res.status, res.text).toBe(201);
  });

  test.each([
    ["POST", "/api/commitments", { token: "participant" }, () => commitmentBody()],
    ["GET", "/api/commitments", { token: "participant" }, () => undefined],
    ["DELETE", `/api/commitments/${UNKNOWN_ID}`, { token: "participant" }, () => undefined],
    ["GET", "/api/commitments/pending", { token: "reader" }, () => undefined],
    [
      "PATCH",
      `/api/commitments/${UNKNOWN_ID}/settle`,
      { token: "writer" },
      () => ({ reward_points_actual: 1 }),
    ],
    ["GET", "/api/commitments/export", { token: "exporter" }, () => undefined],
  ])(
    "an unexpected failure in %s %s → 500 with the request id and no internals",
    async (method, path, who, body) => {
      const tokens = {
        participant: () => broken.participant("alice"),
        reader: () => broken.service([SCOPE.read]),
        writer: () => broken.service([SCOPE.write]),
        exporter: () => broken.service([SCOPE.export]),
      };
      const res = await broken.call(method, path, {
        token: await tokens[who.token as keyof typeof tokens](),
        body: body(),
      });
      expectProblem(res, 500);
      const requestId = res.headers.get("x-request-id");
      expect(requestId).toBeTruthy();
      expect(res.json.request_id).toBe(requestId);
      expect(res.json.detail).toContain(requestId as string);
      expect(res.text).not.toContain("flex_owner");
      expect(res.text).not.toContain("db.internal");
      expect(res.text).not.toMatch(/at .*\.ts/);
      // The cause is in the log, on a line carrying the same request id.
      const logged = broken.logs.find((l) => l.level === "error" && l.request_id === requestId);
      expect(logged, JSON.stringify(broken.logs.slice(-3))).toBeDefined();
      expect(JSON.stringify(logged, (_, v) => (v instanceof Error ? v.message : v))).toContain("flex_owner");
    },
  );

  test("/ready with a failing database answers 503 (not 500) without the driver's message", async () => {
    const res = await broken.call("GET", "/ready");
    expect(res.status, res.text).toBe(503);
    expect(res.text).not.toContain("flex_owner");
  });
});

describe("security", () => {
  test("a 401 carries WWW-Authenticate: Bearer", async () => {
    const res = await h.call("GET", "/api/commitments");
    expectProblem(res, 401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  test("an unknown /api route without a token is refused (401) before it is looked up", async () => {
    expectProblem(await h.call("GET", "/api/secret-admin"), 401);
  });

  test("a refused oversized field is not echoed back, and problems are never HTML", async () => {
    const res = await h.call("POST", "/api/commitments", {
      token: alice,
      body: commitmentBody({ suggestion_id: "<script>alert(1)</script>".repeat(20) }),
    });
    expectFieldError(res, "suggestion_id");
    expect(res.text).not.toContain("<script>");
    expect(res.headers.get("content-type")).not.toContain("text/html");
  });
});

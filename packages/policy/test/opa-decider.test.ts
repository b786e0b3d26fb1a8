// createOpaDecider against a fake OPA server speaking the Data API (POST /v1/data/{path} with {"input": …}).
// The fake answers from the real access policy, so the happy path checks the wire format end to end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOpaDecider } from "../src/index.ts";
import { ACCESS_ENTRYPOINT, loadAccessPolicy } from "./access-policy.ts";

const policy = loadAccessPolicy();
let server: ReturnType<typeof Bun.serve>;
let url: string;
const seen: unknown[] = [];

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "POST" || !path.startsWith("/v1/data/"))
        return new Response("not found", { status: 404 });
      if (req.headers.get("content-type") !== "application/json")
        return new Response("bad type", { status: 415 });
      let body: unknown;
      try {
        body = await req.json();
      } catch {
        return Response.json({ code: "invalid_parameter", message: "body is not JSON" }, { status: 400 });
      }
      if (typeof body !== "object" || body === null || !("input" in body)) {
        return Response.json({ code: "invalid_parameter", message: "missing input" }, { status: 400 });
      }
      const input = (body as { input: unknown }).input;
      seen.push(input);
      const pkg = path.slice("/v1/data/".length);
      switch (pkg) {
        case "celine/flexibility/access":
          return Response.json({ result: policy.decide(ACCESS_ENTRYPOINT, input) });
        case "slow":
          await Bun.sleep(300);
          return Response.json({ result: { allow: true, reason: "too late" } });
        case "broken":
          return Response.json({ code: "internal_error", message: "boom" }, { status: 500 });
        case "malformed":
          return new Response('{"result": {"allow": tr', { headers: { "content-type": "application/json" } });
        case "missing":
          // OPA answers 200 with no `result` when the document is undefined.
          return Response.json({});
        case "stringly":
          return Response.json({ result: { allow: "true", reason: "allowed" } });
        default:
          return Response.json({ result: {} });
      }
    },
  });
  url = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  server.stop(true);
});

const serviceRead = {
  subject: { id: "svc", is_service: true, scopes: ["flexibility.commitments.read"], roles: [] },
  action: { name: "read" },
  resource: { type: "commitment", attributes: {} },
};

describe("createOpaDecider", () => {
  test("posts {input} and reads result.allow / result.reason", async () => {
    const d = createOpaDecider({ url, path: "celine/flexibility/access" });
    await expect(d.decide(serviceRead)).resolves.toEqual({ allow: true, reason: "allowed" });
    expect(seen.at(-1)).toEqual(serviceRead);
    const denied = { ...serviceRead, action: { name: "export" } };
    await expect(d.decide(denied)).resolves.toEqual({
      allow: false,
      reason: "missing scope flexibility.commitments.export",
    });
  });

  test("a slow server times out and denies", async () => {
    const d = createOpaDecider({ url, path: "slow", timeoutMs: 50 });
    const started = performance.now();
    await expect(d.decide(serviceRead)).resolves.toEqual({
      allow: false,
      reason: "opa: timed out after 50 ms",
      failed: true,
    });
    expect(performance.now() - started).toBeLessThan(250);
  });

  test("a 500 denies", async () => {
    const d = createOpaDecider({ url, path: "broken" });
    await expect(d.decide(serviceRead)).resolves.toEqual({
      allow: false,
      reason: "opa: http 500",
      failed: true,
    });
  });

  test("malformed JSON denies", async () => {
    const d = createOpaDecider({ url, path: "malformed" });
    await expect(d.decide(serviceRead)).resolves.toEqual({
      allow: false,
      reason: "opa: malformed JSON response",
      failed: true,
    });
  });

  test("an undefined result denies (a failure: OPA has no such document; an undefined allow is a denial)", async () => {
    const d = createOpaDecider({ url, path: "missing" });
    await expect(d.decide(serviceRead)).resolves.toEqual({
      allow: false,
      reason: "opa: result is undefined",
      failed: true,
    });
    const empty = createOpaDecider({ url, path: "empty" });
    await expect(empty.decide(serviceRead)).resolves.toEqual({ allow: false, reason: "allow is undefined" });
  });

  test("only allow === true grants (the string 'true' does not)", async () => {
    const d = createOpaDecider({ url, path: "stringly" });
    await expect(d.decide(serviceRead)).resolves.toEqual({
      allow: false,
      reason: "opa: allow is not a boolean",
      failed: true,
    });
  });

  test("a network error denies", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const deadUrl = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    const d = createOpaDecider({ url: deadUrl, path: "celine/flexibility/access" });
    const out = await d.decide(serviceRead);
    expect(out.allow).toBe(false);
    expect(out.reason).toStartWith("opa: request failed");
    expect(out.failed).toBe(true);
  });

  test("an injected fetch that throws synchronously denies", async () => {
    const d = createOpaDecider({
      url,
      path: "x",
      fetch: (() => {
        throw new TypeError("no network");
      }) as unknown as typeof fetch,
    });
    await expect(d.decide(serviceRead)).resolves.toEqual({
      allow: false,
      reason: "opa: request failed: no network",
      failed: true,
    });
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// GET /health (liveness) and GET /ready (database reachable, policy loaded): no token on either.

const unreachable = {
  db: new Proxy(
    {},
    {
      get() {
        throw new Error("unreachable");
      },
    },
  ) as Harness["deps"]["database"]["db"],
  ping: () => Promise.reject(new Error("connection refused")),
};

let h: Harness;
let down: Harness;
let unloaded: Harness;
beforeAll(async () => {
  h = await createHarness();
  down = await createHarness({ database: unreachable });
  unloaded = await createHarness({
    policy: { loaded: false, detail: "policy bundle did not load: no .rego files in /nowhere" },
  });
}, HOOK_TIMEOUT);
afterAll(async () => {
  await Promise.all([h.close(), down.close(), unloaded.close()]);
});

describe("happy", () => {
  test("GET /health → 200 {status: ok}", async () => {
    const res = await h.call("GET", "/health");
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
    expect(res.headers.get("content-type")).toContain("application/json");
  });

  test("GET /ready → 200 with both checks ok", async () => {
    const res = await h.call("GET", "/ready");
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe("ok");
    expect(res.json.checks.database.ok).toBe(true);
    expect(res.json.checks.policy.ok).toBe(true);
    expect(typeof res.json.checks.policy.detail).toBe("string");
  });

  test("every answer carries a request id", async () => {
    const res = await h.call("GET", "/health");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });
});

describe("errors", () => {
  test("database unreachable → /ready 503 naming the database check; /health still 200", async () => {
    const ready = await down.call("GET", "/ready");
    expect(ready.status, ready.text).toBe(503);
    expect(ready.json.status).toBe("unavailable");
    expect(ready.json.checks.database).toEqual({ ok: false, detail: "unreachable" });
    expect(ready.json.checks.policy.ok).toBe(true);
    const health = await down.call("GET", "/health");
    expect(health.status, health.text).toBe(200);
  });

  test("policy not loaded → /ready 503 naming the policy check", async () => {
    const ready = await unloaded.call("GET", "/ready");
    expect(ready.status, ready.text).toBe(503);
    expect(ready.json.checks.policy.ok).toBe(false);
    expect(ready.json.checks.policy.detail).toBe("not loaded");
    expect(ready.json.checks.database.ok).toBe(true);
  });
});

describe("security", () => {
  test("/ready does not publish the database driver's error (it goes to the log)", async () => {
    const ready = await down.call("GET", "/ready");
    expect(ready.text).not.toContain("connection refused");
    const logged = down.logs.find((l) => l.msg === "readiness: database unreachable");
    expect(String((logged?.error as Error | undefined)?.message)).toBe("connection refused");
  });

  test.each(["/health", "/ready"])("%s needs no token and ignores a forged one", async (path) => {
    const before = h.audits().length;
    expect((await h.call("GET", path)).status).toBe(200);
    const forged = await h.issuer.mintForged("alg-none");
    expect((await h.call("GET", path, { token: forged })).status).toBe(200);
    expect(h.audits()).toHaveLength(before);
  });

  test("/health is not a door into /api: the same token-less caller is refused there", async () => {
    expect((await h.call("GET", "/api/commitments")).status).toBe(401);
  });
});

describe("GET /metrics", () => {
  let m: Harness;
  beforeAll(async () => {
    m = await createHarness();
  }, HOOK_TIMEOUT);
  afterAll(() => m.close());

  test("counts requests by route pattern (not raw path) and status, in the Prometheus text format, without a token", async () => {
    const token = await m.participant("metrics-alice");
    await m.call("DELETE", "/api/commitments/6f1f6c36-3c1a-4d0e-9d2b-1b2f3c4d5e6f", { token });
    const res = await m.call("GET", "/metrics");
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    expect(res.text).toContain(
      'http_requests_total{method="DELETE",route="/api/commitments/:id",status="404"} 1',
    );
    expect(res.text).not.toContain("6f1f6c36");
  });
});

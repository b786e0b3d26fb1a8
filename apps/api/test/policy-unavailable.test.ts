import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger, type LogRecord } from "@celine/core";
import { compilePolicies } from "@celine/policy";
import { compilePolicy, type LoadedPolicy, opaPolicy, POLICY_PACKAGE } from "../src/lib/compile-policy.ts";
import { loadPolicy } from "../src/lib/policy.ts";
import { HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness, POLICY_DIR } from "./harness.ts";

// Issue 14, item 6: when the policy cannot be evaluated (OPA unreachable, hanging, answering
// nonsense; the in-process evaluator failing) every request is refused with a generic detail, the
// cause goes to the log, and /ready answers 503; /ready never shows a URL or a path.

setDefaultTimeout(60_000);

const GENERIC = "access denied: the policy could not be evaluated";
/** Anything in an answer that would name where the policy lives. */
const LEAKS = /https?:|127\.0\.0\.1|\/v1\/data|ECONNREFUSED|opa:|\.rego|\/work\/|\/policies/i;

/** An OPA sidecar speaking the Data API, answering from the real access policy; it can fail or hang. */
async function startFakeOpa() {
  const source = await readFile(join(POLICY_DIR, "flexibility.rego"), "utf8");
  const policy = compilePolicies([{ path: "flexibility.rego", source }]);
  const state = { mode: "ok" as "ok" | "hang" | "500" | "nonsense", calls: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      state.calls += 1;
      if (state.mode === "hang") await Bun.sleep(5_000);
      if (state.mode === "500") return Response.json({ code: "internal_error" }, { status: 500 });
      if (state.mode === "nonsense") return Response.json({ result: { allow: "yes" } });
      const { input } = (await req.json()) as { input: unknown };
      return Response.json({ result: policy.decide(POLICY_PACKAGE, input) });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, state, stop: () => server.stop(true) };
}

async function closedPortUrl(): Promise<string> {
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const url = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);
  return url;
}

/** A harness whose decision point is `make(log)`; `policyLogs` is what the decision point logged. */
async function harnessWith(
  make: (log: ReturnType<typeof createLogger>) => LoadedPolicy | Promise<LoadedPolicy>,
) {
  const policyLogs: LogRecord[] = [];
  const log = createLogger({ level: "debug", sink: (r) => policyLogs.push(r) });
  const policy = await make(log);
  const h = await createHarness({ policy, authorizer: policy.authorizer });
  return { h, policyLogs };
}

describe("OPA unreachable (a closed port)", () => {
  let h: Harness;
  let policyLogs: LogRecord[];
  beforeAll(async () => {
    const url = await closedPortUrl();
    ({ h, policyLogs } = await harnessWith((log) => opaPolicy(url, log)));
  }, HOOK_TIMEOUT);
  afterAll(() => h.close());

  test("a participant's request → 403 with the generic detail; the cause is in the log; the audit has the generic reason", async () => {
    const before = h.audits().length;
    const res = await h.call("GET", "/api/commitments", { token: await h.participant("alice") });
    expect(res.status, res.text).toBe(403);
    expect(res.json.detail).toBe(GENERIC);
    expect(res.text).not.toMatch(LEAKS);
    const audits = h.audits().slice(before);
    expect(audits).toHaveLength(1);
    expect(audits[0]?.reason).toBe(GENERIC);
    const logged = policyLogs.find((l) => l.msg === "policy could not be evaluated; access denied");
    expect(String(logged?.cause)).toStartWith("opa: request failed");
  });

  test("a service's request and a tRPC call → refused the same way", async () => {
    const service = await h.service(["flexibility.commitments.read"]);
    const res = await h.call("GET", "/api/commitments/pending", { token: service });
    expect(res.status, res.text).toBe(403);
    expect(res.json.detail).toBe(GENERIC);
    const trpc = await h.app.request("/trpc/commitments.list?input=%7B%7D", {
      headers: { authorization: `Bearer ${await h.participant("alice")}` },
    });
    const body = await trpc.text();
    expect(trpc.status, body).toBe(403);
    expect(JSON.parse(body).error.message).toBe(GENERIC);
    expect(body).not.toMatch(LEAKS);
  });

  test("/ready → 503, the policy check failing without the URL", async () => {
    const ready = await h.call("GET", "/ready");
    expect(ready.status, ready.text).toBe(503);
    expect(ready.json.checks.policy).toEqual({ ok: false, detail: "cannot be evaluated" });
    expect(ready.json.checks.database.ok).toBe(true);
    expect(ready.text).not.toMatch(LEAKS);
  });
});

describe("OPA up, then failing, then back", () => {
  let opa: Awaited<ReturnType<typeof startFakeOpa>>;
  let h: Harness;
  let policyLogs: LogRecord[];
  beforeAll(async () => {
    opa = await startFakeOpa();
    ({ h, policyLogs } = await harnessWith((log) => opaPolicy(opa.url, log)));
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await h.close();
    await opa.stop();
  });

  test("up: decisions from OPA, /ready 200 with the probe answered (and no URL)", async () => {
    const calls = opa.state.calls;
    const ready = await h.call("GET", "/ready");
    expect(ready.status, ready.text).toBe(200);
    expect(ready.json.checks.policy).toEqual({ ok: true, detail: "evaluated" });
    expect(ready.text).not.toMatch(LEAKS);
    expect(opa.state.calls).toBe(calls + 1);
    const res = await h.call("GET", "/api/commitments", { token: await h.participant("alice") });
    expect(res.status, res.text).toBe(200);
    // The policy's own denial keeps its reason: only a decision that could not be made is generic.
    const denied = await h.call("GET", "/api/commitments/export", { token: await h.participant("alice") });
    expect(denied.status).toBe(403);
    expect(denied.json.detail).not.toBe(GENERIC);
  });

  test.each([
    ["answers 500", "500", "opa: http 500"],
    ["answers something that is not a decision", "nonsense", "opa: allow is not a boolean"],
    ["hangs (past the 500 ms OPA timeout)", "hang", "opa: timed out after 500 ms"],
  ] as const)(
    "OPA %s → 403 generic within a second, cause logged, /ready 503; then back",
    async (_, mode, cause) => {
      opa.state.mode = mode;
      const before = policyLogs.length;
      const started = performance.now();
      const res = await h.call("GET", "/api/commitments", { token: await h.participant("bob") });
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(res.status, res.text).toBe(403);
      expect(res.json.detail).toBe(GENERIC);
      expect(policyLogs.slice(before).map((l) => l.cause)).toContain(cause);
      const ready = await h.call("GET", "/ready");
      expect(ready.status, ready.text).toBe(503);
      expect(ready.json.checks.policy.detail).toBe("cannot be evaluated");
      opa.state.mode = "ok";
      expect((await h.call("GET", "/ready")).status).toBe(200);
      const again = await h.call("GET", "/api/commitments", { token: await h.participant("bob") });
      expect(again.status, again.text).toBe(200);
    },
  );
});

describe("in-process policy", () => {
  test("loaded: /ready 200, and the policy check names no directory", async () => {
    const h = await createHarness();
    try {
      const ready = await h.call("GET", "/ready");
      expect(ready.status, ready.text).toBe(200);
      expect(ready.json.checks).toEqual({
        database: { ok: true, detail: "reachable" },
        policy: { ok: true, detail: "evaluated" },
      });
      expect(ready.text).not.toMatch(LEAKS);
    } finally {
      await h.close();
    }
  });

  test("an evaluation error → 403 generic, the evaluator's message logged, /ready 503", async () => {
    // Two complete definitions of allow that disagree: every evaluation fails.
    const source = `package ${POLICY_PACKAGE}\nallow := true\nallow := false`;
    const { h, policyLogs } = await harnessWith((log) =>
      compilePolicy([{ path: "/srv/policies/broken.rego", source }], "/srv/policies", log),
    );
    try {
      const res = await h.call("GET", "/api/commitments", { token: await h.participant("alice") });
      expect(res.status, res.text).toBe(403);
      expect(res.json.detail).toBe(GENERIC);
      expect(String(policyLogs.at(-1)?.cause)).toStartWith("policy error");
      const ready = await h.call("GET", "/ready");
      expect(ready.status, ready.text).toBe(503);
      expect(ready.text).not.toMatch(LEAKS);
    } finally {
      await h.close();
    }
  });

  test("a bundle that did not load → 403 generic (not the loader's path), /ready 503 'not loaded'", async () => {
    const { h } = await harnessWith((log) => loadPolicy({ dir: "/nonexistent/policies", log }));
    try {
      const res = await h.call("GET", "/api/commitments", { token: await h.participant("alice") });
      expect(res.status, res.text).toBe(403);
      expect(res.json.detail).toBe(GENERIC);
      const ready = await h.call("GET", "/ready");
      expect(ready.status, ready.text).toBe(503);
      expect(ready.json.checks.policy).toEqual({ ok: false, detail: "not loaded" });
      expect(ready.text).not.toMatch(LEAKS);
      expect(ready.text).not.toContain("nonexistent");
    } finally {
      await h.close();
    }
  });
});

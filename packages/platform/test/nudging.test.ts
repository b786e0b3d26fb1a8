import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  createLogger,
  createMetrics,
  type Metrics,
  type NudgeEvent,
  type Nudging,
  UpstreamError,
} from "@celine/core";
import type { NudgingTool, OidcIssuer } from "@celine/fakes";
import { startNudgingTool, startOidcIssuer } from "@celine/fakes";
import type { TokenProvider } from "../src/index.ts";
import { createNudgingClient, createTokenProvider } from "../src/index.ts";
import { decodeJwt } from "./jwt.ts";

let issuer: OidcIssuer;
let tool: NudgingTool;
let tokens: TokenProvider;
let metrics: Metrics;
let nudging: Nudging;

const log = createLogger({ level: "silent" });

function committed(user = "alice", extra: Partial<NudgeEvent> = {}): NudgeEvent {
  return {
    event_type: "flexibility_committed",
    user_id: user,
    community_id: "rec-a",
    facts: {
      facts_version: "1.0",
      scenario: "flexibility_committed",
      window_start: "11:00",
      window_end: "14:00",
      reward_points_estimated: "12",
      period: "2026-07-02",
    },
    ...extra,
  };
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  tool = await startNudgingTool({ issuer });
  tokens = createTokenProvider({
    issuerUrl: issuer.url,
    clientId: "svc-flexibility",
    clientSecret: "svc-flexibility-secret",
  });
});
afterAll(async () => {
  await tool.close();
  await issuer.close();
});
beforeEach(() => {
  tool.reset();
  tool.clearCalls();
  tool.clearEvents();
  metrics = createMetrics();
  nudging = createNudgingClient({ baseUrl: tool.url, tokens, metrics, log });
});

describe("nudging ingest", () => {
  test("posts the event with a nudging.ingest service token and reports 200 delivered", async () => {
    expect(await nudging.ingest(committed())).toEqual({ kind: "delivered", status: 200 });
    expect(tool.received().map((nudge) => nudge.event)).toEqual([committed()]);
    const claims = decodeJwt(tool.calls[0]?.authorization?.replace(/^Bearer /, "") ?? "");
    expect(claims.scope).toBe("nudging.ingest");
    expect(claims.aud).toBe("svc-nudging");
  });

  test.each([202, 204] as const)("%i (suppressed / no rule fired) → delivered", async (status) => {
    tool.respondWith(status, 1);
    expect(await nudging.ingest(committed())).toEqual({ kind: "delivered", status });
  });

  test("409 (every nudge deduplicated) → delivered", async () => {
    await nudging.ingest(committed());
    expect(await nudging.ingest(committed())).toEqual({ kind: "delivered", status: 409 });
  });

  test("400 (unknown scenario) → rejected with the tool's detail", async () => {
    const event = committed("alice", { event_type: "flexibility_unknown" });
    event.facts.scenario = "flexibility_unknown";
    expect(await nudging.ingest(event)).toEqual({
      kind: "rejected",
      status: 400,
      detail: "unknown scenario flexibility_unknown",
    });
  });

  test("422 (missing facts) → rejected with the tool's detail", async () => {
    const event = committed();
    delete event.facts.period;
    const outcome = await nudging.ingest(event);
    expect(outcome.kind).toBe("rejected");
    expect(outcome.status).toBe(422);
    expect(outcome.kind === "rejected" ? outcome.detail : "").toContain("period");
  });

  test("500 → UpstreamError with the status, one attempt only (the outbox relay retries)", async () => {
    tool.failNext(500, Infinity);
    const error = (await nudging.ingest(committed()).catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.upstream).toBe("nudging");
    expect(error.status).toBe(500);
    expect(error.message).toContain("POST /admin/ingest-event answered 500");
    expect(tool.calls).toHaveLength(1);
    expect(metrics.value("upstream_requests_total", { upstream: "nudging", outcome: "server_error" })).toBe(
      1,
    );
  });

  test("a tool that hangs → timeout UpstreamError, one attempt only", async () => {
    tool.hang(true);
    const slow = createNudgingClient({ baseUrl: tool.url, tokens, metrics, log, timeoutMs: 80 });
    const error = (await slow.ingest(committed()).catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toBe("nudging: POST /admin/ingest-event timed out after 80 ms");
    expect(error.status).toBeUndefined();
    expect(tool.calls).toHaveLength(1);
    expect(metrics.value("upstream_requests_total", { upstream: "nudging", outcome: "timeout" })).toBe(1);
  });

  test("a token without nudging.ingest (403) throws rather than parking the event as our bug", async () => {
    const wrongScope = createNudgingClient({
      baseUrl: tool.url,
      tokens,
      metrics,
      log,
      scope: "digital-twin.read",
    });
    const error = (await wrongScope.ingest(committed()).catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.status).toBeOneOf([401, 403]);
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { LogRecord } from "@celine/core";
import { type Database, MIGRATIONS_FOLDER } from "@celine/core/db";
import { createTestDatabase } from "@celine/core/testing";
import {
  type DigitalTwin,
  type OidcIssuer,
  startDigitalTwin,
  startOidcIssuer,
  type TestBroker,
  testBrokerUrl,
} from "@celine/fakes";
import { DEFAULT_FLEXIBILITY_CONFIG } from "@celine/platform/env";
import { parseApiEnv } from "../src/env.ts";
import { assemble, type Server } from "../src/server.ts";
import { POLICY_DIR } from "./harness.ts";
import { buildNodeBundle, nodeBinary, relayEnv, type ServerProcess, spawnServer } from "./server-process.ts";
import { communityRow, deviceRow, seedMember } from "./suggestions-fixtures.ts";

// Edge portability: the same app, bundled with `bun build --target=node` and served by
// @hono/node-server under Node, answers exactly what it answers under Bun.

type Runtime = { name: string; url: string };

let issuer: OidcIssuer;
let dt: DigitalTwin;
let broker: TestBroker;
let work: string;
let bun: Server & { server: ReturnType<typeof Bun.serve> };
let node: ServerProcess;
const databases: Database[] = [];
const bunLogs: LogRecord[] = [];

/**
 * One fresh database per runtime: a new migrated schema on PostgreSQL when DATABASE_URL is set,
 * otherwise PGlite (Bun: in memory; Node: a data directory in the bundle's temporary folder).
 */
async function databaseEnv(pgliteDir?: string): Promise<Record<string, string>> {
  const url = process.env.DATABASE_URL;
  if (!url) return pgliteDir ? { PGLITE_DATA_DIR: pgliteDir } : {};
  const database = await createTestDatabase({ max: 1 });
  databases.push(database);
  return { DATABASE_URL: url, DB_SCHEMA: database.schema };
}

function baseEnv(): Record<string, string> {
  return {
    CELINE_ENV: "dev",
    CELINE_OIDC_BASE_URL: issuer.url,
    CELINE_OIDC_JWKS_URI: issuer.jwksUri,
    CELINE_OIDC_AUDIENCE: issuer.audience,
    POLICY_DIR,
    JWKS_COOLDOWN_MS: "0",
    // Both runtimes find a participant's windows in the same Digital Twin fake.
    DIGITAL_TWIN_API_URL: dt.url,
  };
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dt = await startDigitalTwin({ issuer });
  seedMember(dt, "node-alice", "rec-node", "meter-node");
  dt.setCommunityWindows("rec-node", [communityRow(WINDOW.suggestion_id, WINDOW_START, WINDOW_END)]);
  dt.setDeviceWindows("node-alice", [deviceRow(WINDOW_START, WINDOW_END, { reward_points_estimated: 25 })]);
  broker = await testBrokerUrl();
  work = await mkdtemp(join(tmpdir(), "flex-node-"));
  const bundle = await buildNodeBundle(work);
  const bunDb = await databaseEnv();
  const nodeDb = await databaseEnv(join(work, "pgdata"));
  node = await spawnServer("node", [nodeBinary(), bundle], {
    // Run from the bundle's own directory: nothing may come from the repository's node_modules.
    cwd: dirname(bundle),
    env: {
      ...baseEnv(),
      ...nodeDb,
      MIGRATIONS_DIR: MIGRATIONS_FOLDER,
      FLEXIBILITY_CONFIG: DEFAULT_FLEXIBILITY_CONFIG,
      ...relayEnv(broker.url, "node-test"),
      PORT: "0",
      LOG_LEVEL: "info",
    },
    listening: /"msg":"listening","port":(\d+),"runtime":"node v\d+/,
  });
  const env = parseApiEnv({ ...baseEnv(), ...bunDb, LOG_LEVEL: "info" });
  const assembled = await assemble(env, { sink: (r) => bunLogs.push(r) });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: assembled.app.fetch });
  bun = { ...assembled, server };
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await bun?.server.stop(true);
  await bun?.close();
  for (const database of databases) await database.close();
  await broker?.close();
  await dt?.close();
  await issuer?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Keys whose values differ by construction between two databases or two requests. */
const VOLATILE = new Set(["committed_at", "created_at", "request_id"]);

/** The answer without ids and timestamps, so two runtimes can be compared byte for byte. */
function normalise(value: unknown): unknown {
  if (typeof value === "string") return value.replace(UUID, "<uuid>");
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !VOLATILE.has(key))
        .map(([key, v]) => [key, normalise(v)]),
    );
  }
  return value;
}

type Answer = { status: number; contentType: string | null; wwwAuthenticate: string | null; body: unknown };

async function ask(runtime: Runtime, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${runtime.url}${path}`, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: compare the text
  }
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    wwwAuthenticate: response.headers.get("www-authenticate"),
    body,
  };
}

function runtimes(): Runtime[] {
  return [
    { name: "bun", url: `http://127.0.0.1:${bun.server.port}` },
    { name: "node", url: node.url },
  ];
}

/** Sends one request to both runtimes and asserts the answers match (ids and times aside). */
async function same(
  path: string | ((runtime: Runtime) => string),
  init: (runtime: Runtime) => RequestInit = () => ({}),
) {
  const pathOf = typeof path === "string" ? () => path : path;
  const [onBun, onNode] = await Promise.all(runtimes().map((r) => ask(r, pathOf(r), init(r))));
  if (!onBun || !onNode) throw new Error("two runtimes expected");
  const printed = `bun: ${JSON.stringify(onBun)}\nnode: ${JSON.stringify(onNode)}\nnode log:\n${node.output().slice(-2000)}`;
  expect({ ...onNode, body: normalise(onNode.body) }, printed).toEqual({
    ...onBun,
    body: normalise(onBun.body),
  });
  return { onBun, onNode };
}

const bearer = (token: string, more: Record<string, string> = {}) => ({
  headers: { authorization: `Bearer ${token}`, ...more },
});
/** A window the DT publishes for node-alice: tomorrow 09:00–10:00 UTC (real time: the servers' clock). */
const WINDOW_START = new Date(Math.ceil(Date.now() / 86_400_000) * 86_400_000 + 9 * 3_600_000).toISOString();
const WINDOW_END = new Date(Date.parse(WINDOW_START) + 3_600_000).toISOString();
const WINDOW = {
  suggestion_id: "w-node-1",
  period_start: WINDOW_START.replace(".000Z", ""),
  period_end: WINDOW_END.replace(".000Z", "+00:00"),
};

describe("the API under Node 20 (bun build --target=node, @hono/node-server)", () => {
  test("runs on Node 20 or newer", () => {
    const version = /"runtime":"node v(\d+)/.exec(node.output());
    expect(Number(version?.[1]), node.output()).toBeGreaterThanOrEqual(20);
  });

  test("GET /health and /ready answer the same without a token", async () => {
    const health = await same("/health");
    expect(health.onNode.status).toBe(200);
    expect(health.onNode.body).toEqual({ status: "ok" });
    const ready = await same("/ready");
    expect(ready.onNode.status, JSON.stringify(ready.onNode.body)).toBe(200);
  });

  test("a request without a token is the same 401 problem", async () => {
    const { onNode } = await same("/api/commitments");
    expect(onNode.status).toBe(401);
    expect(onNode.contentType).toBe("application/problem+json");
  });

  test("a participant creates, lists and cancels the same way, over REST and tRPC", async () => {
    const token = await issuer.mintParticipant("node-alice");
    const json = { "content-type": "application/json" };
    const created = await same("/api/commitments", () => ({
      method: "POST",
      body: JSON.stringify(WINDOW),
      ...bearer(token, json),
    }));
    expect(created.onNode.status, JSON.stringify(created.onNode.body)).toBe(201);
    expect(created.onNode.body).toMatchObject({
      user_id: "node-alice",
      community_id: "rec-node",
      device_id: "meter-node",
      period_start: WINDOW_START,
      reward_points_estimated: 25,
    });

    const again = await same("/api/commitments", () => ({
      method: "POST",
      body: JSON.stringify(WINDOW),
      ...bearer(token, json),
    }));
    expect(again.onNode.status, JSON.stringify(again.onNode.body)).toBe(409);

    const listed = await same("/api/commitments?limit=10", () => bearer(token));
    expect(listed.onNode.status).toBe(200);
    expect(listed.onNode.body).toMatchObject({ total: 1 });

    const input = encodeURIComponent(JSON.stringify({ limit: 10 }));
    const overTrpc = await same(`/trpc/commitments.list?input=${input}`, () => bearer(token));
    expect(overTrpc.onNode.status).toBe(200);
    expect(overTrpc.onNode.body).toMatchObject({ result: { data: { total: 1 } } });

    // Each runtime cancels its own commitment (the ids differ between the two databases).
    const ids: Record<string, string> = { bun: idIn(created.onBun.body), node: idIn(created.onNode.body) };
    const cancel = (r: Runtime) => `/api/commitments/${ids[r.name]}`;
    const cancelled = await same(cancel, () => ({ method: "DELETE", ...bearer(token) }));
    expect(cancelled.onNode.status).toBe(204);
    const twice = await same(cancel, () => ({ method: "DELETE", ...bearer(token) }));
    expect(twice.onNode.status).toBe(409);
  });

  test("errors are the same problem documents (404 unknown id, 422 invalid body, 415, 404 route)", async () => {
    const token = await issuer.mintParticipant("node-bob");
    const unknown = await same("/api/commitments/6f1f6c36-3c1a-4d0e-9d2b-1b2f3c4d5e6f", () => ({
      method: "DELETE",
      ...bearer(token),
    }));
    expect(unknown.onNode.status).toBe(404);
    expect(unknown.onNode.contentType).toBe("application/problem+json");

    const invalid = await same("/api/commitments", () => ({
      method: "POST",
      body: JSON.stringify({ ...WINDOW, period_end: WINDOW.period_start }),
      ...bearer(token, { "content-type": "application/json" }),
    }));
    expect(invalid.onNode.status).toBe(422);
    expect(JSON.stringify(invalid.onNode.body)).toContain("period_end");

    const notJson = await same("/api/commitments", () => ({
      method: "POST",
      body: "suggestion_id=w1",
      ...bearer(token, { "content-type": "application/x-www-form-urlencoded" }),
    }));
    expect(notJson.onNode.status).toBe(415);

    const noRoute = await same("/api/nothing-here", () => bearer(token));
    expect(noRoute.onNode.status).toBe(404);
  });
});

function idIn(body: unknown): string {
  const id = body && typeof body === "object" && "id" in body ? body.id : null;
  if (typeof id !== "string") throw new Error(`no id in ${JSON.stringify(body)}`);
  return id;
}

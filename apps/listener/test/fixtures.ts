import {
  type CoreConfig,
  type Ctx,
  createLogger,
  createMetrics,
  DEFAULT_CORE_CONFIG,
  type Metrics,
} from "@celine/core";
import type { Database } from "@celine/core/db";
import { createSystemTestCtx, createTestDatabase } from "@celine/core/testing";
import {
  type DigitalTwin,
  type NudgingTool,
  type OidcIssuer,
  type RecRegistry,
  type RegistryCommunity,
  type RegistryMember,
  startDigitalTwin,
  startNudgingTool,
  startOidcIssuer,
  startRecRegistry,
} from "@celine/fakes";
import { type ConfiguredPlatform, createPlatform } from "@celine/platform";
import { PlatformEnv } from "@celine/platform/env";
import mqtt from "mqtt";
import { DEFAULT_FLOWS } from "../src/env.ts";
import { type Listener, type ListenerOptions, startListener } from "../src/listener.ts";

// The world a listener lives in, for tests: a fresh database, the contract fakes of the platform
// services, the real @celine/platform adapters pointed at them, and a topic prefix of its own
// (the real Mosquitto is shared with other test runs).

export const silent = createLogger({ level: process.env.TEST_LOG === "1" ? "debug" : "silent" });

export type World = {
  database: Database;
  issuer: OidcIssuer;
  dt: DigitalTwin;
  nudging: NudgingTool;
  registry: RecRegistry;
  platform: ConfiguredPlatform;
  metrics: Metrics;
  prefix: string;
  config: CoreConfig;
  /** A system-actor ctx over this world (for seeding and verb calls). */
  ctx(now?: () => Date): Ctx;
  close(): Promise<void>;
};

export async function createWorld(): Promise<World> {
  const database = await createTestDatabase();
  const issuer = await startOidcIssuer();
  const [dt, nudging, registry] = await Promise.all([
    startDigitalTwin({ issuer }),
    startNudgingTool({ issuer }),
    startRecRegistry({ issuer }),
  ]);
  const metrics = createMetrics();
  const env = PlatformEnv.parse({
    CELINE_ENV: "dev",
    CELINE_OIDC_BASE_URL: issuer.url,
    CELINE_OIDC_CLIENT_ID: "svc-flexibility",
    CELINE_OIDC_CLIENT_SECRET: "svc-flexibility-secret",
    DIGITAL_TWIN_API_URL: dt.url,
    NUDGING_API_URL: nudging.url,
    REC_REGISTRY_URL: registry.url,
    DT_CLIENT_SCOPE: "digital-twin.read",
    REC_REGISTRY_SCOPE: "rec-registry.read",
  });
  // The listener's relay only sends nudges in these tests; no publisher connection is needed.
  const platform = createPlatform({ env, log: silent, metrics, mqtt: false, timeoutMs: 5_000 });
  const prefix = `test-${crypto.randomUUID().slice(0, 8)}`;
  const config = DEFAULT_CORE_CONFIG;
  return {
    database,
    issuer,
    dt,
    nudging,
    registry,
    platform,
    metrics,
    prefix,
    config,
    ctx: (now) => createSystemTestCtx({ db: database.db, platform, metrics, now }),
    async close() {
      await platform.close();
      await Promise.all([dt.close(), nudging.close(), registry.close()]);
      await issuer.close();
      await database.close();
    },
  };
}

/** A listener in this world on `brokerUrl`; options override the defaults. */
export function startWorldListener(
  world: World,
  brokerUrl: string,
  overrides: Partial<ListenerOptions> = {},
): Promise<Listener> {
  return startListener({
    database: world.database,
    platform: world.platform,
    config: world.config,
    log: silent,
    metrics: overrides.metrics ?? createMetrics(),
    broker: { url: brokerUrl, reconnect: { minMs: 50, maxMs: 500 } },
    topicPrefix: world.prefix,
    flows: DEFAULT_FLOWS,
    http: { port: 0, hostname: "127.0.0.1" },
    relay: { pollMs: 100 },
    drainTimeoutMs: 5_000,
    ...overrides,
  });
}

/** Publish pipeline events the way the platform does (QoS 1, one topic level per flow). */
export async function publishRuns(
  brokerUrl: string,
  prefix: string,
  events: (Record<string, unknown> | string)[],
): Promise<void> {
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: `test-pub-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
  });
  try {
    for (const event of events) {
      const flow = typeof event === "string" ? "garbage" : String(event.flow ?? "unknown");
      const body = typeof event === "string" ? event : JSON.stringify(event);
      await client.publishAsync(`${prefix}/celine/pipelines/runs/${flow}`, body, { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

export function completed(flow: string, runId: string = crypto.randomUUID()): Record<string, unknown> {
  return {
    flow,
    namespace: "rec",
    status: "completed",
    run_id: runId,
    timestamp: new Date().toISOString(),
    duration_ms: 1234,
    error: null,
  };
}

/** Poll until `check` holds (or fail after `timeoutMs`, showing what it last saw). */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!check(last)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last saw ${JSON.stringify(last)}`);
    }
    await Bun.sleep(25);
    last = await probe();
  }
  return last;
}

/** `count` members of a community, every `withoutAccountEvery`-th without an account. */
export function membersOf(community: string, count: number, withoutAccountEvery = 0): RegistryMember[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${community}-m${i}`,
    key: `${community}-m${i}`,
    user_id:
      withoutAccountEvery > 0 && i % withoutAccountEvery === withoutAccountEvery - 1
        ? null
        : `${community}-u${i}`,
    name: `Member ${i}`,
    role: "consumer",
    area: "north",
    status: "active",
  }));
}

export function community(key: string, members: RegistryMember[]): RegistryCommunity {
  return { key, name: key.toUpperCase(), members };
}

/** Forecast rows in the DT's shape: naive UTC datetimes; `kw` per hour from `start`. */
export function forecastRows(start: Date, kw: (number | string | null)[]): Record<string, unknown>[] {
  return kw.map((prediction, i) => ({
    datetime: new Date(start.getTime() + i * 3_600_000).toISOString().slice(0, 19),
    prediction,
    period: "PT1H",
    lower: 0,
    upper: 10,
  }));
}

/** The ingest calls the nudging fake answered, of one scenario. */
export function ingests(nudging: NudgingTool, scenario: string) {
  return nudging.calls.filter(
    (c) =>
      c.path === "/admin/ingest-event" &&
      (c.body as { event_type?: string } | undefined)?.event_type === scenario,
  );
}

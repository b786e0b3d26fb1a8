import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, createMetrics, UpstreamError } from "@celine/core";
import type { DigitalTwin, NudgingTool, OidcIssuer, RecRegistry, TestBroker } from "@celine/fakes";
import {
  startDigitalTwin,
  startNudgingTool,
  startOidcIssuer,
  startRecRegistry,
  testBrokerUrl,
} from "@celine/fakes";
import { PlatformEnv } from "@celine/platform/env";
import mqtt from "mqtt";
import type { ConfiguredPlatform } from "../src/index.ts";
import { createPlatform } from "../src/index.ts";

let issuer: OidcIssuer;
let dt: DigitalTwin;
let nudging: NudgingTool;
let registry: RecRegistry;
let broker: TestBroker;
let platform: ConfiguredPlatform;
const prefix = `test-${crypto.randomUUID().slice(0, 8)}`;
const metrics = createMetrics();

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dt = await startDigitalTwin({ issuer });
  nudging = await startNudgingTool({ issuer });
  registry = await startRecRegistry({ issuer, scope: "rec-registry.read" });
  broker = await testBrokerUrl();
  const brokerUrl = new URL(broker.url);
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
    CELINE_MQTT_HOST: brokerUrl.hostname,
    CELINE_MQTT_PORT: brokerUrl.port,
    CELINE_MQTT_TOPIC_PREFIX: prefix,
  });
  platform = createPlatform({ env, log: createLogger({ level: "silent" }), metrics });
});
afterAll(async () => {
  await platform.close();
  await Promise.all([dt.close(), nudging.close(), registry.close(), broker.close()]);
  await issuer.close();
});

describe("createPlatform", () => {
  test("wires the DT, nudging tool and registry from configuration, sharing one token provider", async () => {
    dt.setMembership("alice", {
      community: { key: "rec-a", name: "REC A" },
      member: { key: "m-1", name: "Alice", role: "consumer", area: "n", status: "active" },
    });
    registry.seed([{ key: "rec-a", name: "REC A", members: [] }]);
    expect((await platform.dt.membership({ kind: "service" }, "alice"))?.community.key).toBe("rec-a");
    const outcome = await platform.nudging.ingest({
      event_type: "flexibility_committed",
      user_id: "alice",
      community_id: "rec-a",
      facts: {
        facts_version: "1.0",
        scenario: "flexibility_committed",
        window_start: "11:00",
        window_end: "14:00",
        reward_points_estimated: "10",
        period: "2026-07-02",
      },
    });
    expect(outcome).toEqual({ kind: "delivered", status: 200 });
    const keys: string[] = [];
    for await (const community of platform.registry.communities()) keys.push(community.key);
    expect(keys).toEqual(["rec-a"]);
    // One discovery for the three services.
    expect(issuer.calls.filter((call) => call.path.endsWith("/openid-configuration"))).toHaveLength(1);
    expect(metrics.value("upstream_requests_total", { upstream: "oidc", outcome: "ok" })).toBeGreaterThan(0);
  });

  test("publishes through the configured broker under CELINE_MQTT_TOPIC_PREFIX", async () => {
    expect(await platform.mqtt?.waitConnected()).toBe(true);
    const subscriber = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const got = new Promise<string>((resolve) => subscriber.on("message", (topic) => resolve(topic)));
      await subscriber.subscribeAsync(`${prefix}/celine/flexibility/committed/+`, { qos: 1 });
      await platform.publisher.publish("celine/flexibility/committed/alice", { user_id: "alice" });
      expect(await got).toBe(`${prefix}/celine/flexibility/committed/alice`);
    } finally {
      await subscriber.endAsync(true);
    }
  });

  test("with mqtt: false there is no broker connection and publishing fails as an upstream error", async () => {
    const env = PlatformEnv.parse({ CELINE_ENV: "dev", CELINE_OIDC_BASE_URL: issuer.url });
    const quiet = createPlatform({ env, log: createLogger({ level: "silent" }), metrics, mqtt: false });
    expect(quiet.mqtt).toBeNull();
    await expect(quiet.publisher.publish("x", {})).rejects.toBeInstanceOf(UpstreamError);
    await quiet.close();
  });
});

import {
  createLogger,
  createMetrics,
  type Logger,
  type Metrics,
  type Platform,
  unconfiguredPlatform,
} from "@celine/core";
import {
  type DigitalTwin,
  type DtRow,
  type NudgingTool,
  type OidcIssuer,
  startDigitalTwin,
  startNudgingTool,
} from "@celine/fakes";
import {
  createDigitalTwinClient,
  createMqttPublisher,
  createNudgingClient,
  createTokenProvider,
  createWebhookSender,
  type MqttPublisher,
  type TokenProvider,
} from "@celine/platform";

// The platform of the suggestion suites: the real adapters (@celine/platform) talking to the
// contract fakes, and optionally to a real broker.

export type PlatformFakes = {
  dt: DigitalTwin;
  nudging: NudgingTool;
  platform: Platform;
  mqtt: MqttPublisher | null;
  metrics: Metrics;
  /** The service's client-credentials tokens from the issuer, for adapters a suite builds itself. */
  tokens: TokenProvider;
  close(): Promise<void>;
};

export async function startPlatformFakes(
  issuer: OidcIssuer,
  {
    mqttUrl,
    topicPrefix = "",
    metrics = createMetrics(),
    log = createLogger({ level: "silent" }),
  }: { mqttUrl?: string; topicPrefix?: string; metrics?: Metrics; log?: Logger } = {},
): Promise<PlatformFakes> {
  const dt = await startDigitalTwin({ issuer });
  const nudging = await startNudgingTool({ issuer });
  const tokens = createTokenProvider({
    issuerUrl: issuer.url,
    clientId: "svc-flexibility",
    clientSecret: "svc-flexibility-secret",
    metrics,
    log,
  });
  const mqtt = mqttUrl
    ? createMqttPublisher({
        url: mqttUrl,
        topicPrefix,
        log,
        metrics,
        // A test broker restarts within seconds; reconnect on that scale.
        reconnectMinMs: 100,
        reconnectMaxMs: 400,
        publishTimeoutMs: 1_000,
        connectTimeoutMs: 1_000,
      })
    : null;
  const platform: Platform = {
    dt: createDigitalTwinClient({ baseUrl: dt.url, tokens, metrics, log, timeoutMs: 2_000, retries: 0 }),
    nudging: createNudgingClient({ baseUrl: nudging.url, tokens, metrics, log, timeoutMs: 2_000 }),
    registry: unconfiguredPlatform.registry,
    publisher: mqtt ?? unconfiguredPlatform.publisher,
    webhooks: createWebhookSender({ metrics, log }),
  };
  return {
    dt,
    nudging,
    platform,
    mqtt,
    metrics,
    tokens,
    async close() {
      await mqtt?.close();
      await Promise.all([dt.close(), nudging.close()]);
    },
  };
}

/** A clock the test moves by hand. */
export function createTestClock(start: string) {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    set(at: string) {
      current = new Date(at).getTime();
    },
    advance(ms: number) {
      current += ms;
    },
  };
}

/** The DT writes instants naive (meaning UTC). */
export function naive(iso: string): string {
  return new Date(iso).toISOString().slice(0, 19);
}

/** A community window row as the DT serves it. */
export function communityRow(
  id: string,
  start: string,
  end: string,
  extra: Partial<Record<string, unknown>> = {},
): DtRow {
  return {
    _id: id,
    ts_date: start.slice(0, 10),
    window_start: naive(start),
    window_end: naive(end),
    community_kwh: 10,
    confidence: 0.7,
    flexibility_model: "v1",
    ...extra,
  };
}

/** A per-device window row as the DT serves it. */
export function deviceRow(start: string, end: string, extra: Partial<Record<string, unknown>> = {}): DtRow {
  return {
    _id: `dev-${start}`,
    window_start: naive(start),
    window_end: naive(end),
    community_kwh: 10,
    estimated_kwh: 1,
    reward_points_estimated: 10,
    confidence: 0.9,
    ...extra,
  };
}

/** Put `sub` in `community`, with a metering device when given. */
export function seedMember(dt: DigitalTwin, sub: string, community: string, device: string | null = "dev-1") {
  dt.setProfile(sub, { sub, email: `${sub}@example.org` });
  dt.setMembership(sub, {
    community: { key: community, name: community },
    member: { key: `m-${sub}`, name: sub, role: "consumer", area: "north", status: "active" },
  });
  dt.setAssets(
    sub,
    device ? [{ asset_type: "meter", key: `a-${sub}`, name: "meter", sensor_id: device }] : [],
  );
}

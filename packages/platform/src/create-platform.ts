import { type Logger, type Metrics, type Platform, UpstreamError } from "@celine/core";
import { createDigitalTwinClient } from "./digital-twin.ts";
import type { PlatformEnv } from "./env.ts";
import type { FetchLike } from "./http.ts";
import type { MqttPublisher } from "./mqtt-publisher.ts";
import { createMqttPublisher } from "./mqtt-publisher.ts";
import { createNudgingClient } from "./nudging.ts";
import { createRegistryClient } from "./registry.ts";
import type { TokenProvider } from "./token-provider.ts";
import { createTokenProvider } from "./token-provider.ts";
import { createWebhookSender } from "./webhooks.ts";

export type PlatformOptions = {
  env: PlatformEnv;
  log: Logger;
  metrics: Metrics;
  fetch?: FetchLike;
  /** Deadline of every HTTP call (ms; default 5 s). */
  timeoutMs?: number;
  /** false: no broker connection in this process; publishing then fails as "not configured". */
  mqtt?: boolean;
};

export type ConfiguredPlatform = Platform & {
  tokens: TokenProvider;
  /** The MQTT publisher, or null when `mqtt: false`. */
  mqtt: MqttPublisher | null;
  /** Disconnects from the broker (HTTP clients hold nothing open). */
  close(): Promise<void>;
};

/** Every adapter wired from configuration (PLATFORM §7), sharing one token provider; and the webhook sender. */
export function createPlatform(opts: PlatformOptions): ConfiguredPlatform {
  const { env, metrics, fetch, timeoutMs } = opts;
  const log = opts.log.child({ component: "platform" });
  const tokens = createTokenProvider({
    issuerUrl: env.CELINE_OIDC_BASE_URL,
    clientId: env.CELINE_OIDC_CLIENT_ID,
    clientSecret: env.CELINE_OIDC_CLIENT_SECRET,
    fetch,
    timeoutMs,
    metrics,
    log,
  });
  const mqtt =
    opts.mqtt === false
      ? null
      : createMqttPublisher({
          host: env.CELINE_MQTT_HOST,
          port: env.CELINE_MQTT_PORT,
          tls: env.CELINE_MQTT_USE_TLS,
          auth: env.CELINE_MQTT_AUTH,
          username: env.CELINE_MQTT_USERNAME,
          password: env.CELINE_MQTT_PASSWORD,
          tokens,
          topicPrefix: env.CELINE_MQTT_TOPIC_PREFIX,
          log,
          metrics,
        });
  return {
    tokens,
    mqtt,
    dt: createDigitalTwinClient({
      baseUrl: env.DIGITAL_TWIN_API_URL,
      tokens,
      scope: env.DT_CLIENT_SCOPE,
      timeoutMs,
      metrics,
      log,
      fetch,
    }),
    nudging: createNudgingClient({
      baseUrl: env.NUDGING_API_URL,
      tokens,
      scope: env.NUDGING_SCOPE,
      timeoutMs,
      metrics,
      log,
      fetch,
    }),
    registry: createRegistryClient({
      baseUrl: env.REC_REGISTRY_URL,
      tokens,
      scope: env.REC_REGISTRY_SCOPE,
      timeoutMs,
      metrics,
      log,
      fetch,
    }),
    publisher: mqtt ?? {
      publish: async () => {
        throw new UpstreamError("mqtt", "no broker connection in this process");
      },
    },
    webhooks: createWebhookSender({ metrics, log, fetch }),
    async close() {
      await mqtt?.close();
    },
  };
}

// `bun run listener`: the pipeline-driven worker, configured from the environment.
import { createLogger, createMetrics } from "@celine/core";
import { openDatabase } from "@celine/core/db";
import { brokerLogin, createPlatform } from "@celine/platform";
import { configOrExit, coreConfigOf } from "@celine/platform/env";
import { parseListenerEnv } from "./env.ts";
import { startListener } from "./listener.ts";

const env = configOrExit(() => parseListenerEnv(process.env), "start");

const log = createLogger({ level: env.LOG_LEVEL, fields: { service: "flexibility-listener" } });
const metrics = createMetrics();
const database = await openDatabase({ url: env.DATABASE_URL, schema: env.DB_SCHEMA });
const platform = createPlatform({ env, log, metrics });

const listener = await startListener({
  database,
  platform,
  config: coreConfigOf(env),
  log,
  metrics,
  broker: {
    url: `${env.CELINE_MQTT_USE_TLS ? "mqtts" : "mqtt"}://${env.CELINE_MQTT_HOST}:${env.CELINE_MQTT_PORT}`,
    clientId: env.LISTENER_CLIENT_ID,
    protocolVersion: env.CELINE_MQTT_PROTOCOL_VERSION,
    login: brokerLogin(
      env.CELINE_MQTT_AUTH === "jwt"
        ? { kind: "jwt", tokens: platform.tokens, scope: env.CELINE_MQTT_SCOPE }
        : { kind: "password", username: env.CELINE_MQTT_USERNAME, password: env.CELINE_MQTT_PASSWORD },
    ),
    reconnect: { minMs: env.LISTENER_RECONNECT_MIN_MS, maxMs: env.LISTENER_RECONNECT_MAX_MS },
  },
  topicPrefix: env.CELINE_MQTT_TOPIC_PREFIX,
  shareGroup: env.LISTENER_SHARE_GROUP,
  flows: env.LISTENER_FLOWS,
  http: { port: env.LISTENER_PORT, metricsToken: env.METRICS_TOKEN },
  relay: { batch: env.OUTBOX_RELAY_BATCH },
  drainTimeoutMs: env.LISTENER_DRAIN_TIMEOUT_MS,
});

let exiting = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (exiting) return;
    exiting = true;
    log.info("stopping", { signal });
    const { drained } = await listener.stop();
    await platform.close();
    await database.close();
    process.exit(drained ? 0 : 1);
  });
}

import { type Logger, type Metrics, settlesWithin } from "@celine/core";
import { connectMqtt, type MqttConnectionState, type MqttLoginSource } from "@celine/platform";
import type { MqttClient } from "mqtt";

// The listener's subscription: the shared MQTT connection (@celine/platform's connectMqtt: back-off,
// a fresh login per attempt, renewal before the login expires) plus subscribing on every connect,
// and pausing (no more PUBACKs) for a clean shutdown.

export type BrokerOptions = {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  clientId: string;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  protocolVersion: 4 | 5;
  /** Clean session (the default): nothing is queued for us at the broker while we are away. */
  clean?: boolean;
  /** Full topic filters (prefix and `$share/<group>/` included), subscribed with QoS 1. */
  topics: string[];
  /** Credentials for each connection attempt (a fresh token for JWT logins). */
  login: MqttLoginSource;
  reconnect: { minMs: number; maxMs: number };
  keepaliveSeconds?: number;
  /** Called for every message; must not throw and must not block (work is tracked elsewhere). */
  onMessage(topic: string, payload: Uint8Array): void;
  log: Logger;
  metrics: Metrics;
};

export type BrokerState = MqttConnectionState | "subscribed";

export type BrokerSubscription = {
  state(): BrokerState;
  /** Connected and subscribed: messages can arrive. */
  ready(): boolean;
  /**
   * Stop taking messages: unsubscribe (best effort), and from now on leave whatever still arrives
   * unacknowledged, so the broker does not count it as delivered to us.
   */
  pause(): Promise<void>;
  /** Disconnect and stop reconnecting. */
  close(): Promise<void>;
};

const UNSUBSCRIBE_TIMEOUT_MS = 2_000;

export function subscribeForever(opts: BrokerOptions): BrokerSubscription {
  const log = opts.log.child({ component: "broker" });
  let closing = false;
  let accepting = true;
  let subscribed = false;

  const connection = connectMqtt({
    url: opts.url,
    clientId: opts.clientId,
    protocolVersion: opts.protocolVersion,
    clean: opts.clean,
    keepaliveSeconds: opts.keepaliveSeconds ?? 30,
    login: opts.login,
    reconnect: opts.reconnect,
    on: {
      connected: (client) => {
        opts.metrics.inc("flexibility_listener_broker_connects_total");
        subscribe(client);
      },
      closed: () => {
        subscribed = false;
      },
      lost: () => opts.metrics.inc("flexibility_listener_broker_disconnects_total"),
    },
    log,
  });
  const { client } = connection;
  client.handleMessage = (packet, done) => {
    // Paused: no PUBACK. The packet stays unacknowledged until we disconnect.
    if (!accepting) return;
    opts.onMessage(
      packet.topic,
      typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload,
    );
    done();
  };

  function subscribe(c: MqttClient): void {
    if (!accepting) return;
    c.subscribe(opts.topics, { qos: 1 }, (error, granted) => {
      if (closing) return;
      const refused = (granted ?? []).filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
      if (error || refused.length > 0) {
        const why = error ? error.message : `subscription refused: ${refused.map((g) => g.topic).join(", ")}`;
        log.error("subscribe failed; reconnecting", { error: why });
        // A refused subscription (ACL, quota) is retried through a fresh connection and login.
        c.end(true);
        return;
      }
      if (c.connected) {
        subscribed = true;
        log.info("subscribed", { topics: opts.topics });
      }
    });
  }

  const state = (): BrokerState =>
    subscribed && connection.state() === "connected" ? "subscribed" : connection.state();

  return {
    state,
    ready: () => state() === "subscribed" && client.connected,
    async pause() {
      accepting = false;
      if (!client.connected) return;
      await settlesWithin(
        new Promise<void>((resolve) => client.unsubscribe(opts.topics, () => resolve())),
        UNSUBSCRIBE_TIMEOUT_MS,
      );
    },
    async close() {
      closing = true;
      accepting = false;
      await connection.close();
    },
  };
}

import { type Logger, type Metrics, type Publisher, UpstreamError } from "@celine/core";
import type { MqttClient } from "mqtt";
import { timeUpstreamCall } from "./http.ts";
import { brokerLogin, connectMqtt, safeUrl } from "./mqtt-connection.ts";
import type { TokenProvider } from "./token-provider.ts";

// The broker side of PLATFORM §6: QoS 1, not retained, a publish that settles on PUBACK or fails
// fast — the outbox relay retries what failed, so nothing here queues or waits for a broker that
// is away. The connection (mqtt-connection.ts, shared with the listener) reconnects forever with
// back-off and, with `auth: "jwt"`, logs in with a fresh client-credentials token on every
// (re)connect and renews it before it expires. Kept apart from the HTTP clients: this needs TCP.

export type MqttPublisherOptions = {
  /** `mqtt://host:port` or `mqtts://…`; otherwise built from host/port/tls. */
  url?: string;
  host?: string;
  port?: number;
  tls?: boolean;
  /** `password`: username/password as given (may be absent). `jwt`: token as username, `jwt` as password. */
  auth?: "password" | "jwt";
  username?: string;
  password?: string;
  /** Required with `auth: "jwt"`. */
  tokens?: TokenProvider;
  /** Scope of the broker token (e.g. `flexibility.committed.write`); unset → the client's default scopes. */
  scope?: string;
  /** `CELINE_MQTT_TOPIC_PREFIX`: prepended to every topic, joined with `/`. */
  topicPrefix?: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  /** Deadline for a PUBACK (ms); the publish rejects after it. */
  publishTimeoutMs?: number;
  /** Deadline for a CONNACK (ms). */
  connectTimeoutMs?: number;
  /** Reconnect backoff: first step and ceiling (ms); doubles per failed attempt, with jitter. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Reconnect with a fresh token this long before the current one expires (jwt only; ms). */
  renewBeforeMs?: number;
  log: Logger;
  metrics: Metrics;
};

export type MqttPublisher = Publisher & {
  connected(): boolean;
  /** Resolves true once connected, false if `timeoutMs` passes first (readiness checks, tests). */
  waitConnected(timeoutMs?: number): Promise<boolean>;
  /** Stops reconnecting, waits for in-flight publishes (bounded by their deadline), disconnects. */
  close(): Promise<void>;
  client: MqttClient;
};

const UPSTREAM = "mqtt";

/**
 * PLATFORM §6: CELINE_MQTT_TOPIC_PREFIX prefixes every topic, joined with exactly one `/`. The one
 * rule for publishing (here), subscribing and routing (the listener) and the demo's pipelines.
 */
export function prefixTopic(prefix: string, topic: string): string {
  const trimmed = prefix.replace(/\/+$/, "");
  return trimmed === "" ? topic : `${trimmed}/${topic.replace(/^\/+/, "")}`;
}

export function createMqttPublisher(opts: MqttPublisherOptions): MqttPublisher {
  const auth = opts.auth ?? "password";
  const { tokens } = opts;
  if (auth === "jwt" && !tokens) throw new Error("createMqttPublisher: auth 'jwt' needs a token provider");
  const url = opts.url ?? `${opts.tls ? "mqtts" : "mqtt"}://${opts.host ?? "localhost"}:${opts.port ?? 1883}`;
  const where = safeUrl(url);
  const publishTimeoutMs = opts.publishTimeoutMs ?? 5_000;
  const pending = new Set<Promise<void>>();
  const connections = (outcome: "connected" | "refused" | "failed") =>
    opts.metrics.inc("upstream_connections_total", { upstream: UPSTREAM, outcome });

  const connection = connectMqtt({
    url,
    clientId: opts.clientId ?? `flexibility-pub-${crypto.randomUUID().slice(0, 8)}`,
    protocolVersion: opts.protocolVersion,
    connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
    login: brokerLogin(
      auth === "jwt" && tokens
        ? { kind: "jwt", tokens, scope: opts.scope }
        : { kind: "password", username: opts.username, password: opts.password },
    ),
    reconnect: { minMs: opts.reconnectMinMs ?? 1_000, maxMs: opts.reconnectMaxMs ?? 30_000 },
    renewBeforeMs: opts.renewBeforeMs,
    // Publishes in flight finish (or time out) before a renewal or close() drops their connection.
    settle: () => Promise.allSettled(pending),
    on: {
      connected: () => connections("connected"),
      closed: () => {
        // In-flight publishes will not get their PUBACK on this connection: fail them now, so the
        // relay retries them, instead of letting them wait for a reconnect that may be far away.
        for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
      },
      error: (_error, refused) => connections(refused ? "refused" : "failed"),
    },
    log: opts.log.child({ upstream: UPSTREAM }),
  });
  const { client } = connection;

  const topicOf = (topic: string) => prefixTopic(opts.topicPrefix ?? "", topic);

  function publishOnce(topic: string, body: string | Buffer): Promise<void> {
    const finish = timeUpstreamCall(opts.metrics, UPSTREAM);
    if (!connection.connected()) {
      finish("network");
      return Promise.reject(new UpstreamError(UPSTREAM, `not connected to ${where}; ${topic} not published`));
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        finish("timeout");
        // Forget the message: no resend of a publish already reported as failed, its message id
        // freed, and nothing left for a graceful disconnect to wait on.
        forgetOutgoing(acknowledged);
        reject(new UpstreamError(UPSTREAM, `no PUBACK for ${topic} within ${publishTimeoutMs} ms`));
      }, publishTimeoutMs);
      const acknowledged = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!error) {
          finish("ok");
          resolve();
          return;
        }
        finish("network");
        const how = error.message === "Message removed" ? "connection lost before PUBACK" : error.message;
        reject(new UpstreamError(UPSTREAM, `publish to ${topic} on ${where} failed: ${how}`));
      };
      client.publish(topic, body, { qos: 1, retain: false }, acknowledged);
    });
  }

  function forgetOutgoing(callback: (error?: Error) => void): void {
    for (const [id, entry] of Object.entries(client.outgoing)) {
      if (entry.cb === callback) client.removeOutgoingMessage(Number(id));
    }
  }

  return {
    client,
    publish(topic, payload) {
      // Payloads are JSON documents (PLATFORM §6); raw bytes pass through untouched.
      const body = payload instanceof Uint8Array ? Buffer.from(payload) : JSON.stringify(payload);
      const delivery = publishOnce(topicOf(topic), body);
      const tracked = delivery.catch(() => undefined);
      pending.add(tracked);
      void tracked.finally(() => pending.delete(tracked));
      return delivery;
    },
    connected: () => connection.connected(),
    waitConnected(timeoutMs = 5_000) {
      if (client.connected) return Promise.resolve(true);
      return new Promise((resolve) => {
        const onConnect = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          client.off("connect", onConnect);
          resolve(false);
        }, timeoutMs);
        client.once("connect", onConnect);
      });
    },
    close: () => connection.close(),
  };
}

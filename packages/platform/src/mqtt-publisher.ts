import { type Logger, type Metrics, type Publisher, UpstreamError } from "@celine/core";
import type { IClientOptions, MqttClient } from "mqtt";
import mqtt from "mqtt";
import type { TokenProvider } from "./token-provider.ts";

// The broker side of PLATFORM §6: QoS 1, not retained, a publish that settles on PUBACK or fails
// fast — the outbox relay retries what failed, so nothing here queues or waits for a broker that
// is away. The connection is ours to keep alive: reconnect forever with backoff, and with
// `auth: "jwt"` log in with a fresh client-credentials token on every (re)connect and reconnect
// before the current token expires. Kept apart from the HTTP clients: this file needs TCP.

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
/** CONNACK codes that mean "your credentials": 3.1.1 bad login / not authorised, 5.0 the same. */
const CREDENTIAL_REFUSALS = new Set([4, 5, 134, 135]);

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
  const reconnectMinMs = opts.reconnectMinMs ?? 1_000;
  const reconnectMaxMs = opts.reconnectMaxMs ?? 30_000;
  const renewBeforeMs = opts.renewBeforeMs ?? 60_000;
  const log = opts.log.child({ upstream: UPSTREAM, broker: where });

  const clientOptions: IClientOptions = {
    protocolVersion: opts.protocolVersion ?? 4,
    clientId: opts.clientId ?? `flexibility-pub-${crypto.randomUUID().slice(0, 8)}`,
    clean: true,
    connectTimeout: opts.connectTimeoutMs ?? 5_000,
    // We reconnect ourselves: the credentials may have to be fetched (async) before each attempt.
    reconnectPeriod: 0,
    manualConnect: true,
    resubscribe: false,
  };
  if (auth === "password") {
    if (opts.username !== undefined) clientOptions.username = opts.username;
    if (opts.password !== undefined) clientOptions.password = opts.password;
  }
  const client = mqtt.connect(url, clientOptions);

  let closed = false;
  let opening = false;
  let renewing = false;
  let failures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let tokenExpiresAt: number | null = null;
  const pending = new Set<Promise<void>>();

  async function applyCredentials(): Promise<void> {
    if (auth !== "jwt" || !tokens) return;
    const token = await tokens.token(opts.scope);
    client.options.username = token;
    client.options.password = "jwt";
    tokenExpiresAt = jwtExpiry(token);
  }

  async function open(first: boolean): Promise<void> {
    retryTimer = undefined;
    if (closed) return;
    opening = true;
    try {
      await applyCredentials();
    } catch (error) {
      opening = false;
      log.warn("no token for the broker login; retrying", { error: messageOf(error) });
      scheduleRetry();
      return;
    }
    opening = false;
    if (closed) return;
    if (first) client.connect();
    else client.reconnect();
  }

  function scheduleRetry(): void {
    if (closed || renewing || opening || retryTimer) return;
    // Equal jitter: at least half the step, so a flapping broker is not hammered.
    const step = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(failures, 20));
    failures += 1;
    const delay = step / 2 + (Math.random() * step) / 2;
    log.debug("broker reconnect scheduled", { in_ms: Math.round(delay), attempt: failures });
    retryTimer = setTimeout(() => void open(false), delay);
  }

  function scheduleRenewal(): void {
    clearTimeout(renewTimer);
    if (auth !== "jwt" || tokenExpiresAt === null) return;
    const remaining = tokenExpiresAt - Date.now();
    const delay = Math.max(1_000, remaining - Math.min(renewBeforeMs, remaining / 4));
    renewTimer = setTimeout(() => void renew(), delay);
  }

  /** A new token, then a clean reconnect with it, while the old one is still valid. */
  async function renew(): Promise<void> {
    if (closed || !client.connected || !tokens) return;
    let fresh: string;
    try {
      tokens.invalidate?.(opts.scope);
      fresh = await tokens.token(opts.scope);
    } catch (error) {
      log.warn("broker token renewal failed; keeping the current login for now", { error: messageOf(error) });
      renewTimer = setTimeout(() => void renew(), 5_000);
      return;
    }
    if (closed) return;
    renewing = true;
    log.info("reconnecting to the broker with a renewed token");
    client.options.username = fresh;
    client.options.password = "jwt";
    tokenExpiresAt = jwtExpiry(fresh);
    await Promise.allSettled(pending);
    await client.endAsync(!client.connected).catch(() => undefined);
    renewing = false;
    if (!closed) client.reconnect();
  }

  client.on("connect", () => {
    failures = 0;
    opts.metrics.inc("upstream_connections_total", { upstream: UPSTREAM, outcome: "connected" });
    log.info("connected to the broker");
    scheduleRenewal();
  });
  client.on("close", () => {
    clearTimeout(renewTimer);
    // In-flight publishes will not get their PUBACK on this connection: fail them now, so the
    // relay retries them, instead of letting them wait for a reconnect that may be far away.
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
    if (closed || renewing) return;
    scheduleRetry();
  });
  client.on("error", (error) => {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "number" && CREDENTIAL_REFUSALS.has(code)) {
      opts.metrics.inc("upstream_connections_total", { upstream: UPSTREAM, outcome: "refused" });
      log.error("broker refused the login", { error: error.message, code });
      if (auth === "jwt") tokens?.invalidate?.(opts.scope);
      return;
    }
    opts.metrics.inc("upstream_connections_total", { upstream: UPSTREAM, outcome: "failed" });
    log.warn("broker connection error", {
      error: error.message,
      code: code === undefined ? null : String(code),
    });
  });

  void open(true);

  const topicOf = (topic: string) => prefixTopic(opts.topicPrefix ?? "", topic);

  function publishOnce(topic: string, body: string | Buffer): Promise<void> {
    const started = performance.now();
    const finish = (outcome: "ok" | "timeout" | "network") => {
      opts.metrics.inc("upstream_requests_total", { upstream: UPSTREAM, outcome });
      opts.metrics.observe("upstream_request_seconds", (performance.now() - started) / 1000, {
        upstream: UPSTREAM,
      });
    };
    if (!client.connected || client.disconnecting || renewing) {
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
    connected: () => client.connected && !renewing,
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
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(renewTimer);
      await Promise.allSettled(pending);
      // A client that never started a connection has no stream to end.
      if (!client.stream) return;
      await client.endAsync(!client.connected).catch(() => undefined);
    },
  };
}

/** The `exp` of a JWT in ms since the epoch, or null when the token is not a readable JWT. */
export function jwtExpiry(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replaceAll("-", "+").replaceAll("_", "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** The broker URL without credentials, for logs and error messages. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

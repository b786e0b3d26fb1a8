import type { Logger, Metrics } from "@celine/core";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

// One MQTT connection that stays subscribed for the life of the process. mqtt.js's own reconnect
// retries at a fixed period with the credentials of the first attempt; here every retry waits a
// little longer (capped, with jitter) and logs in afresh, so a broker that is down at start-up, or
// a JWT that expired while we were away, is retried forever rather than abandoned.

export type BrokerLogin = {
  username?: string;
  password?: string;
  /** When the credentials stop working (ms since the epoch): a JWT's `exp`. Renewed before then. */
  expiresAt?: number | null;
};

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
  login: () => Promise<BrokerLogin>;
  reconnect: { minMs: number; maxMs: number };
  keepaliveSeconds?: number;
  /** Called for every message; must not throw and must not block (work is tracked elsewhere). */
  onMessage(topic: string, payload: Uint8Array): void;
  log: Logger;
  metrics: Metrics;
};

export type BrokerState = "connecting" | "connected" | "subscribed" | "waiting" | "closed";

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
/** Log in again this long before the credentials expire (at most a quarter of what is left). */
const RENEW_BEFORE_MS = 60_000;
const END_TIMEOUT_MS = 2_000;

export function subscribeForever(opts: BrokerOptions): BrokerSubscription {
  const log = opts.log.child({ component: "broker" });
  let client: MqttClient | null = null;
  let state: BrokerState = "connecting";
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let renewing = false;
  let expiresAt: number | null = null;
  let closing = false;
  let accepting = true;
  let lastError: string | null = null;
  let wasConnected = false;

  const base: IClientOptions = {
    clientId: opts.clientId,
    protocolVersion: opts.protocolVersion,
    clean: opts.clean ?? true,
    keepalive: opts.keepaliveSeconds ?? 30,
    connectTimeout: 10_000,
    // Reconnects are ours (backoff, fresh login); mqtt.js must neither retry nor resubscribe.
    reconnectPeriod: 0,
    resubscribe: false,
  };

  function nextDelay(): number {
    const ceiling = Math.min(opts.reconnect.maxMs, opts.reconnect.minMs * 2 ** Math.min(attempt, 20));
    attempt += 1;
    // Full jitter in the upper half: replicas that lost the broker together do not return together.
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  function retryLater(): void {
    if (closing || retryTimer) return;
    state = "waiting";
    const delay = nextDelay();
    log.warn("broker unavailable; retrying", { attempt, delay_ms: delay, error: lastError });
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void open();
    }, delay);
  }

  async function open(prefetched?: BrokerLogin): Promise<void> {
    if (closing) return;
    state = "connecting";
    let login: BrokerLogin;
    try {
      login = prefetched ?? (await opts.login());
    } catch (error) {
      lastError = `broker login: ${error instanceof Error ? error.message : String(error)}`;
      retryLater();
      return;
    }
    if (closing) return;
    const { expiresAt: until = null, ...credentials } = login;
    expiresAt = until;
    if (client) {
      Object.assign(client.options, credentials);
      client.reconnect();
      return;
    }
    client = mqtt.connect(opts.url, { ...base, ...credentials });
    wire(client);
  }

  /** Before the login expires: fetch a new one, then reconnect with it at once (no backoff). */
  function scheduleRenewal(): void {
    clearTimeout(renewTimer);
    if (expiresAt === null) return;
    const remaining = expiresAt - Date.now();
    const delay = Math.max(1_000, remaining - Math.min(RENEW_BEFORE_MS, remaining / 4));
    renewTimer = setTimeout(() => void renew(), delay);
  }

  async function renew(): Promise<void> {
    const c = client;
    if (closing || !c?.connected) return;
    let login: BrokerLogin;
    try {
      login = await opts.login();
    } catch (error) {
      log.warn("broker login renewal failed; trying again", { error });
      renewTimer = setTimeout(() => void renew(), 5_000);
      return;
    }
    if (closing) return;
    log.info("renewing the broker login");
    renewing = true;
    c.end(false, {}, () => {
      renewing = false;
      void open(login);
    });
  }

  function wire(c: MqttClient): void {
    c.handleMessage = (packet, done) => {
      // Paused: no PUBACK. The packet stays unacknowledged until we disconnect.
      if (!accepting) return;
      opts.onMessage(
        packet.topic,
        typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload,
      );
      done();
    };
    c.on("connect", () => {
      attempt = 0;
      lastError = null;
      wasConnected = true;
      state = "connected";
      opts.metrics.inc("flexibility_listener_broker_connects_total");
      log.info("broker connected", { url: opts.url });
      scheduleRenewal();
      subscribe(c);
    });
    c.on("error", (error) => {
      lastError = error.message;
    });
    c.on("close", () => {
      clearTimeout(renewTimer);
      if (closing || renewing) return;
      if (wasConnected) {
        wasConnected = false;
        opts.metrics.inc("flexibility_listener_broker_disconnects_total");
        log.warn("broker connection lost", { error: lastError });
      }
      retryLater();
    });
  }

  function subscribe(c: MqttClient): void {
    if (!accepting) return;
    c.subscribe(opts.topics, { qos: 1 }, (error, granted) => {
      if (closing || c !== client) return;
      const refused = (granted ?? []).filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
      if (error || refused.length > 0) {
        lastError = error ? error.message : `subscription refused: ${refused.map((g) => g.topic).join(", ")}`;
        log.error("subscribe failed; reconnecting", { error: lastError });
        // A refused subscription (ACL, quota) is retried through a fresh connection and login.
        c.end(true);
        return;
      }
      if (c.connected) {
        state = "subscribed";
        log.info("subscribed", { topics: opts.topics });
      }
    });
  }

  void open();

  return {
    state: () => state,
    ready: () => state === "subscribed" && client?.connected === true,
    async pause() {
      accepting = false;
      const c = client;
      if (!c?.connected) return;
      await withTimeout(
        new Promise<void>((resolve) => c.unsubscribe(opts.topics, () => resolve())),
        UNSUBSCRIBE_TIMEOUT_MS,
      );
    },
    async close() {
      closing = true;
      accepting = false;
      clearTimeout(retryTimer);
      clearTimeout(renewTimer);
      state = "closed";
      const c = client;
      if (!c) return;
      const ended = await withTimeout(
        new Promise<void>((resolve) => c.end(false, {}, () => resolve())),
        END_TIMEOUT_MS,
      );
      if (!ended) await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
    },
  };
}

async function withTimeout(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([work.then(() => true as const), timedOut]);
  clearTimeout(timer);
  return result;
}

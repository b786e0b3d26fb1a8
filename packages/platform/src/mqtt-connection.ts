import { backoffDelay, type Logger, messageOf, settlesWithin } from "@celine/core";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { TokenProvider } from "./token-provider.ts";

// One MQTT connection kept alive for the life of the process: under the publisher and under the
// listener's subscription. mqtt.js's own reconnect retries at a fixed period with the credentials
// of the first attempt; here every retry waits a little longer (capped, with jitter) and logs in
// afresh, so a broker that is down at start-up, or a JWT that expired while we were away, is
// retried forever rather than abandoned. A login that expires (a JWT's `exp`) is renewed before it
// does: fresh credentials first, then a clean reconnect with them, without back-off.

/** Credentials for one connection attempt. */
export type MqttLogin = {
  username?: string;
  password?: string;
  /** When the credentials stop working (ms since the epoch): a JWT's `exp`. Renewed before then. */
  expiresAt?: number | null;
};

/**
 * Called before every connection attempt. `fresh`: the broker refused the last credentials, or
 * they are being renewed before they expire, so a cached token must not be handed back.
 */
export type MqttLoginSource = (fresh: boolean) => Promise<MqttLogin>;

export type MqttConnectionState = "connecting" | "connected" | "waiting" | "closed";

export type MqttConnectionOptions = {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  url: string;
  clientId: string;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5. */
  protocolVersion?: 4 | 5;
  /** Clean session (the default): nothing is queued for us at the broker while we are away. */
  clean?: boolean;
  keepaliveSeconds?: number;
  /** Deadline for a CONNACK (ms). */
  connectTimeoutMs?: number;
  login: MqttLoginSource;
  /** Reconnect back-off: first wait and ceiling (ms); doubles per failed attempt, equal jitter. */
  reconnect: { minMs: number; maxMs: number };
  /** Log in again this long before the credentials expire, at most a quarter of what is left (ms). */
  renewBeforeMs?: number;
  /** What to let finish on a connection before a renewal or close() drops it (publishes in flight). */
  settle?: () => Promise<unknown>;
  on?: MqttConnectionEvents;
  log: Logger;
};

/** Hooks for what the publisher and the subscriber each add (metrics, in-flight work, subscribing). */
export type MqttConnectionEvents = {
  /** Every CONNACK: the first, after a retry, after a renewal. */
  connected?(client: MqttClient): void;
  /** Every close of the socket, expected (renewal, close()) or not. */
  closed?(): void;
  /** A connection we had dropped without being asked to (retried with back-off). */
  lost?(): void;
  /** A connection error; `refused` when the broker refused the login itself. */
  error?(error: Error, refused: boolean): void;
};

export type MqttConnection = {
  client: MqttClient;
  state(): MqttConnectionState;
  /** Connected, and not being dropped for a renewal or a close. */
  connected(): boolean;
  /** Stops reconnecting, lets `settle` finish, disconnects (gracefully, forcibly if that stalls). */
  close(): Promise<void>;
};

/** CONNACK codes that mean "your credentials": 3.1.1 bad login / not authorised, 5.0 the same. */
const CREDENTIAL_REFUSALS = new Set([4, 5, 134, 135]);
const RENEW_RETRY_MS = 5_000;
const END_TIMEOUT_MS = 2_000;

export function connectMqtt(opts: MqttConnectionOptions): MqttConnection {
  const log = opts.log.child({ broker: safeUrl(opts.url) });
  const renewBeforeMs = opts.renewBeforeMs ?? 60_000;
  const on = opts.on ?? {};
  const clientOptions: IClientOptions = {
    clientId: opts.clientId,
    protocolVersion: opts.protocolVersion ?? 4,
    clean: opts.clean ?? true,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    // Reconnects are ours (back-off, a fresh login fetched before each attempt); mqtt.js must
    // neither retry nor resubscribe.
    reconnectPeriod: 0,
    manualConnect: true,
    resubscribe: false,
  };
  if (opts.keepaliveSeconds !== undefined) clientOptions.keepalive = opts.keepaliveSeconds;
  const client = mqtt.connect(opts.url, clientOptions);

  let state: MqttConnectionState = "connecting";
  let closed = false;
  let opening = false;
  let renewing = false;
  let started = false;
  let wasConnected = false;
  /** The broker refused the last credentials: the next login must not reuse them. */
  let refused = false;
  let failures = 0;
  let lastError: string | null = null;
  let expiresAt: number | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;

  function useLogin(login: MqttLogin): void {
    const { username, password, expiresAt: until = null } = login;
    if (username === undefined) delete client.options.username;
    else client.options.username = username;
    if (password === undefined) delete client.options.password;
    else client.options.password = password;
    expiresAt = until;
  }

  /** A connection attempt: fresh credentials, then connect (the first time) or reconnect. */
  async function open(): Promise<void> {
    retryTimer = undefined;
    if (closed) return;
    state = "connecting";
    opening = true;
    let login: MqttLogin;
    try {
      login = await opts.login(refused);
    } catch (error) {
      opening = false;
      lastError = `broker login: ${messageOf(error)}`;
      retryLater();
      return;
    }
    opening = false;
    if (closed) return;
    refused = false;
    useLogin(login);
    connect();
  }

  function connect(): void {
    state = "connecting";
    if (started) client.reconnect();
    else {
      started = true;
      client.connect();
    }
  }

  function retryLater(): void {
    if (closed || renewing || opening || retryTimer) return;
    state = "waiting";
    failures += 1;
    const delay = backoffDelay(failures, {
      baseMs: opts.reconnect.minMs,
      maxMs: opts.reconnect.maxMs,
      // At least half the step, so a flapping broker is not hammered; the other half random, so
      // replicas that lost the broker together do not return together.
      jitter: "equal",
    });
    log.warn("broker unavailable; retrying", { attempt: failures, delay_ms: delay, error: lastError });
    retryTimer = setTimeout(() => void open(), delay);
  }

  function scheduleRenewal(): void {
    clearTimeout(renewTimer);
    if (expiresAt === null) return;
    const remaining = expiresAt - Date.now();
    const delay = Math.max(1_000, remaining - Math.min(renewBeforeMs, remaining / 4));
    renewTimer = setTimeout(() => void renew(), delay);
  }

  /** New credentials, then a clean reconnect with them while the old ones are still valid. */
  async function renew(): Promise<void> {
    if (closed || !client.connected) return;
    let login: MqttLogin;
    try {
      login = await opts.login(true);
    } catch (error) {
      log.warn("broker login renewal failed; keeping the current login for now", { error: messageOf(error) });
      renewTimer = setTimeout(() => void renew(), RENEW_RETRY_MS);
      return;
    }
    if (closed) return;
    log.info("reconnecting to the broker with a renewed login");
    renewing = true;
    useLogin(login);
    await opts.settle?.();
    await client.endAsync(!client.connected).catch(() => undefined);
    renewing = false;
    if (!closed) connect();
  }

  client.on("connect", () => {
    failures = 0;
    lastError = null;
    wasConnected = true;
    state = "connected";
    log.info("connected to the broker");
    scheduleRenewal();
    on.connected?.(client);
  });
  client.on("error", (error) => {
    lastError = error.message;
    const code = (error as { code?: unknown }).code;
    const refusal = typeof code === "number" && CREDENTIAL_REFUSALS.has(code);
    if (refusal) {
      refused = true;
      log.error("broker refused the login", { error: error.message, code });
    } else {
      // The retry that follows the close logs it as a warning.
      log.debug("broker connection error", {
        error: error.message,
        code: code === undefined ? null : String(code),
      });
    }
    on.error?.(error, refusal);
  });
  client.on("close", () => {
    clearTimeout(renewTimer);
    on.closed?.();
    if (closed || renewing) return;
    if (wasConnected) {
      wasConnected = false;
      log.warn("broker connection lost", { error: lastError });
      on.lost?.();
    }
    retryLater();
  });

  void open();

  return {
    client,
    state: () => state,
    connected: () => client.connected && !client.disconnecting && !renewing && !closed,
    async close() {
      if (closed) return;
      closed = true;
      state = "closed";
      clearTimeout(retryTimer);
      clearTimeout(renewTimer);
      await opts.settle?.();
      // A client that never started a connection has no stream to end.
      if (!client.stream) return;
      // Gracefully (DISCONNECT, outgoing acknowledged) while connected; forcibly if that stalls.
      const ended = await settlesWithin(client.endAsync(!client.connected), END_TIMEOUT_MS);
      if (!ended) await client.endAsync(true).catch(() => undefined);
    },
  };
}

/**
 * The login for CELINE_MQTT_AUTH (PLATFORM §6). `jwt`: a client-credentials token as username and
 * the literal `jwt` as password, renewed before its `exp`; `password`: the configured pair, as given.
 */
export function brokerLogin(
  auth:
    | { kind: "jwt"; tokens: TokenProvider; scope?: string | undefined }
    | { kind: "password"; username?: string | undefined; password?: string | undefined },
): MqttLoginSource {
  if (auth.kind === "password") {
    const { username, password } = auth;
    return async () => ({ username, password });
  }
  const { tokens, scope } = auth;
  return async (fresh) => {
    if (fresh) tokens.invalidate?.(scope);
    const token = await tokens.token(scope);
    return { username: token, password: "jwt", expiresAt: jwtExpiry(token) };
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
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

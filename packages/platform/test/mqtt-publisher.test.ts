import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, createMetrics, UpstreamError } from "@celine/core";
import type { EmbeddedBroker, OidcIssuer, TestBroker } from "@celine/fakes";
import { startEmbeddedBroker, startOidcIssuer, testBrokerUrl } from "@celine/fakes";
import type { MqttClient } from "mqtt";
import mqtt from "mqtt";
import type { MqttPublisher, MqttPublisherOptions } from "../src/index.ts";
import { createMqttPublisher, createTokenProvider, jwtExpiry } from "../src/index.ts";
import { decodeJwt } from "./jwt.ts";

let broker: TestBroker;
let issuer: OidcIssuer;
const cleanups: (() => Promise<unknown>)[] = [];
const log = createLogger({ level: "silent" });
// The real Mosquitto may be shared with other runs: this file's topics are its own.
const prefix = `test-${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  broker = await testBrokerUrl();
  issuer = await startOidcIssuer();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await broker.close();
  await issuer.close();
});

function publisher(overrides: Partial<MqttPublisherOptions> = {}): MqttPublisher {
  const created = createMqttPublisher({
    url: broker.url,
    topicPrefix: prefix,
    log,
    metrics: createMetrics(),
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    publishTimeoutMs: 2_000,
    ...overrides,
  });
  cleanups.push(() => created.close());
  return created;
}

async function subscriber(
  url: string,
  filter: string,
): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await mqtt.connectAsync(url, { connectTimeout: 2_000, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  const messages: Received[] = [];
  client.on("message", (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}
type Received = { topic: string; payload: string; qos: number; retain: boolean };

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
}

describe("MQTT publisher", () => {
  test("publishes QoS 1, not retained, under the topic prefix, and resolves after PUBACK", async () => {
    const metrics = createMetrics();
    const pub = publisher({ metrics });
    expect(await pub.waitConnected()).toBe(true);
    const { messages } = await subscriber(broker.url, `${prefix}/celine/flexibility/committed/+`);
    const payload = { user_id: "alice", commitment_id: "c-1", reward_points_estimated: 12 };
    await pub.publish("celine/flexibility/committed/alice", payload);
    await until(() => messages.length === 1);
    expect(messages).toEqual([
      {
        topic: `${prefix}/celine/flexibility/committed/alice`,
        payload: JSON.stringify(payload),
        qos: 1,
        retain: false,
      },
    ]);
    expect(metrics.value("upstream_requests_total", { upstream: "mqtt", outcome: "ok" })).toBe(1);
  });

  test("publish rejects at once while the broker is down (nothing waits for it)", async () => {
    const down = await startEmbeddedBroker();
    await down.close();
    const metrics = createMetrics();
    const pub = publisher({ url: down.url, metrics });
    const error = (await pub.publish("celine/x", {}).catch((e: unknown) => e)) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.upstream).toBe("mqtt");
    expect(error.message).toContain(`not connected to ${down.url}`);
    expect(metrics.value("upstream_requests_total", { upstream: "mqtt", outcome: "network" })).toBe(1);
    expect(pub.connected()).toBe(false);
  });

  test("a broker down at start-up is retried until it comes up", async () => {
    const probe = await startEmbeddedBroker();
    await probe.close();
    const pub = publisher({ url: probe.url });
    await Bun.sleep(300); // several failed attempts
    expect(pub.connected()).toBe(false);
    const late = await startEmbeddedBroker({ port: probe.port });
    cleanups.push(() => late.close());
    expect(await pub.waitConnected(3_000)).toBe(true);
    const { messages } = await subscriber(late.url, `${prefix}/late`);
    await pub.publish("late", { ok: true });
    await until(() => messages.length === 1);
  });

  test("reconnects after the broker restarts on the same port, and publishes again", async () => {
    const first = await startEmbeddedBroker();
    const pub = publisher({ url: first.url });
    expect(await pub.waitConnected()).toBe(true);
    await first.close();
    await until(() => !pub.connected());
    await expect(pub.publish("restart", { n: 1 })).rejects.toThrow("not connected");

    const second: EmbeddedBroker = await startEmbeddedBroker({ port: first.port });
    cleanups.push(() => second.close());
    expect(await pub.waitConnected(3_000)).toBe(true);
    const { messages } = await subscriber(second.url, `${prefix}/restart`);
    await pub.publish("restart", { n: 2 });
    await until(() => messages.length === 1);
    expect(messages[0]?.payload).toBe('{"n":2}');
  });

  test("a publish in flight when the connection drops is rejected, not left hanging", async () => {
    // A broker that accepts the login but never acknowledges a publish.
    const mute = await startEmbeddedBroker();
    cleanups.push(() => mute.close());
    mute.aedes.authorizePublish = () => {
      /* never calls back: no PUBACK */
    };
    const connections: { close(): void }[] = [];
    mute.aedes.on("client", (client) => connections.push(client));
    const pub = publisher({ url: mute.url, publishTimeoutMs: 10_000 });
    expect(await pub.waitConnected()).toBe(true);
    const inFlight = pub.publish("stuck", {}).catch((e: unknown) => e);
    await Bun.sleep(50);
    for (const connection of connections) connection.close();
    const error = (await inFlight) as UpstreamError;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toContain("connection lost before PUBACK");
  });

  test("a missing PUBACK rejects after the publish deadline", async () => {
    const mute = await startEmbeddedBroker();
    cleanups.push(() => mute.close());
    mute.aedes.authorizePublish = () => {};
    const metrics = createMetrics();
    const pub = publisher({ url: mute.url, publishTimeoutMs: 100, metrics });
    expect(await pub.waitConnected()).toBe(true);
    await expect(pub.publish("stuck", {})).rejects.toThrow("no PUBACK for");
    expect(metrics.value("upstream_requests_total", { upstream: "mqtt", outcome: "timeout" })).toBe(1);
  });

  // aedes speaks MQTT 3.1.1 only; the real broker (CI's Mosquitto) also speaks 5.0.
  test.skipIf(!process.env.TEST_MQTT_URL)("MQTT 5.0 publishes QoS 1 as well (real broker)", async () => {
    const pub = publisher({ protocolVersion: 5 });
    expect(await pub.waitConnected()).toBe(true);
    const { messages } = await subscriber(broker.url, `${prefix}/v5`);
    await pub.publish("v5", { v: 5 });
    await until(() => messages.length === 1);
    expect(messages[0]).toMatchObject({ payload: '{"v":5}', qos: 1, retain: false });
  });

  test("password auth sends the configured username and password", async () => {
    const logins: { username?: string; password?: string }[] = [];
    const guarded = await startEmbeddedBroker({
      authenticate: (username, password) => {
        logins.push({ username, password });
        return username === "flex" && password === "s3cret";
      },
    });
    cleanups.push(() => guarded.close());
    const pub = publisher({ url: guarded.url, username: "flex", password: "s3cret" });
    expect(await pub.waitConnected()).toBe(true);
    expect(logins).toEqual([{ username: "flex", password: "s3cret" }]);
  });
});

describe("MQTT publisher with jwt broker auth", () => {
  async function jwtBroker(): Promise<{ broker: EmbeddedBroker; logins: string[] }> {
    const logins: string[] = [];
    const guarded = await startEmbeddedBroker({
      authenticate: (username, password) => {
        if (password !== "jwt" || !username) return false;
        const claims = decodeJwt(username);
        const valid =
          claims.iss === issuer.url && typeof claims.exp === "number" && claims.exp * 1000 > Date.now();
        if (valid) logins.push(username);
        return valid;
      },
    });
    cleanups.push(() => guarded.close());
    return { broker: guarded, logins };
  }

  test("logs in with a client-credentials token as username and the literal jwt as password", async () => {
    const { broker: guarded, logins } = await jwtBroker();
    const tokens = createTokenProvider({
      issuerUrl: issuer.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    });
    const pub = publisher({ url: guarded.url, auth: "jwt", tokens, scope: "flexibility.committed.write" });
    expect(await pub.waitConnected()).toBe(true);
    expect(logins).toHaveLength(1);
    expect(decodeJwt(logins[0] ?? "").scope).toBe("flexibility.committed.write");
    await pub.publish("jwt", { ok: true });
  });

  test("reconnects with a fresh token before the current one expires", async () => {
    const shortLived = await startOidcIssuer({ tokenTtlSeconds: 3 });
    cleanups.push(() => shortLived.close());
    const logins: string[] = [];
    const guarded = await startEmbeddedBroker({
      authenticate: (username, password) => {
        const exp = username ? jwtExpiry(username) : null;
        const valid = password === "jwt" && exp !== null && exp > Date.now();
        if (valid && username) logins.push(username);
        return valid;
      },
    });
    cleanups.push(() => guarded.close());
    const tokens = createTokenProvider({
      issuerUrl: shortLived.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    });
    const pub = publisher({ url: guarded.url, auth: "jwt", tokens });
    expect(await pub.waitConnected()).toBe(true);
    // A 3 s token is renewed at three quarters of its life: a second login with a new token.
    await until(() => logins.length >= 2, 5_000);
    expect(logins[1]).not.toBe(logins[0]);
    expect(await pub.waitConnected()).toBe(true);
    await pub.publish("renewed", {});
  });

  test("a refused login invalidates the token, and the next attempt logs in with a new one", async () => {
    let refuseNext = true;
    const seen: string[] = [];
    const guarded = await startEmbeddedBroker({
      authenticate: (username) => {
        if (username) seen.push(username);
        if (refuseNext) {
          refuseNext = false;
          return false;
        }
        return true;
      },
    });
    cleanups.push(() => guarded.close());
    const tokens = createTokenProvider({
      issuerUrl: issuer.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    });
    const pub = publisher({ url: guarded.url, auth: "jwt", tokens });
    expect(await pub.waitConnected(3_000)).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]).not.toBe(seen[0]);
  });
});
